package accountserver_test

import (
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"

	"github.com/natsauth/natsauth/accountserver"
)

// activation signs an activation of subject for target with kp.
func activation(t *testing.T, kp nkeys.KeyPair, issuerAccount, target, subject string, exp time.Time) (string, string) {
	t.Helper()
	ac := jwt.NewActivationClaims(target)
	ac.ImportSubject = jwt.Subject(subject)
	ac.ImportType = jwt.Stream
	ac.IssuerAccount = issuerAccount
	if !exp.IsZero() {
		ac.Expires = exp.Unix()
	}
	tok, err := ac.Encode(kp)
	if err != nil {
		t.Fatal(err)
	}
	hash, err := ac.HashID()
	if err != nil {
		t.Fatal(err)
	}
	return tok, hash
}

// Activation tokens pushed by generate activation --push are kept and
// served back by hash — those signed by an account of the store only.
func TestActivations(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, func(o *accountserver.Options) {
		acts, err := accountserver.NewDirActivations(dir)
		if err != nil {
			t.Fatal(err)
		}
		o.Activations = acts
	})
	a := e.op.NewAccount(t, "A", nil)
	e.put(t, a, a.JWT)
	target := e.op.NewAccount(t, "C", nil)
	good, hash := activation(t, a.KP, "", target.Pub, "feed.>", time.Time{})
	if r := e.do(t, request{method: "POST", path: "/jwt/v1/activations", body: strings.NewReader(good)}); r.status != 200 {
		t.Fatalf("POST a good activation: %d %s", r.status, r.body)
	}
	if r := e.do(t, request{path: "/jwt/v1/activations/" + hash}); r.status != 200 || r.body != good {
		t.Fatalf("GET it back: %d %q", r.status, r.body)
	}
	// A second server over the same directory serves it too (kept on disk).
	acts, _ := accountserver.NewDirActivations(dir)
	if tok, err := acts.Get(t.Context(), hash); err != nil || tok != good {
		t.Fatalf("from the directory: %v", err)
	}

	stranger, _ := nkeys.CreateAccount()
	foreign, _ := activation(t, stranger, "", target.Pub, "feed.>", time.Time{})
	byWrongKey, _ := activation(t, stranger, a.Pub, target.Pub, "feed.>", time.Time{})
	expired, _ := activation(t, a.KP, "", target.Pub, "feed.>", time.Now().Add(-time.Hour))
	for _, tc := range []struct {
		name, body, want string
	}{
		{"not a JWT", "garbage", "not an activation token"},
		{"an account the store does not keep", foreign, "is not an account this server keeps"},
		{"a key the account does not list", byWrongKey, "is not a key of account"},
		{"expired", expired, "invalid activation"},
	} {
		r := e.do(t, request{method: "POST", path: "/jwt/v1/activations", body: strings.NewReader(tc.body)})
		if r.status != 400 || !strings.Contains(r.body, tc.want) {
			t.Errorf("%s: %d %s, want 400 naming %q", tc.name, r.status, r.body, tc.want)
		}
	}
	if r := e.do(t, request{path: "/jwt/v1/activations/NOTAHASH!"}); r.status != 400 {
		t.Errorf("a bad hash: %d", r.status)
	}
	if r := e.do(t, request{path: "/jwt/v1/activations/" + strings.Repeat("A", 52)}); r.status != 404 {
		t.Errorf("an unknown hash: %d", r.status)
	}
}
