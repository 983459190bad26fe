package console_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/natsauth/natsauth/store/backends"

	"github.com/nats-io/nats.go"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/console"
	"github.com/natsauth/natsauth/console/access"
	"github.com/natsauth/natsauth/internal/password"
	"github.com/natsauth/natsauth/manage"
	"github.com/natsauth/natsauth/node"
)

// env is a home with a running node and a console over it.
type env struct {
	t    testing.TB
	m    *manage.Manager
	acc  *access.Access
	node *node.Node
	srv  *console.Server
	http *httptest.Server
}

const adminPW = "admin password 1"

// newEnv makes a home (operator Op, account Team with JetStream), starts
// an embedded node from it, and serves a console with console users
// admin (operator-admin), watcher (operator-observer), teamadmin
// (account-admin of Team) — passwords "<name> password 1".
func newEnv(t testing.TB) *env {
	t.Helper()
	ctx := context.Background()
	cfg := manage.Config{Home: filepath.Join(t.TempDir(), "home"), ApplyTimeout: 5 * time.Second}
	m, _, err := manage.Init(ctx, cfg, "Op")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	if _, _, err := m.AddAccount(ctx, "Team", authority.AccountEdit{JSMemStorage: authority.Int64(64 << 20),
		JSDiskStorage: authority.Int64(64 << 20)}); err != nil {
		t.Fatal(err)
	}
	n := startNode(t, cfg.Home)
	acc, err := access.Open(ctx, cfg.Home, m.StoreURL(), access.Options{Password: password.Fast})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { acc.Close() })
	for _, u := range []struct {
		name    string
		role    access.Role
		account string
	}{{"admin", access.OperatorAdmin, ""}, {"watcher", access.OperatorObserver, ""}, {"teamadmin", access.AccountAdmin, "Team"}} {
		if _, err := acc.AddUser(ctx, u.name, u.role, u.account, u.name+" password 1"); err != nil {
			t.Fatal(err)
		}
	}
	srv, err := console.New(console.Config{Manager: m, Access: acc, Logger: slog.New(slog.DiscardHandler),
		Connect: func(context.Context) (*nats.Conn, error) {
			return manage.ConnectSystem(m.Home(), manage.Remote{}, n.ClientURL(), "console test")
		}})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() { hs.Close(); srv.Close() })
	return &env{t: t, m: m, acc: acc, node: n, srv: srv, http: hs}
}

// startNode starts an embedded node from the home, as natsauth serve
// does, with JetStream.
func startNode(t testing.TB, home string) *node.Node {
	t.Helper()
	h, err := authority.Open(home)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := node.FromHome(h)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Flags = node.ServerFlags{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: filepath.Join(t.TempDir(), "js"),
		Set: map[string]bool{"js": true}}
	cfg.Logger = slog.New(slog.DiscardHandler)
	ctx := context.Background()
	n, err := node.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return n
}

// client is a browser-like API client: a cookie jar and the CSRF token.
type client struct {
	e    *env
	hc   *http.Client
	csrf string
	// bearer, when set, authenticates instead of the cookie.
	bearer string
}

func (e *env) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{e: e, hc: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
}

// login signs in as name and keeps the CSRF token.
func (e *env) login(name string) *client {
	e.t.Helper()
	c := e.client()
	var s console.SessionInfo
	if st := c.do("POST", "/api/login", map[string]string{"name": name, "password": name + " password 1"}, &s); st != 200 {
		e.t.Fatalf("login %s: status %d", name, st)
	}
	c.csrf = s.CSRF
	return c
}

// do sends a JSON request and decodes the JSON answer into out (when not
// nil); it returns the status.
func (c *client) do(method, path string, body, out any) int {
	c.e.t.Helper()
	st, raw := c.raw(method, path, body, nil)
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			c.e.t.Fatalf("%s %s: %d %s: %v", method, path, st, raw, err)
		}
	}
	return st
}

// raw sends a request with extra headers and returns status and body.
func (c *client) raw(method, path string, body any, hdr map[string]string) (int, []byte) {
	c.e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.e.http.URL+path, rd)
	if err != nil {
		c.e.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.csrf != "" {
		req.Header.Set("X-CSRF-Token", c.csrf)
	}
	if c.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// writeCreds writes creds to a file and returns its path.
func writeCreds(t testing.TB, creds []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "user.creds")
	if err := os.WriteFile(p, creds, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// waitFor polls cond until it holds or within passes.
func waitFor(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
