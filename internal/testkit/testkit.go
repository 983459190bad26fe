// Package testkit builds operators, accounts and users with real keys and
// signed JWTs for tests, without touching a home directory.
package testkit

import (
	"crypto/sha512"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"

	"github.com/natsauth/natsauth/trust"
)

// Operator is a test operator with one signing key and a system account.
type Operator struct {
	KP        nkeys.KeyPair
	Pub       string
	SigningKP nkeys.KeyPair
	Claims    *jwt.OperatorClaims
	JWT       string
	System    *Account
}

// Account is a test account signed by its operator's signing key.
type Account struct {
	Op     *Operator
	KP     nkeys.KeyPair
	Pub    string
	Claims *jwt.AccountClaims
	JWT    string
}

// User is a test user with creds.
type User struct {
	KP     nkeys.KeyPair
	Pub    string
	Claims *jwt.UserClaims
	JWT    string
	Creds  []byte
}

// NewOperator creates an operator with a signing key and a SYS account.
func NewOperator(t testing.TB) *Operator {
	t.Helper()
	kp := must(t, nkeys.CreateOperator)
	skp := must(t, nkeys.CreateOperator)
	pub := pubKey(t, kp)
	o := &Operator{KP: kp, Pub: pub, SigningKP: skp}
	sys := o.newAccount(t, "SYS", nil)
	o.System = sys
	oc := jwt.NewOperatorClaims(pub)
	oc.Name = "TestOperator"
	oc.SigningKeys.Add(pubKey(t, skp))
	oc.SystemAccount = sys.Pub
	tok, err := oc.Encode(kp)
	if err != nil {
		t.Fatalf("encode operator: %v", err)
	}
	o.Claims, o.JWT = oc, tok
	return o
}

// Policy returns the trust policy for this operator.
func (o *Operator) Policy() *trust.Policy { return trust.FromOperators(o.Claims) }

// NewAccount creates an account signed by the operator signing key; mod may
// adjust its claims (limits, JetStream) before signing.
func (o *Operator) NewAccount(t testing.TB, name string, mod func(*jwt.AccountClaims)) *Account {
	t.Helper()
	return o.newAccount(t, name, mod)
}

func (o *Operator) newAccount(t testing.TB, name string, mod func(*jwt.AccountClaims)) *Account {
	t.Helper()
	kp := must(t, nkeys.CreateAccount)
	a := &Account{Op: o, KP: kp, Pub: pubKey(t, kp)}
	ac := jwt.NewAccountClaims(a.Pub)
	ac.Name = name
	if mod != nil {
		mod(ac)
	}
	a.Claims = ac
	a.JWT = a.sign(t, ac, 0)
	return a
}

// Reissue applies mod to a copy of the account's claims and signs it with
// an issued-at of iat (unix seconds; 0 means now). The account keeps the new
// JWT. Use iat to make JWTs that are older or newer than one stored.
func (a *Account) Reissue(t testing.TB, iat int64, mod func(*jwt.AccountClaims)) string {
	t.Helper()
	ac, err := jwt.DecodeAccountClaims(a.JWT)
	if err != nil {
		t.Fatalf("decode account: %v", err)
	}
	if mod != nil {
		mod(ac)
	}
	a.Claims = ac
	a.JWT = a.sign(t, ac, iat)
	return a.JWT
}

// SignWith signs the account's current claims with another key (for
// wrong-signer tests), returning the JWT without keeping it.
func (a *Account) SignWith(t testing.TB, kp nkeys.KeyPair) string {
	t.Helper()
	ac, err := jwt.DecodeAccountClaims(a.JWT)
	if err != nil {
		t.Fatalf("decode account: %v", err)
	}
	tok, err := ac.Encode(kp)
	if err != nil {
		t.Fatalf("encode account: %v", err)
	}
	return tok
}

func (a *Account) sign(t testing.TB, ac *jwt.AccountClaims, iat int64) string {
	t.Helper()
	tok, err := ac.Encode(a.Op.SigningKP)
	if err != nil {
		t.Fatalf("encode account: %v", err)
	}
	if iat != 0 {
		tok = WithIssuedAt(t, tok, a.Op.SigningKP, iat)
	}
	return tok
}

// NewUser creates a user signed by the account identity key.
func (a *Account) NewUser(t testing.TB, name string, mod func(*jwt.UserClaims)) *User {
	t.Helper()
	kp := must(t, nkeys.CreateUser)
	u := &User{KP: kp, Pub: pubKey(t, kp)}
	uc := jwt.NewUserClaims(u.Pub)
	uc.Name = name
	if mod != nil {
		mod(uc)
	}
	tok, err := uc.Encode(a.KP)
	if err != nil {
		t.Fatalf("encode user: %v", err)
	}
	seed, err := kp.Seed()
	if err != nil {
		t.Fatalf("seed: %v", err)
	}
	creds, err := jwt.FormatUserConfig(tok, seed)
	if err != nil {
		t.Fatalf("format creds: %v", err)
	}
	u.Claims, u.JWT, u.Creds = uc, tok, creds
	return u
}

// CredsFile writes the user's creds into a 0600 file under t.TempDir().
func (u *User) CredsFile(t testing.TB) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), u.Claims.Name+".creds")
	if err := os.WriteFile(p, u.Creds, 0o600); err != nil {
		t.Fatalf("write creds: %v", err)
	}
	return p
}

// WithIssuedAt rewrites a signed JWT's iat (and jti) and re-signs it with kp.
func WithIssuedAt(t testing.TB, token string, kp nkeys.KeyPair, iat int64) string {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a jwt: %q", token)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("decode payload: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("unmarshal payload: %v", err)
	}
	m["iat"] = iat
	m["jti"] = ""
	j, _ := json.Marshal(m)
	sum := sha512.Sum512_256(j)
	m["jti"] = base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:])
	j, _ = json.Marshal(m)
	toSign := parts[0] + "." + base64.RawURLEncoding.EncodeToString(j)
	sig, err := kp.Sign([]byte(toSign))
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return toSign + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func must(t testing.TB, f func() (nkeys.KeyPair, error)) nkeys.KeyPair {
	t.Helper()
	kp, err := f()
	if err != nil {
		t.Fatalf("create key: %v", err)
	}
	return kp
}

func pubKey(t testing.TB, kp nkeys.KeyPair) string {
	t.Helper()
	p, err := kp.PublicKey()
	if err != nil {
		t.Fatalf("public key: %v", err)
	}
	return p
}
