package livetest

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/node"
	_ "github.com/natsauth/natsauth/store/backends"
)

// env is a home served by a running node.
type env struct {
	t   *testing.T
	h   *authority.Home
	n   *node.Node
	url string
}

// newHome creates a home with operator O.
func newHome(t *testing.T) *authority.Home {
	t.Helper()
	h, err := authority.Init(filepath.Join(t.TempDir(), "home"), "O")
	if err != nil {
		t.Fatalf("init: %v", err)
	}
	return h
}

// serve starts a node over the home's accounts, with JetStream on.
func serve(t *testing.T, h *authority.Home) *env {
	t.Helper()
	cfg, err := node.FromHome(h)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Flags = node.ServerFlags{Host: "127.0.0.1", Port: -1, JetStream: true}
	cfg.StoreURL = "mem://"
	cfg.DefaultJetStreamDir = filepath.Join(t.TempDir(), "js")
	cfg.Logger = slog.New(slog.DiscardHandler)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := node.New(ctx, cfg)
	if err != nil {
		t.Fatalf("node: %v", err)
	}
	t.Cleanup(func() { n.Close() })
	if err := n.Start(ctx); err != nil {
		t.Fatalf("start node: %v", err)
	}
	return &env{t: t, h: h, n: n, url: n.ClientURL()}
}

// publish puts changed account JWTs into the node's store, as the
// management core does after a change; the node applies them live.
func (e *env) publish(accs ...*authority.AccountInfo) {
	e.t.Helper()
	for _, a := range accs {
		if _, err := e.n.Store().Put(context.Background(), a.Pub, a.JWT); err != nil {
			e.t.Fatalf("publish %s: %v", a.Name, err)
		}
	}
}

// connect connects a user of the home until the test ends.
func (e *env) connect(account, user string, opts ...nats.Option) *nats.Conn {
	e.t.Helper()
	nc, err := e.dial(account, user, opts...)
	if err != nil {
		e.t.Fatalf("connect %s/%s: %v", account, user, err)
	}
	return nc
}

// dial connects a user of the home and reports the error.
func (e *env) dial(account, user string, opts ...nats.Option) (*nats.Conn, error) {
	e.t.Helper()
	all := append([]nats.Option{nats.UserCredentials(e.h.CredsPath(account, user)), nats.MaxReconnects(0),
		nats.Name(e.t.Name())}, opts...)
	nc, err := nats.Connect(e.url, all...)
	if err == nil {
		e.t.Cleanup(nc.Close)
	}
	return nc, err
}

// ok fails the test when the call it wraps fails: ok(t)(h.AddAccount(...)).
func ok(t *testing.T) func(any, error) {
	return func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
}

// get returns the value of a call that must not fail:
// get[*nats.Conn](t)(nats.Connect(...)).
func get[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// noErr fails the test on err.
func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// within polls cond until it holds or d passes.
func within(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// receives reports whether sub gets a message within d.
func receives(sub *nats.Subscription, d time.Duration) bool {
	_, err := sub.NextMsg(d)
	return err == nil
}

// drain discards the messages already queued on sub.
func drain(sub *nats.Subscription) {
	for {
		if _, err := sub.NextMsg(20 * time.Millisecond); err != nil {
			return
		}
	}
}
