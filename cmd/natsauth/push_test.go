package main

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/natsauth/natsauth/accountserver"
	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/internal/testkit"
	"github.com/natsauth/natsauth/manage"
	"github.com/natsauth/natsauth/store"
	"github.com/natsauth/natsauth/store/mem"
	"github.com/natsauth/natsauth/trust"
)

// keepCreds copies a user's creds out of the home (before the user is
// deleted) and returns the copy's path.
func keepCreds(t *testing.T, c *cliHome, account, user string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(c.dir, "keys", "creds", "MyOperator", account, user+".creds"))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), user+".creds")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func wantLines(t *testing.T, out string, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if !strings.Contains(out, l) {
			t.Errorf("output lacks %q:\n%s", l, out)
		}
	}
}

// A stock full-resolver server accepts `natsauth push -A` (every account,
// each answer reported by server), and `natsauth push --prune` removes an
// account deleted from the home: its user can no longer connect.
func TestPushAndPruneStockFullResolver(t *testing.T) {
	c := interopHome(t)
	c.must("add", "account", "-n", "A")
	c.must("add", "user", "-a", "A", "-n", "alice")
	c.must("add", "account", "-n", "B")
	c.must("add", "user", "-a", "B", "-n", "bob")
	h, err := authority.Open(c.dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := h.Account("B")
	if err != nil {
		t.Fatal(err)
	}
	s := startStockServer(t, interopConfig(t, c, "--resolver", "full", "--allow-delete", "--dir", filepath.Join(t.TempDir(), "jwt")))
	url := s.ClientURL()
	interopMustRefuse(t, url, c, "A", "alice") // not pushed yet

	out := c.must("push", "-A", "--server", url, "--timeout", "1s")
	for _, acc := range []string{"SYS", "A", "B"} {
		wantLines(t, out, "push "+acc+" "+url+": server "+s.ID()+": ok: jwt updated")
	}
	interopMustConnect(t, url, c, "A", "alice")
	bobCreds := keepCreds(t, c, "B", "bob")
	nc, err := nats.Connect(url, nats.UserCredentials(bobCreds), nats.MaxReconnects(0))
	if err != nil {
		t.Fatalf("bob after push: %v", err)
	}
	nc.Close()

	// Nothing to prune while the home and the server agree.
	out = c.must("push", "--prune", "--server", url, "--timeout", "1s")
	wantLines(t, out, "prune "+url+": server "+s.ID()+": ok: stores 3 accounts, none missing from the home",
		"prune "+url+": ok: nothing to prune")

	c.must("delete", "account", "-n", "B")
	out = c.must("push", "-A", "--prune", "--server", url, "--timeout", "1s")
	wantLines(t, out,
		"push A "+url+": server "+s.ID()+": ok: jwt updated",
		"prune "+url+": server "+s.ID()+": ok: stores 3 accounts, 1 not in the home: "+b.Pub,
		"prune "+url+": server "+s.ID()+": ok: deleted 1 accounts")
	if strings.Contains(out, "push B ") {
		t.Errorf("pushed the deleted account:\n%s", out)
	}
	if _, err := nats.Connect(url, nats.UserCredentials(bobCreds), nats.MaxReconnects(0)); err == nil {
		t.Fatal("bob connected after his account was pruned")
	}
	interopMustConnect(t, url, c, "A", "alice")
}

// Refusals and servers that do not answer are reported per server and
// make the command exit non-zero.
func TestPushRefusalsExitNonZero(t *testing.T) {
	c := interopHome(t)
	c.must("add", "account", "-n", "A")
	c.must("add", "account", "-n", "Gone")
	full := startStockServer(t, interopConfig(t, c, "--resolver", "full", "--dir", filepath.Join(t.TempDir(), "jwt")))
	c.must("push", "-A", "--server", full.ClientURL(), "--timeout", "1s")
	c.must("delete", "account", "-n", "Gone")

	// The server does not allow deletes (allow_delete: false).
	out, _, err := c.run("push", "--prune", "--server", full.ClientURL(), "--timeout", "1s")
	if err == nil || !strings.Contains(err.Error(), "refusals or failures") {
		t.Fatalf("prune refused by the server: err = %v, want non-zero exit\n%s", err, out)
	}
	wantLines(t, out, "prune "+full.ClientURL()+": server "+full.ID()+": FAILED (500): delete accounts request by",
		"delete must be enabled in server config")

	// A memory-resolver server does not answer the claims protocol.
	memSrv := startStockServer(t, interopConfig(t, c, "--resolver", "memory"))
	out, _, err = c.run("push", "-a", "A", "--server", memSrv.ClientURL(), "--timeout", "1s")
	if err == nil {
		t.Fatalf("push to a memory resolver: no error\n%s", out)
	}
	wantLines(t, out, "push A "+memSrv.ClientURL()+": FAILED: push account: no server answers the claims protocol")

	// Nobody listens there.
	memSrv.Shutdown()
	out, _, err = c.run("push", "-a", "A", "--server", memSrv.ClientURL(), "--timeout", "1s")
	if err == nil {
		t.Fatalf("push to a stopped server: no error\n%s", out)
	}
	wantLines(t, out, "push "+memSrv.ClientURL()+": FAILED: connect to "+memSrv.ClientURL())
}

// Account servers get a POST per account; their refusals are reported with
// the status and reason.
func TestPushToAccountServers(t *testing.T) {
	c := interopHome(t)
	c.must("add", "account", "-n", "A")
	h, err := authority.Open(c.dir)
	if err != nil {
		t.Fatal(err)
	}
	serve := func(p *trust.Policy) (string, store.Store) {
		st := store.Wrap(mem.New(), store.Options{Policy: p})
		t.Cleanup(func() { _ = st.Close() })
		as := accountserver.New(st, accountserver.Options{Policy: p})
		t.Cleanup(func() { _ = as.Close() })
		hs := httptest.NewServer(as)
		t.Cleanup(hs.Close)
		return hs.URL, st
	}
	good, st := serve(h.Policy())
	out := c.must("push", "-A", "--account-server", good)
	wantLines(t, out, "push A "+good+"/jwt/v1: ok (200): account jwt stored",
		"push SYS "+good+"/jwt/v1: ok (200): account jwt stored")
	ids, err := st.List(t.Context())
	if err != nil || len(ids) != 2 {
		t.Fatalf("account server stores %v, %v; want SYS and A", ids, err)
	}
	out = c.must("push", "-a", "A", "--account-server", good+"/jwt/v1/accounts/")
	wantLines(t, out, "push A "+good+"/jwt/v1: ok (200): account jwt unchanged")

	// An account server that trusts another operator refuses every JWT.
	foreign, _ := serve(testkit.NewOperator(t).Policy())
	out, _, err = c.run("push", "-a", "A", "--account-server", good, "--account-server", foreign, "--json")
	if err == nil {
		t.Fatalf("push refused by an account server: no error\n%s", out)
	}
	var rep struct {
		OK      bool            `json:"ok"`
		Results []manage.Answer `json:"results"`
	}
	if err := jsonUnmarshal(out, &rep); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, out)
	}
	if rep.OK || len(rep.Results) != 2 || !rep.Results[0].OK || rep.Results[1].OK ||
		rep.Results[1].Code != 400 || rep.Results[1].Account != "A" || rep.Results[1].Message == "" {
		t.Fatalf("report = %+v, want A accepted by the first and refused (400, with a reason) by the second", rep)
	}
}

func TestPushFlagErrors(t *testing.T) {
	c := interopHome(t)
	c.must("add", "account", "-n", "A")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--server", "nats://127.0.0.1:1"}, "give -a ACCOUNT, -A (all) or --prune"},
		{[]string{"-a", "A", "-A", "--server", "nats://127.0.0.1:1"}, "give -a ACCOUNT or -A, not both"},
		{[]string{"-A"}, "give --server nats://HOST:4222 and/or --account-server"},
		{[]string{"-A", "--server", "http://127.0.0.1:9090"}, "is not a NATS scheme"},
		{[]string{"-A", "--account-server", "nats://127.0.0.1:4222"}, "scheme must be http or https"},
		{[]string{"--prune", "--account-server", "http://127.0.0.1:9090"}, "--prune needs a NATS server"},
		{[]string{"-a", "Nope", "--server", "nats://127.0.0.1:1"}, `account "Nope" not found`},
		{[]string{"-A", "--server", "nats://127.0.0.1:1", "--timeout", "0s"}, "--timeout 0s: must be positive"},
	} {
		out, _, err := c.run(append([]string{"push"}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("push %v: err = %v, want %q", tc.args, err, tc.want)
		}
		if out != "" {
			t.Errorf("push %v: output %q before refusing", tc.args, out)
		}
	}
}
