package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/internal/testkit"
)

// asRun starts `natsauth args...` and returns the accounts base URL it
// listens on and a stop function that cancels it and returns its error.
func asRun(t *testing.T, args ...string) (string, func() error) {
	t.Helper()
	c := startBackground(t, args...)
	return c.wait(t, c.out, listeningRe, 10*time.Second)[1], c.stop
}

var listeningRe = regexp.MustCompile(`listening on (\S+)`)

func asPost(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "application/text", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func asGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestAccountServerCommandOperatorFile(t *testing.T) {
	op := testkit.NewOperator(t)
	acc := op.NewAccount(t, "A", nil)
	foreign := testkit.NewOperator(t).NewAccount(t, "F", nil)
	opFile := filepath.Join(t.TempDir(), "op.jwt")
	if err := os.WriteFile(opFile, []byte(op.JWT+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base, stop := asRun(t, "--home", t.TempDir(), "--store", "mem://", "account-server",
		"--listen", "127.0.0.1:0", "--operator", opFile)
	if !strings.HasSuffix(base, "/jwt/v1/accounts/") {
		t.Fatalf("base = %s", base)
	}
	root := strings.TrimSuffix(base, "/jwt/v1/accounts/")
	if code, body := asGet(t, root+"/healthz"); code != 200 || !strings.Contains(body, "ok") {
		t.Fatalf("healthz = %d %s", code, body)
	}
	if code, body := asGet(t, root+"/jwt/v1/operator"); code != 200 || body != op.JWT {
		t.Fatalf("operator = %d %.40s", code, body)
	}
	if code, body := asPost(t, base+acc.Pub, acc.JWT); code != 200 || !strings.Contains(body, "created") {
		t.Fatalf("post = %d %s", code, body)
	}
	if code, body := asGet(t, base+acc.Pub); code != 200 || body != acc.JWT {
		t.Fatalf("get = %d %.40s", code, body)
	}
	if code, body := asPost(t, base+foreign.Pub, foreign.JWT); code != 400 || !strings.Contains(body, "not the trusted operator") {
		t.Fatalf("post foreign = %d %s", code, body)
	}
	// An open watch stream does not hold the shutdown.
	resp, err := http.Get(root + "/jwt/v1/watch")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
}

func TestAccountServerCommandFlagErrors(t *testing.T) {
	home := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--tls-cert", "c.pem"}, "--tls-cert and --tls-key go together"},
		{[]string{"--creds", "x.creds"}, "--creds needs --nats"},
		{[]string{}, "natsauth init"}, // no home, no --operator
		{[]string{"--operator", filepath.Join(home, "missing.jwt")}, "read operator jwt"},
	} {
		out, errOut := &syncBuffer{}, &syncBuffer{}
		root := newRootCmd(out, errOut)
		root.SetArgs(append([]string{"--home", home, "--store", "mem://", "account-server", "--listen", "127.0.0.1:0"}, tc.args...))
		err := root.ExecuteContext(t.Context())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want it to mention %q", tc.args, err, tc.want)
		}
	}
}

func asFreePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// The command with --nats and the home's system user announces a
// revocation POSTed to it; a stock URL-resolver nats-server closes the
// revoked user's connection.
func TestAccountServerCommandAnnounces(t *testing.T) {
	dir := t.TempDir()
	h, err := authority.Init(dir, "Op")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.AddAccount("A", authority.AccountEdit{}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.AddUser("A", "alice", authority.UserEdit{}); err != nil {
		t.Fatal(err)
	}
	port := asFreePort(t)
	base, stop := asRun(t, "--home", dir, "--store", "mem://", "account-server",
		"--listen", "127.0.0.1:0", "--nats", fmt.Sprintf("nats://127.0.0.1:%d", port))
	jwts, err := h.AccountJWTs()
	if err != nil {
		t.Fatal(err)
	}
	for pub, tok := range jwts {
		if code, body := asPost(t, base+pub, tok); code != 200 {
			t.Fatalf("post %s = %d %s", pub, code, body)
		}
	}

	// A stock nats-server, started from a config file, resolving through us.
	opFile := filepath.Join(t.TempDir(), "op.jwt")
	if err := os.WriteFile(opFile, []byte(h.OperatorJWT()), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(t.TempDir(), "nats.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf("listen: 127.0.0.1:%d\noperator: %q\nsystem_account: %s\nresolver: URL(%s)\n",
		port, opFile, h.SystemAccount(), base)), 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err := server.ProcessConfigFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	opts.NoLog, opts.NoSigs = true, true
	ns, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}

	closed := make(chan struct{})
	nc, err := nats.Connect(ns.ClientURL(), nats.UserCredentials(h.CredsPath("A", "alice")), nats.NoReconnect(),
		nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}),
		nats.ClosedHandler(func(*nats.Conn) { close(closed) }))
	if err != nil {
		t.Fatalf("alice connect: %v", err)
	}
	defer nc.Close()

	acc, err := h.RevokeUser("A", "alice", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if code, body := asPost(t, base+acc.Pub, acc.JWT); code != 200 || !strings.Contains(body, "updated") {
		t.Fatalf("post revocation = %d %s", code, body)
	}
	select {
	case <-closed:
	case <-time.After(15 * time.Second):
		t.Fatal("revoked alice still connected: the announcement did not reach the stock server")
	}
	if err := stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
}
