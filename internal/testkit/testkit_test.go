package testkit

import (
	"testing"

	"github.com/nats-io/jwt/v2"
)

func TestReissueOlderDecodesAndKeepsSignature(t *testing.T) {
	op := NewOperator(t)
	acc := op.NewAccount(t, "A", nil)
	old := acc.Reissue(t, 1000, nil)
	ac, err := jwt.DecodeAccountClaims(old)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if got, want := ac.IssuedAt, int64(1000); got != want {
		t.Fatalf("iat = %d, want %d", got, want)
	}
	if _, err := op.Policy().CheckAccount(acc.Pub, old); err != nil {
		t.Fatalf("policy refused rewritten jwt: %v", err)
	}
}
