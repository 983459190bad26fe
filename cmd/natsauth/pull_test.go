package main

import (
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"

	"github.com/natsauth/natsauth/accountserver"
	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/claims"
	"github.com/natsauth/natsauth/internal/testkit"
	"github.com/natsauth/natsauth/manage"
	"github.com/natsauth/natsauth/store"
	"github.com/natsauth/natsauth/store/mem"
)

// copyHome copies a home (a second administrator with the same keys),
// with its own in-memory store.
func copyHome(t *testing.T, c *cliHome) *cliHome {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "home2")
	if out, err := exec.Command("cp", "-a", c.dir, dst).CombinedOutput(); err != nil {
		t.Fatalf("copy home: %v: %s", err, out)
	}
	return &cliHome{t: t, dir: dst, store: "mem://"}
}

// bumpAccount gives the home a newer JWT of an account, changed by mod and
// issued 10 s after the current one (an edit in the same second would not
// be newer).
func bumpAccount(t *testing.T, c *cliHome, name string, mod func(*jwt.AccountClaims)) {
	t.Helper()
	h, err := authority.Open(c.dir)
	if err != nil {
		t.Fatal(err)
	}
	a, err := h.Account(name)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := h.OperatorSigner()
	if err != nil {
		t.Fatal(err)
	}
	mod(a.Claims)
	tok, err := a.Claims.Encode(signer)
	if err != nil {
		t.Fatal(err)
	}
	tok = testkit.WithIssuedAt(t, tok, signer, a.Claims.IssuedAt+10)
	if _, changed, err := h.ImportAccountJWT(tok); err != nil || !changed {
		t.Fatalf("bump account %s: %v", name, err)
	}
}

// `natsauth pull` from a stock full-resolver server: a newer JWT (pushed
// by another administrator) replaces the home's copy and is published to
// the store; an older one never does; an invalid one is refused.
func TestPullFromStockFullResolver(t *testing.T) {
	c := interopHome(t)
	c.must("add", "account", "-n", "A")
	s := startStockServer(t, interopConfig(t, c, "--resolver", "full", "--dir", filepath.Join(t.TempDir(), "jwt")))
	url := s.ClientURL()
	c.must("push", "-A", "--server", url, "--timeout", "1s")

	other := copyHome(t, c)
	bumpAccount(t, other, "A", func(ac *jwt.AccountClaims) { ac.Limits.Conn = 7 })
	other.must("push", "-a", "A", "--server", url, "--timeout", "1s")

	out := c.must("pull", "-A", "--server", url, "--timeout", "1s")
	wantLines(t, out, "pull A "+url+": ok: updated the home's copy", "pull SYS "+url+": ok: the home is up to date",
		"published account A to")
	if got := accountClaims(t, c, "A").Limits.Conn; got != 7 {
		t.Fatalf("home's A allows %d connections after pull, want 7", got)
	}
	h, err := authority.Open(c.dir)
	if err != nil {
		t.Fatal(err)
	}
	a, err := h.Account("A")
	if err != nil {
		t.Fatal(err)
	}
	if stored, err := storedJWT(t, c, h, a.Pub); err != nil || stored != a.JWT {
		t.Fatalf("the store does not hold the pulled JWT: %v", err)
	}

	out = c.must("pull", "-a", "A", "--server", url, "--timeout", "1s")
	wantLines(t, out, "pull A "+url+": ok: the home is up to date")

	// The home is newer than the server: kept.
	bumpAccount(t, c, "A", func(ac *jwt.AccountClaims) { ac.Limits.Conn = 9 })
	out = c.must("pull", "-a", "A", "--server", url, "--timeout", "1s")
	wantLines(t, out, "pull A "+url+": ok: the servers' JWT (issued ", "is older than the home's", "kept the home's")
	if got := accountClaims(t, c, "A").Limits.Conn; got != 9 {
		t.Fatalf("pull went back to an older JWT: %d connections, want 9", got)
	}

	// An account the servers do not have.
	c.must("add", "account", "-n", "Local")
	out = c.must("pull", "-a", "Local", "--server", url, "--timeout", "1s")
	wantLines(t, out, "pull Local servers: ok: no server has this account")

	// A stock server stores a newer JWT of A signed by a foreign operator
	// (it does not check the issuer when storing); pull refuses it.
	a, err = h.Account("A")
	if err != nil {
		t.Fatal(err)
	}
	foreign := testkit.NewOperator(t)
	ac, err := jwt.DecodeAccountClaims(a.JWT)
	if err != nil {
		t.Fatal(err)
	}
	ac.Limits.Conn = 1
	tok, err := ac.Encode(foreign.SigningKP)
	if err != nil {
		t.Fatal(err)
	}
	tok = testkit.WithIssuedAt(t, tok, foreign.SigningKP, a.Claims.IssuedAt+100)
	nc, err := nats.Connect(url, nats.UserCredentials(filepath.Join(c.dir, "keys", "creds", "MyOperator", "SYS", "sys.creds")))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if replies, err := claims.NewClient(nc, 0).Update(t.Context(), tok); err != nil || len(replies) != 1 || !replies[0].OK() {
		t.Fatalf("the stock server did not take the foreign JWT: %+v %v", replies, err)
	}
	before := testkit.TreeHash(t, c.dir)
	out, _, err = c.run("pull", "-a", "A", "--server", url, "--timeout", "1s")
	if err == nil {
		t.Fatalf("pull of an invalid JWT: no error\n%s", out)
	}
	wantLines(t, out, "pull A "+url+": FAILED: the server sent an invalid JWT")
	if testkit.TreeHash(t, c.dir) != before {
		t.Fatal("a refused pull changed the home")
	}
}

// `natsauth pull` from an account server, with a JSON report.
func TestPullFromAccountServer(t *testing.T) {
	c := interopHome(t)
	c.must("add", "account", "-n", "A")
	h, err := authority.Open(c.dir)
	if err != nil {
		t.Fatal(err)
	}
	st := store.Wrap(mem.New(), store.Options{Policy: h.Policy()})
	t.Cleanup(func() { _ = st.Close() })
	as := accountserver.New(st, accountserver.Options{Policy: h.Policy()})
	t.Cleanup(func() { _ = as.Close() })
	hs := httptest.NewServer(as)
	t.Cleanup(hs.Close)

	c.must("push", "-A", "--account-server", hs.URL)
	other := copyHome(t, c)
	bumpAccount(t, other, "A", func(ac *jwt.AccountClaims) { ac.Limits.Subs = 5 })
	other.must("push", "-a", "A", "--account-server", hs.URL)

	out := c.must("pull", "-A", "--account-server", hs.URL, "--json")
	var rep struct {
		OK      bool            `json:"ok"`
		Results []manage.Answer `json:"results"`
	}
	if err := jsonUnmarshal(out, &rep); err != nil {
		t.Fatalf("--json output is not one JSON document: %v\n%s", err, out)
	}
	if !rep.OK || len(rep.Results) != 2 {
		t.Fatalf("report = %+v, want 2 ok results", rep)
	}
	for _, r := range rep.Results {
		want := "the home is up to date"
		if r.Account == "A" {
			want = "updated the home's copy"
		}
		if r.Target != hs.URL+"/jwt/v1" || !strings.HasPrefix(r.Message, want) {
			t.Errorf("result %+v, want %q from %s/jwt/v1", r, want, hs.URL)
		}
	}
	if got := accountClaims(t, c, "A").Limits.Subs; got != 5 {
		t.Fatalf("home's A allows %d subscriptions after pull, want 5", got)
	}
}

func TestPullFlagErrors(t *testing.T) {
	c := interopHome(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--server", "nats://127.0.0.1:1"}, "give -a ACCOUNT or -A (all)"},
		{[]string{"-A"}, "give --server nats://HOST:4222 and/or --account-server"},
		{[]string{"-a", "SYS", "-A", "--server", "nats://127.0.0.1:1"}, "not both"},
		{[]string{"-A", "--server", "127.0.0.1:4222"}, "not a URL"},
	} {
		out, _, err := c.run(append([]string{"pull"}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("pull %v: err = %v, want %q", tc.args, err, tc.want)
		}
		if out != "" {
			t.Errorf("pull %v: output %q before refusing", tc.args, out)
		}
	}
}
