package manage_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsauth/natsauth/audit"
	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/internal/testkit"
	"github.com/natsauth/natsauth/manage"
	"github.com/natsauth/natsauth/node"
	"github.com/natsauth/natsauth/serving"
	"github.com/natsauth/natsauth/store"

	_ "github.com/natsauth/natsauth/store/backends"
)

// newHome initializes a home through the core and returns its config.
func newHome(t *testing.T) manage.Config {
	t.Helper()
	cfg := manage.Config{Home: filepath.Join(t.TempDir(), "home")}
	m, _, err := manage.Init(context.Background(), cfg, "Op")
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	return cfg
}

func open(t *testing.T, cfg manage.Config) *manage.Manager {
	t.Helper()
	m, err := manage.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// serve starts a node from the home, as natsauth serve does.
func serve(t *testing.T, home string, storeURL string) *node.Node {
	t.Helper()
	h, err := authority.Open(home)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := node.FromHome(h)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Flags = node.ServerFlags{Host: "127.0.0.1", Port: -1}
	cfg.StoreURL = storeURL
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

// A change through the core reaches a running node of the home, which
// acknowledges it; the connected client of a revoked user is closed by the
// time RevokeUser returns.
func TestChangeIsAppliedByTheRunningNode(t *testing.T) {
	cfg := newHome(t)
	m := open(t, cfg)
	ctx := context.Background()
	if _, _, err := m.AddAccount(ctx, "A", authority.AccountEdit{}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.AddUser(ctx, "A", "u", authority.UserEdit{AllowPubSub: []string{">"}}, authority.UserIssue{}); err != nil {
		t.Fatal(err)
	}
	// The node reads a store of its own, which only the registry names.
	n := serve(t, cfg.Home, "sqlite://"+filepath.Join(t.TempDir(), "node.db"))
	nc, err := nats.Connect(n.ClientURL(), nats.UserCredentials(m.Home().CredsPath("A", "u")), nats.NoReconnect())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	closed := make(chan struct{})
	nc.SetClosedHandler(func(*nats.Conn) { close(closed) })

	_, res, err := m.RevokeUser(ctx, "A", "u", time.Time{})
	if err != nil {
		t.Fatalf("revoke: %v", err)
	}
	var stores, acks int
	for _, d := range res.Deliveries {
		switch {
		case d.Server != nil:
			acks++
		case strings.Contains(d.Target, "node.db"):
			stores++
			if len(d.Readers) != 1 {
				t.Errorf("the node's store is read by %v", d.Readers)
			}
		}
	}
	if stores != 1 || acks != 1 {
		t.Fatalf("deliveries = %+v, want the node's store written and the node's acknowledgement", res.Deliveries)
	}
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the revoked user's connection is still open after RevokeUser returned")
	}
	if got, err := n.Store().Get(ctx, res.Deliveries[0].Pub); err != nil || !strings.Contains(got.JWT, ".") {
		t.Fatalf("node store: %v", err)
	}
}

// Changes made at once by several Managers on one home (as several
// processes or front doors would) are serialized: every one survives.
func TestConcurrentChangesAllSurvive(t *testing.T) {
	cfg := newHome(t)
	ctx := context.Background()
	if _, _, err := open(t, cfg).AddAccount(ctx, "A", authority.AccountEdit{}); err != nil {
		t.Fatal(err)
	}
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range n {
		wg.Go(func() {
			m := open(t, cfg)
			_, err := m.AddUser(ctx, "A", fmt.Sprintf("u%d", i), authority.UserEdit{}, authority.UserIssue{})
			errs <- err
			_, _, err = m.RevokeUser(ctx, "A", fmt.Sprintf("U%d-not-in-home", i), time.Time{})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	var refused int
	for err := range errs {
		if err != nil && !errors.Is(err, authority.ErrInvalid) {
			t.Fatal(err)
		}
		if err != nil {
			refused++
		}
	}
	m := open(t, cfg)
	users, _ := m.Home().Users("A")
	if len(users) != n {
		t.Fatalf("%d users survived of %d added at once", len(users), n)
	}
	if refused != n {
		t.Fatalf("%d revocations of unknown users refused, want %d", refused, n)
	}
}

// A store that cannot be opened refuses a change before the home is
// written.
func TestUnusableStoreChangesNothing(t *testing.T) {
	cfg := newHome(t)
	before := testkit.TreeHash(t, cfg.Home)
	cfg.Store = "sqlite://relative.db"
	m := open(t, cfg)
	if _, _, err := m.AddAccount(context.Background(), "A", authority.AccountEdit{}); err == nil {
		t.Fatal("a change was accepted with a store that cannot be opened")
	}
	if after := testkit.TreeHash(t, cfg.Home); after != before {
		t.Fatal("the home changed")
	}
}

// A server registered in the home that does not acknowledge makes the
// change a PublishError naming it; the home keeps the change.
func TestServerThatDoesNotAcknowledge(t *testing.T) {
	cfg := newHome(t)
	cfg.ApplyTimeout = 200 * time.Millisecond
	reg, err := serving.Register(cfg.Home, serving.Server{Store: "mem://", ClientURL: "nats://stuck:4222", WatchesHome: true})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	m := open(t, cfg)
	acc, _, err := m.AddAccount(context.Background(), "A", authority.AccountEdit{})
	var perr *manage.PublishError
	if !errors.As(err, &perr) || len(perr.Failures) != 1 || !strings.Contains(err.Error(), "nats://stuck:4222") {
		t.Fatalf("err = %v, want a PublishError naming the stuck server", err)
	}
	if acc == nil {
		t.Fatal("the account is not returned although it was created")
	}
	if _, err := m.Home().Account("A"); err != nil {
		t.Fatal("the home lost the change")
	}
}

// The audit log records each change with the actor from the context.
func TestAuditRecordsTheActor(t *testing.T) {
	cfg := newHome(t)
	m := open(t, cfg)
	ctx := audit.WithActor(context.Background(), audit.Actor{Via: audit.ViaHTTP, Remote: "192.0.2.7:5000"})
	if _, _, err := m.AddAccount(ctx, "A", authority.AccountEdit{Conns: authority.Int64(5)}); err != nil {
		t.Fatal(err)
	}
	entries, err := m.Audit(context.Background(), audit.Query{Account: "A"})
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, e := range entries {
		if e.Action == audit.ActionAddAccount {
			found = true
			if e.Via != audit.ViaHTTP || e.Remote != "192.0.2.7:5000" || !strings.Contains(e.Detail, "max-connections 5") {
				t.Errorf("entry = %+v", e)
			}
		}
	}
	if !found {
		t.Fatalf("no add-account entry in %+v", entries)
	}
	// An edit records what changed, field by field.
	if _, _, err := m.EditAccount(ctx, "A", authority.AccountEdit{Payload: authority.Int64(100)}); err != nil {
		t.Fatal(err)
	}
	entries, _ = m.Audit(context.Background(), audit.Query{Account: "A"})
	var last audit.Entry
	for _, e := range entries {
		if e.Action == audit.ActionEditAccount {
			last = e
		}
	}
	if len(last.Changes) != 1 ||
		last.Changes[0].Path != "nats.limits.payload" || last.Changes[0].Old != "-1" || last.Changes[0].New != "100" {
		t.Fatalf("edit entry = %+v", last)
	}
}

func TestEnsureWalkthroughIsIdempotent(t *testing.T) {
	cfg := manage.Config{Home: filepath.Join(t.TempDir(), "home"), Store: "mem://"}
	m, made, err := manage.EnsureWalkthrough(context.Background(), cfg)
	if err != nil || len(made) != 6 {
		t.Fatalf("first run made %v, %v", made, err)
	}
	m.Close()
	m, made, err = manage.EnsureWalkthrough(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if len(made) != 0 {
		t.Fatalf("second run made %v, want nothing", made)
	}
}

// The walkthrough's responder answers alice's requests on orders.status
// in a node served from the walkthrough's home.
func TestWalkthroughResponder(t *testing.T) {
	cfg := manage.Config{Home: filepath.Join(t.TempDir(), "home")}
	m, _, err := manage.EnsureWalkthrough(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	n := serve(t, cfg.Home, "")
	creds := func(u string) string { return m.Home().CredsPath(manage.WalkthroughAccount, u) }
	if _, err := manage.StartWalkthroughResponder(n.ClientURL(), creds("nobody")); err == nil {
		t.Fatal("started without creds")
	}
	stop, err := manage.StartWalkthroughResponder(n.ClientURL(), creds("responder"))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	nc, err := nats.Connect(n.ClientURL(), nats.UserCredentials(creds("alice")))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	msg, err := nc.Request("orders.status", []byte("123"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if string(msg.Data) != "order 123: shipped" {
		t.Errorf("answer %q", msg.Data)
	}
}

// Deleting an account removes it from every store a server of the home
// reads, and the node disables it.
func TestDeleteAccountReachesTheNode(t *testing.T) {
	cfg := newHome(t)
	m := open(t, cfg)
	ctx := context.Background()
	acc, _, err := m.AddAccount(ctx, "A", authority.AccountEdit{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.AddUser(ctx, "A", "u", authority.UserEdit{}, authority.UserIssue{}); err != nil {
		t.Fatal(err)
	}
	creds := m.Home().CredsPath("A", "u")
	n := serve(t, cfg.Home, "dir://"+filepath.Join(t.TempDir(), "jwt"))
	if nc, err := nats.Connect(n.ClientURL(), nats.UserCredentials(creds)); err != nil {
		t.Fatal(err)
	} else {
		nc.Close()
	}
	if _, _, err := m.DeleteAccount(ctx, "A"); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Store().Get(ctx, acc.Pub); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("node store still holds the account: %v", err)
	}
	if nc, err := nats.Connect(n.ClientURL(), nats.UserCredentials(creds), nats.NoReconnect()); err == nil {
		nc.Close()
		t.Fatal("a user of the deleted account connected")
	}
}

// ReadAudit reads through the core with a home, the store's own log
// without one, and refuses without either.
func TestReadAudit(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg := manage.Config{Home: filepath.Join(dir, "home"), Store: "sqlite://" + filepath.Join(dir, "accounts.db")}
	m, _, err := manage.Init(ctx, cfg, "Op")
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	withHome, err := manage.ReadAudit(ctx, cfg, audit.Query{})
	if err != nil || len(withHome) == 0 {
		t.Fatalf("with the home: %v %v", err, withHome)
	}
	cfg.Home = filepath.Join(dir, "nohome")
	storeOnly, err := manage.ReadAudit(ctx, cfg, audit.Query{})
	if err != nil || len(storeOnly) != len(withHome) {
		t.Errorf("the store's log without a home: %v, %d entries, want %d", err, len(storeOnly), len(withHome))
	}
	cfg.Store = ""
	if _, err := manage.ReadAudit(ctx, cfg, audit.Query{}); !errors.Is(err, authority.ErrNoHome) {
		t.Errorf("neither home nor store: %v", err)
	}
}

// An import applied to a running node keeps working when the exporter
// later changes its exports (nats-server then refreshes the importers; see
// node's TestImportAppliedBeforeItsExport for the order that used to lose
// an import).
func TestImportSurvivesAnExporterChangeOnARunningNode(t *testing.T) {
	cfg := newHome(t)
	m := open(t, cfg)
	ctx := context.Background()
	for _, name := range []string{"A", "B"} {
		if _, _, err := m.AddAccount(ctx, name, authority.AccountEdit{}); err != nil {
			t.Fatal(err)
		}
		if _, err := m.AddUser(ctx, name, "u", authority.UserEdit{AllowPubSub: []string{">"}}, authority.UserIssue{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := m.AddExport(ctx, "A", authority.ExportSpec{Subject: "svc.>", Service: true}); err != nil {
		t.Fatal(err)
	}
	n := serve(t, cfg.Home, "")
	dial := func(account string) *nats.Conn {
		nc, err := nats.Connect(n.ClientURL(), nats.UserCredentials(m.Home().CredsPath(account, "u")))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		return nc
	}
	a, b := dial("A"), dial("B") // both accounts loaded
	if _, err := a.Subscribe("svc.>", func(msg *nats.Msg) { _ = msg.Respond([]byte("ok")) }); err != nil {
		t.Fatal(err)
	}
	if err := a.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.AddImport(ctx, "B", authority.ImportSpec{Account: "A", Subject: "svc.>", Service: true}); err != nil {
		t.Fatal(err)
	}
	request := func(when string) {
		t.Helper()
		if _, err := b.Request("svc.x", nil, 5*time.Second); err != nil {
			t.Fatalf("B's request through the import %s: %v", when, err)
		}
	}
	request("after the import")
	if _, _, err := m.AddExport(ctx, "A", authority.ExportSpec{Subject: "other.>", Service: true}); err != nil {
		t.Fatal(err)
	}
	request("after the exporter changed its exports")
}
