package jwtpeek

import (
	"encoding/base64"
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
	for _, bad := range []string{``, `[]`, `{"sub":}`, `{"sub":"x"`, `{"iat":1.5,"nats":{}}`, `{"sub":"\x"}`, `{"sub":"x"}`,
		`{"nats":{},"iat":1,"sub":"x"}`, `{"sub":"x","nats":{}}`, `{"iat":1,"nats":{}}`} {
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

// Claims scans a payload the jwt library wrote and decodes any other in
// full; a token that is no JWT gives nothing.
func TestClaims(t *testing.T) {
	enc := func(payload string) string {
		return "eyJhbGciOiJlZDI1NTE5LW5rZXkifQ." + base64.RawURLEncoding.EncodeToString([]byte(payload)) + ".sig"
	}
	for _, tc := range []struct {
		name, tok string
		want      Header
		ok        bool
	}{
		{"as jwt writes it", enc(`{"exp":9,"jti":"J","iat":7,"iss":"I","sub":"S","nats":{"x":1}}`),
			Header{ID: "J", Issuer: "I", Subject: "S", IssuedAt: 7, Expires: 9}, true},
		{"nats first", enc(`{"nats":{"x":1},"iat":7,"jti":"J","sub":"S"}`), Header{ID: "J", Subject: "S", IssuedAt: 7}, true},
		{"no nats", enc(`{"iat":7,"jti":"J"}`), Header{ID: "J", IssuedAt: 7}, true},
		{"not JSON", enc(`not json`), Header{}, false},
		{"not a JWT", "abc", Header{}, false},
	} {
		got, ok := Claims(tc.tok)
		if ok != tc.ok || got != tc.want {
			t.Errorf("%s: %+v %v, want %+v %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}
