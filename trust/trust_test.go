package trust_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"

	"github.com/natsauth/natsauth/internal/testkit"
	"github.com/natsauth/natsauth/trust"
)

func TestCheckAccount(t *testing.T) {
	op := testkit.NewOperator(t)
	other := testkit.NewOperator(t)
	acc := op.NewAccount(t, "A", nil)
	b := op.NewAccount(t, "B", nil)
	expired := op.NewAccount(t, "E", func(ac *jwt.AccountClaims) { ac.Expires = time.Now().Add(-time.Hour).Unix() })
	notYet := op.NewAccount(t, "N", func(ac *jwt.AccountClaims) { ac.NotBefore = time.Now().Add(time.Hour).Unix() })
	user := acc.NewUser(t, "u", nil)
	strictClaims := *op.Claims
	strictClaims.StrictSigningKeyUsage = true
	strict := trust.FromOperators(&strictClaims)

	tests := []struct {
		name   string
		policy *trust.Policy
		key    string
		token  string
		want   []string // substrings, one per expected problem, all reported at once
	}{
		{name: "signing key", policy: op.Policy(), key: acc.Pub, token: acc.JWT},
		{name: "operator identity key", policy: op.Policy(), key: acc.Pub, token: acc.SignWith(t, op.KP)},
		{name: "surrounding whitespace", policy: op.Policy(), key: acc.Pub, token: "\n" + acc.JWT + "\n"},
		{name: "strict: signing key", policy: strict, key: acc.Pub, token: acc.JWT},
		{name: "strict: identity key", policy: strict, key: acc.Pub, token: acc.SignWith(t, op.KP),
			want: []string{"requires signing keys"}},
		{name: "subject mismatch", policy: op.Policy(), key: b.Pub, token: acc.JWT,
			want: []string{"does not match key"}},
		{name: "untrusted signing key", policy: op.Policy(), key: acc.Pub, token: acc.SignWith(t, other.SigningKP),
			want: []string{"is not the trusted operator"}},
		{name: "untrusted operator", policy: op.Policy(), key: acc.Pub, token: acc.SignWith(t, other.KP),
			want: []string{"is not the trusted operator"}},
		{name: "self-signed", policy: op.Policy(), key: acc.Pub, token: acc.SignWith(t, acc.KP),
			want: []string{"self-signed"}},
		{name: "no policy", policy: nil, key: acc.Pub, token: acc.JWT,
			want: []string{"no trusted operator"}},
		{name: "expired", policy: op.Policy(), key: expired.Pub, token: expired.JWT,
			want: []string{"expired"}},
		{name: "not yet valid", policy: op.Policy(), key: notYet.Pub, token: notYet.JWT,
			want: []string{"not yet valid"}},
		{name: "empty", policy: op.Policy(), key: acc.Pub, token: "  ", want: []string{"empty"}},
		{name: "garbage", policy: op.Policy(), key: acc.Pub, token: "garbage", want: []string{"does not decode"}},
		{name: "user jwt", policy: op.Policy(), key: acc.Pub, token: user.JWT, want: []string{"does not decode"}},
		{name: "operator jwt", policy: op.Policy(), key: acc.Pub, token: op.JWT, want: []string{"does not decode"}},
		{name: "too big", policy: op.Policy(), key: acc.Pub, token: strings.Repeat("a", trust.MaxJWTSize+1),
			want: []string{"over the"}},
		{name: "bad signature", policy: op.Policy(), key: acc.Pub,
			token: testkit.WithIssuedAt(t, acc.JWT, other.SigningKP, 5), want: []string{"does not decode"}},
		// Several problems at once are all reported.
		{name: "bad key and mismatch and untrusted", policy: op.Policy(), key: "../x",
			token: acc.SignWith(t, other.SigningKP),
			want:  []string{"not an account public key", "does not match key", "is not the trusted operator"}},
		{name: "user key, self-signed, expired", policy: op.Policy(), key: user.Pub,
			token: expired.SignWith(t, expired.KP),
			want:  []string{"not an account public key", "does not match", "self-signed", "expired"}},
		{name: "bad key and too big", policy: op.Policy(), key: "",
			token: strings.Repeat("a", trust.MaxJWTSize+1),
			want:  []string{"not an account public key", "over the"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ac, err := tc.policy.CheckAccount(tc.key, tc.token)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if ac == nil || ac.Subject != tc.key {
					t.Fatalf("claims = %+v, want subject %s", ac, tc.key)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted, want refused")
			}
			if ac != nil {
				t.Error("claims returned along with an error")
			}
			if !errors.Is(err, trust.ErrInvalid) {
				t.Errorf("err %v does not wrap ErrInvalid", err)
			}
			var verr *trust.ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("err %T is not a *ValidationError", err)
			}
			if got, want := len(verr.Problems), len(tc.want); got != want {
				t.Errorf("%d problems, want %d: %q", got, want, verr.Problems)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestCheckAccountKey(t *testing.T) {
	op := testkit.NewOperator(t)
	acc := op.NewAccount(t, "A", nil)
	if err := trust.CheckAccountKey(acc.Pub); err != nil {
		t.Fatalf("valid key refused: %v", err)
	}
	for _, k := range []string{"", "../x", op.Pub, acc.NewUser(t, "u", nil).Pub, acc.Pub + "x",
		strings.ToLower(acc.Pub), "A\x00\n\x1b[31m" + strings.Repeat("A", 200)} {
		err := trust.CheckAccountKey(k)
		if !errors.Is(err, trust.ErrInvalid) {
			t.Fatalf("CheckAccountKey(%q) = %v, want ErrInvalid", k, err)
		}
		// Untrusted input is quoted and shortened in messages.
		if msg := err.Error(); strings.ContainsAny(msg, "\x00\n\x1b") || len(msg) > 200 {
			t.Fatalf("message carries raw input: %q", msg)
		}
	}
}

func TestPolicy(t *testing.T) {
	op := testkit.NewOperator(t)
	p := op.Policy()
	skp, _ := op.SigningKP.PublicKey()
	if !p.Trusted(op.Pub) || !p.Trusted(skp) {
		t.Fatal("operator keys not trusted")
	}
	if !p.IsOperatorKey(op.Pub) || !p.IsOperatorKey(skp) || p.IsOperatorKey(op.System.Pub) {
		t.Fatal("IsOperatorKey wrong")
	}
	if got := p.SystemAccount(); got != op.System.Pub {
		t.Fatalf("SystemAccount = %s, want %s", got, op.System.Pub)
	}
	if ops := p.Operators(); len(ops) != 1 || ops[0] != op.Pub {
		t.Fatalf("Operators = %v", ops)
	}
	var nilPolicy *trust.Policy
	if nilPolicy.Trusted(op.Pub) || nilPolicy.IsOperatorKey(op.Pub) || nilPolicy.SystemAccount() != "" {
		t.Fatal("nil policy trusts something")
	}
	if _, err := trust.FromOperatorJWTs(); err == nil {
		t.Fatal("FromOperatorJWTs() with nothing succeeded")
	}
	if _, err := trust.FromOperatorJWTs("garbage"); err == nil {
		t.Fatal("FromOperatorJWTs(garbage) succeeded")
	}
	p2, err := trust.FromOperatorJWTs(" " + op.JWT + "\n")
	if err != nil || !p2.Trusted(skp) {
		t.Fatalf("FromOperatorJWTs: %v", err)
	}
}

func FuzzCheckAccount(f *testing.F) {
	op := testkit.NewOperator(f)
	acc := op.NewAccount(f, "A", nil)
	p := op.Policy()
	f.Add(acc.Pub, acc.JWT)
	f.Add(acc.Pub, acc.SignWith(f, acc.KP))
	f.Add("../x", acc.JWT)
	f.Add(acc.Pub, "a.b.c")
	f.Add("", "")
	f.Add(acc.Pub, acc.JWT[:len(acc.JWT)/2])
	f.Fuzz(func(t *testing.T, key, token string) {
		ac, err := p.CheckAccount(key, token)
		if err != nil {
			if ac != nil || !errors.Is(err, trust.ErrInvalid) {
				t.Fatalf("refusal %v with claims %v or not ErrInvalid", err, ac)
			}
			return
		}
		// Whatever is accepted is a valid account JWT for key, signed by a
		// trusted key.
		if !nkeys.IsValidPublicAccountKey(key) || ac.Subject != key || !p.Trusted(ac.Issuer) {
			t.Fatalf("accepted key %q subject %q issuer %q", key, ac.Subject, ac.Issuer)
		}
	})
}
