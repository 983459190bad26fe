package console_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/natsauth/natsauth/audit"
	"github.com/natsauth/natsauth/console"
	"github.com/natsauth/natsauth/console/access"
	"github.com/natsauth/natsauth/internal/tlsgen"
	"github.com/natsauth/natsauth/manage"
)

// Listen serves the console on its own listener, over HTTPS with a
// certificate (Strict-Transport-Security set), and Close stops it.
func TestListen(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	cfg := console.Config{Manager: e.m, Access: e.acc, Logger: slog.New(slog.DiscardHandler)}
	if _, err := console.Listen(ctx, cfg, "127.0.0.1:0", "missing.pem", "missing-key.pem"); err == nil ||
		!strings.Contains(err.Error(), "console: TLS") {
		t.Fatalf("missing certificate: %v", err)
	}
	l, err := console.Listen(ctx, cfg, "127.0.0.1:0", "", "")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(l.URL(), "http://127.0.0.1:") || !strings.HasSuffix(l.URL(), l.Addr()) {
		t.Errorf("URL %s, Addr %s", l.URL(), l.Addr())
	}
	if _, err := console.Listen(ctx, cfg, l.Addr(), "", ""); err == nil || !strings.Contains(err.Error(), "console: listen on") {
		t.Errorf("address in use: %v", err)
	}
	resp, err := http.Get(l.URL() + "/api/openapi.json")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET openapi: %v %v", err, resp)
	}
	resp.Body.Close()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(l.URL() + "/api/openapi.json"); err == nil {
		t.Error("still serving after Close")
	}

	f, err := tlsgen.Generate(filepath.Join(t.TempDir(), "tls"), tlsgen.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ls, err := console.Listen(ctx, cfg, "127.0.0.1:0", f.ServerCert, f.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	defer ls.Close()
	pem, _ := os.ReadFile(f.CA)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err = hc.Get(ls.URL() + "/api/openapi.json")
	if err != nil || !strings.HasPrefix(ls.URL(), "https://") {
		t.Fatalf("GET over TLS %s: %v", ls.URL(), err)
	}
	resp.Body.Close()
	if resp.Header.Get("Strict-Transport-Security") == "" {
		t.Error("no Strict-Transport-Security over TLS")
	}
}

// Every Admin change is made and recorded in the core's audit log with the
// actor; EnsureAdmin makes the first admin only when there is none.
func TestAdmin(t *testing.T) {
	e := newEnv(t)
	ctx := audit.WithActor(context.Background(), audit.Actor{Via: audit.ViaCLI, Command: "test"})
	opened, err := console.OpenAdmin(ctx, e.m)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := opened.Access.User(ctx, "admin"); err != nil {
		t.Errorf("OpenAdmin does not open the manager's console users: %v", err)
	}
	opened.Access.Close()
	ad := console.Admin{Manager: e.m, Access: e.acc}
	if _, err := ad.AddUser(ctx, "ops", access.OperatorObserver, "", "short", ""); !errors.Is(err, access.ErrInvalid) {
		t.Fatalf("short password: %v", err)
	}
	u, err := ad.AddUser(ctx, "ops", access.OperatorObserver, "", "ops password 1", "(note)")
	if err != nil || u.Name != "ops" {
		t.Fatal(u, err)
	}
	if err := ad.SetPassword(ctx, "ops", "ops password 2"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.acc.Authenticate(ctx, "ops", "ops password 2"); err != nil {
		t.Errorf("new password: %v", err)
	}
	secret, tok, err := ad.NewToken(ctx, "ops", "ci", time.Hour)
	if err != nil || secret == "" {
		t.Fatal(err)
	}
	if _, err := ad.DeleteUser(ctx, "ops"); err != nil {
		t.Fatal(err)
	}
	if _, err := ad.DeleteUser(ctx, "ops"); err == nil {
		t.Error("deleted a missing user")
	}
	entries, err := e.m.Audit(ctx, audit.Query{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, en := range entries {
		if en.Via == audit.ViaCLI {
			got = append(got, en.Action+": "+en.Detail)
		}
	}
	want := []string{"add console user: ops (operator-observer) (note)", "edit console user: ops: password changed",
		`add api token: token ` + tok.ID + ` "ci" of ops`, "delete console user: ops (operator-observer)"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("audit:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	if pw, err := ad.EnsureAdmin(ctx, ""); pw != "" || err != nil {
		t.Errorf("EnsureAdmin with users: %q, %v", pw, err)
	}
	empty, err := access.OpenMemory(access.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ad.Access = empty
	if _, err := ad.EnsureAdmin(ctx, ""); !errors.Is(err, console.ErrNoUsers) {
		t.Errorf("EnsureAdmin without users or a name: %v", err)
	}
	pw, err := ad.EnsureAdmin(ctx, "root")
	if err != nil || pw == "" {
		t.Fatal(pw, err)
	}
	if u, err := empty.Authenticate(ctx, "root", pw); err != nil || u.Role != access.OperatorAdmin {
		t.Errorf("first admin: %v %v", u, err)
	}
}

// ListenInNode serves the console of the node's home with live state from
// the node, and says when there is no console user.
func TestListenInNode(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	l, noUsers, err := console.ListenInNode(ctx, e.m, e.node, "127.0.0.1:0", "", "", "", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if noUsers {
		t.Error("the env's console users were not seen")
	}
	resp, err := http.Get(l.URL() + "/api/openapi.json")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET openapi: %v %v", err, resp)
	}
	resp.Body.Close()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	fresh, _, err := manage.Init(ctx, manage.Config{Home: filepath.Join(t.TempDir(), "home")}, "Op")
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	_, noUsers, err = console.ListenInNode(ctx, fresh, e.node, "256.0.0.1:0", "", "", "", nil)
	if err == nil || !noUsers {
		t.Errorf("fresh home on a bad address: noUsers %v, err %v", noUsers, err)
	}
}

// CheckScope refuses an account role of a missing account, for the API
// and the CLI alike.
func TestAdminCheckScope(t *testing.T) {
	e := newEnv(t)
	ad := console.Admin{Manager: e.m, Access: e.acc}
	accs, err := e.m.Home().Accounts()
	if err != nil || len(accs) == 0 {
		t.Fatal(accs, err)
	}
	for _, tc := range []struct {
		role    access.Role
		account string
		ok      bool
	}{
		{access.AccountAdmin, accs[0].Name, true},
		{access.AccountAdmin, "Nope", false},
		{access.AccountObserver, "Nope", false},
		{access.OperatorAdmin, "Nope", true},
		{access.AccountAdmin, "", true},
	} {
		if err := ad.CheckScope(tc.role, tc.account); (err == nil) != tc.ok {
			t.Errorf("%s of %q: got %v, want ok %v", tc.role, tc.account, err, tc.ok)
		}
	}
}

// Admin.Listen makes the first admin of an empty console, refuses a bad
// server URL (still returning the made password) and serves the console.
func TestAdminListen(t *testing.T) {
	e := newEnv(t)
	ctx := audit.WithActor(context.Background(), audit.Actor{Via: audit.ViaCLI, Command: "test"})
	empty, err := access.OpenMemory(access.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ad := console.Admin{Manager: e.m, Access: empty}
	log := slog.New(slog.DiscardHandler)
	if _, _, err := ad.Listen(ctx, manage.Remote{}, "", "127.0.0.1:0", "", "", log); !errors.Is(err, console.ErrNoUsers) {
		t.Fatalf("no users, no admin name: %v", err)
	}
	l, pw, err := ad.Listen(ctx, manage.Remote{Servers: []string{"http://not-nats"}}, "root", "127.0.0.1:0", "", "", log)
	if err == nil || l != nil || pw == "" {
		t.Fatalf("bad server: got %v, %v, password %q", l, err, pw)
	}
	if _, err := empty.Authenticate(ctx, "root", pw); err != nil {
		t.Errorf("the made admin cannot sign in: %v", err)
	}
	l, pw, err = ad.Listen(ctx, manage.Remote{}, "root", "127.0.0.1:0", "", "", log)
	if err != nil || pw != "" {
		t.Fatalf("with users: got %v, password %q", err, pw)
	}
	defer l.Close()
	resp, err := http.Get(l.URL() + "/api/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("openapi: %s", resp.Status)
	}
}
