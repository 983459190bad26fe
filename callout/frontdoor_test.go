package callout_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/natsauth/natsauth/audit"
	"github.com/natsauth/natsauth/callout"
	"github.com/natsauth/natsauth/manage"
	"github.com/natsauth/natsauth/node"
)

// The password users of a managed home are the primary store's, audited in
// the core's log; a store that keeps none has none unless one is named.
func TestOpenManagedUsers(t *testing.T) {
	ctx := context.Background()
	home := filepath.Join(t.TempDir(), "home")
	m, _, err := manage.Init(ctx, manage.Config{Home: home}, "Op")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	db, err := callout.OpenManagedUsers(ctx, m, "")
	if err != nil || db == nil {
		t.Fatalf("the home's SQLite store: %v, %v", db, err)
	}
	if !strings.Contains(db.Where(), "accounts.db") {
		t.Errorf("users kept in %s, want the home's accounts.db", db.Where())
	}
	if err := db.Add(ctx, "alice", "correct horse", nil); err != nil {
		t.Fatal(err)
	}
	db.Close()
	entries, err := m.Audit(ctx, audit.Query{})
	if err != nil || len(entries) == 0 || entries[len(entries)-1].Action != "callout add user" {
		t.Errorf("audit: %v %+v", err, entries)
	}

	mem, err := manage.Open(manage.Config{Home: home, Store: "mem://"})
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	if db, err := callout.OpenManagedUsers(ctx, mem, ""); db != nil || err != nil {
		t.Errorf("a mem store keeps no users: %v, %v", db, err)
	}
	if _, err := callout.OpenManagedUsers(ctx, mem, "mem://"); err == nil {
		t.Error("a named store that keeps no users is no error")
	}
}

// ServeMetrics serves the registry until stopped and reports a listener
// that cannot start.
func TestServeMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "natsauth_test_total", Help: "test"})
	reg.MustRegister(c)
	c.Inc()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	stop := callout.ServeMetrics(addr, reg, func(err error) { t.Errorf("metrics: %v", err) })
	var body []byte
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err == nil {
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
	}
	if !strings.Contains(string(body), "natsauth_test_total 1") {
		t.Errorf("metrics:\n%s", body)
	}
	failed := make(chan error, 1)
	stopToo := callout.ServeMetrics(addr, reg, func(err error) { failed <- err })
	defer stopToo()
	select {
	case err := <-failed:
		if err == nil {
			t.Error("nil error")
		}
	case <-time.After(5 * time.Second):
		t.Error("an address in use was not reported")
	}
	stop()
	if _, err := http.Get("http://" + addr + "/metrics"); err == nil {
		t.Error("still serving after stop")
	}
}

// StartInNode runs the gateway in a started node with the named password
// users; a users store that cannot be opened is refused.
func TestStartInNode(t *testing.T) {
	e := newEnv(t, envOpts{})
	ctx := context.Background()
	if err := e.users.Add(ctx, "alice", "correct horse", []string{"staff"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := callout.StartInNode(ctx, e.node, e.home, "AUTH", e.rules, "nosuch://x", nil); err == nil ||
		!strings.HasPrefix(err.Error(), "password users: ") {
		t.Fatalf("bad users URL: %v", err)
	}
	_, stop, err := callout.StartInNode(ctx, e.node, e.home, "AUTH", e.rules, "sqlite://"+filepath.Join(e.dir, "home", "accounts.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	nc := e.mustConnect(nats.UserInfo("alice", "correct horse"))
	if who := whoami(t, nc); who.Account != e.app.Pub {
		t.Errorf("alice is in account %s, want APP %s", who.Account, e.app.Pub)
	}
	stop()
	if _, err := e.connect(nats.UserInfo("alice", "correct horse")); err == nil {
		t.Error("signed in after the gateway stopped")
	} else if errors.Is(err, context.Canceled) {
		t.Error(err)
	}
}

// A Standalone gateway beside the node signs a password user in, serves
// its metrics, and stops.
func TestStandalone(t *testing.T) {
	e := newEnv(t, envOpts{})
	ctx := context.Background()
	if err := e.users.Add(ctx, "alice", "correct horse", []string{"staff"}); err != nil {
		t.Fatal(err)
	}
	m, err := manage.Open(manage.Config{Home: e.home.Dir()})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, _, _, err := (callout.Standalone{Account: "APP", RulesFile: e.rules}).Start(ctx, m); err == nil {
		t.Fatal("started for an account without an auth callout")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, account, stop, err := callout.Standalone{RulesFile: e.rules, Remote: callout.Remote{URL: e.node.ClientURL()},
		MetricsAddr: addr, OnMetricsError: func(err error) { t.Errorf("metrics: %v", err) }}.Start(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if account != "AUTH" {
		t.Errorf("answers for %q, want the home's only callout account AUTH", account)
	}
	nc := e.mustConnect(nats.UserInfo("alice", "correct horse"))
	if who := whoami(t, nc); who.Account != e.app.Pub {
		t.Errorf("alice is in account %s, want APP", who.Account)
	}
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "natsauth_callout_decisions_total") {
		t.Errorf("metrics lack the decisions:\n%s", body)
	}
}

// InNode checks its flags, sets the node's default sentinel, and runs the
// gateway in the node until stopped.
func TestInNode(t *testing.T) {
	e := newEnv(t, envOpts{})
	for _, tc := range []struct {
		c    callout.InNode
		want string
	}{
		{callout.InNode{Rules: "r.yaml"}, "--callout-rules and --callout-users go with --callout ACCOUNT"},
		{callout.InNode{Account: "AUTH"}, "--callout needs --callout-rules FILE"},
		{callout.InNode{Account: "APP", Rules: e.rules}, "serve --callout: "},
	} {
		cfg := node.Config{Home: e.home.Dir()}
		if err := tc.c.Configure(&cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: got %v, want %q", tc.c, err, tc.want)
		}
	}
	cfg := node.Config{Home: e.home.Dir()}
	if err := (callout.InNode{}).Configure(&cfg); err != nil || cfg.DefaultSentinel != "" {
		t.Errorf("no callout: got %v, sentinel %q", err, cfg.DefaultSentinel)
	}
	in := callout.InNode{Account: "AUTH", Rules: e.rules, Users: "sqlite://" + filepath.Join(e.dir, "home", "accounts.db")}
	if err := in.Configure(&cfg); err != nil || cfg.DefaultSentinel == "" {
		t.Fatalf("AUTH: got %v, sentinel %q", err, cfg.DefaultSentinel)
	}
	ctx := context.Background()
	if err := e.users.Add(ctx, "alice", "correct horse", []string{"staff"}); err != nil {
		t.Fatal(err)
	}
	reload, stop, err := in.Start(ctx, e.node, e.home.Dir(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	reload()
	nc := e.mustConnect(nats.UserInfo("alice", "correct horse"))
	if who := whoami(t, nc); who.Account != e.app.Pub {
		t.Errorf("alice is in account %s, want APP %s", who.Account, e.app.Pub)
	}
	stop()
}
