package jwtpeek

import (
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
)

func pub(t *testing.T, kp nkeys.KeyPair) string {
	t.Helper()
	p, err := kp.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Scan reads what json would, or says it cannot.
func TestScanUser(t *testing.T) {
	u, _ := nkeys.CreateUser()
	a, _ := nkeys.CreateAccount()
	uc := jwt.NewUserClaims(pub(t, u))
	uc.Name, uc.Audience = `a "quoted" name \ with <escapes>`, "aud"
	uc.Expires = time.Now().Add(time.Hour).Unix()
	tok, err := uc.Encode(a)
	if err != nil {
		t.Fatal(err)
	}
	dec, _ := jwt.DecodeUserClaims(tok)
	sameHeader(t, tok, dec.ClaimsData)
	for _, bad := range []string{``, `[]`, `{"sub":}`, `{"sub":"x"`, `{"iat":1.5,"nats":{}}`, `{"sub":"\x"}`, `{"sub":"x"}`} {
		if _, ok := Scan([]byte(bad)); ok {
			t.Errorf("Scan(%q) is ok", bad)
		}
	}
	for _, bad := range []string{"", "a.b", "a.!!.c"} {
		if _, err := Payload(bad); err == nil {
			t.Errorf("Payload(%q) is ok", bad)
		}
	}
}

// An account with hundreds of revocations: the header is read without the
// rest, and says the same as a full decode.
func TestScanLargeAccount(t *testing.T) {
	op, _ := nkeys.CreateOperator()
	a, _ := nkeys.CreateAccount()
	ac := jwt.NewAccountClaims(pub(t, a))
	ac.Expires = time.Now().Add(24 * time.Hour).Unix()
	for range 300 {
		u, _ := nkeys.CreateUser()
		ac.Revoke(pub(t, u))
	}
	tok, err := ac.Encode(op)
	if err != nil {
		t.Fatal(err)
	}
	dec, _ := jwt.DecodeAccountClaims(tok)
	sameHeader(t, tok, dec.ClaimsData)
}

// sameHeader checks that Scan reads from tok what a full decode did.
func sameHeader(t *testing.T, tok string, want jwt.ClaimsData) {
	t.Helper()
	p, err := Payload(tok)
	if err != nil {
		t.Fatal(err)
	}
	h, ok := Scan(p)
	if !ok || h.Subject != want.Subject || h.Issuer != want.Issuer || h.ID != want.ID || h.IssuedAt != want.IssuedAt ||
		h.Aud != want.Audience || h.Expires != want.Expires {
		t.Fatalf("header %+v (%v), claims %+v", h, ok, want)
	}
}
