package authority

import (
	"errors"
	"testing"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"

	"github.com/natsauth/natsauth/internal/testkit"
)

// reissue signs a copy of acc's claims, changed by mod, with signer and the
// given iat.
func reissue(t *testing.T, acc *AccountInfo, signer nkeys.KeyPair, iat int64, mod func(*jwt.AccountClaims)) string {
	t.Helper()
	ac, err := jwt.DecodeAccountClaims(acc.JWT)
	if err != nil {
		t.Fatal(err)
	}
	if mod != nil {
		mod(ac)
	}
	tok, err := ac.Encode(signer)
	if err != nil {
		t.Fatal(err)
	}
	return testkit.WithIssuedAt(t, tok, signer, iat)
}

func TestImportAccountJWT(t *testing.T) {
	h := newHome(t)
	a := mustAccount(t, h, "A", AccountEdit{Conns: Int64(5)})
	signer, err := h.OperatorSigner()
	if err != nil {
		t.Fatal(err)
	}
	iat := a.Claims.IssuedAt

	// A newer JWT with another limit replaces the home's copy.
	newer := reissue(t, a, signer, iat+10, func(ac *jwt.AccountClaims) { ac.Limits.Conn = 7 })
	got, changed, err := h.ImportAccountJWT(newer + "\n")
	if err != nil || !changed {
		t.Fatalf("import newer: changed=%v err=%v, want true, nil", changed, err)
	}
	if got.Name != "A" || got.JWT != newer || got.Claims.Limits.Conn != 7 {
		t.Errorf("import returned %s %d, want A with conn 7", got.Name, got.Claims.Limits.Conn)
	}
	reread, err := h.Account("A")
	if err != nil {
		t.Fatal(err)
	}
	if reread.JWT != newer {
		t.Fatal("home does not hold the imported JWT")
	}

	// The same JWT again changes nothing.
	before := testkit.TreeHash(t, h.Dir())
	if _, changed, err := h.ImportAccountJWT(newer); err != nil || changed {
		t.Fatalf("import same: changed=%v err=%v, want false, nil", changed, err)
	}

	other := testkit.NewOperator(t)
	foreign := other.NewAccount(t, "F", nil)
	selfSigned := reissue(t, a, mustAccountKey(t, h, a.Pub), iat+20, nil)
	unknownKP, _ := nkeys.CreateAccount()
	unknownPub, _ := unknownKP.PublicKey()
	unknown, err := jwt.NewAccountClaims(unknownPub).Encode(signer)
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name  string
		token string
		want  error
	}{
		{"older", reissue(t, a, signer, iat-10, func(ac *jwt.AccountClaims) { ac.Limits.Conn = 1 }), ErrStale},
		{"same iat, other content", reissue(t, a, signer, iat+10, func(ac *jwt.AccountClaims) { ac.Limits.Conn = 9 }), ErrStale},
		{"garbage", "not a jwt", ErrInvalid},
		{"foreign operator", foreign.JWT, ErrInvalid},
		{"self-signed", selfSigned, ErrInvalid},
		{"not in the home", unknown, ErrNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, changed, err := h.ImportAccountJWT(tc.token)
			if !errors.Is(err, tc.want) || changed {
				t.Fatalf("changed=%v err=%v, want an error wrapping %v", changed, err, tc.want)
			}
			if after := testkit.TreeHash(t, h.Dir()); after != before {
				t.Fatal("a refused import changed the home")
			}
		})
	}
}

func mustAccountKey(t *testing.T, h *Home, pub string) nkeys.KeyPair {
	t.Helper()
	kp, err := h.AccountSigner(pub)
	if err != nil {
		t.Fatal(err)
	}
	return kp
}
