package accountserver_test

import (
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/natsauth/natsauth/accountserver"
	"github.com/natsauth/natsauth/internal/testkit"
	"github.com/natsauth/natsauth/store"
	"github.com/natsauth/natsauth/store/mem"
)

// startStock starts an unmodified nats-server from a config file whose
// resolver is URL(resolverURL): exactly what a stock deployment runs.
func startStock(t *testing.T, op *testkit.Operator, resolverURL string) *server.Server {
	t.Helper()
	dir := t.TempDir()
	opFile := filepath.Join(dir, "operator.jwt")
	if err := os.WriteFile(opFile, []byte(op.JWT), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`
listen: "127.0.0.1:-1"
operator: %q
system_account: %s
resolver: URL(%s)
`, opFile, op.System.Pub, resolverURL)
	confFile := filepath.Join(dir, "nats-server.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err := server.ProcessConfigFile(confFile)
	if err != nil {
		t.Fatalf("process config: %v", err)
	}
	if _, ok := opts.AccountResolver.(*server.URLAccResolver); !ok {
		t.Fatalf("config gave resolver %T, want the stock URL resolver", opts.AccountResolver)
	}
	opts.NoLog, opts.NoSigs = true, true
	s, err := server.NewServer(opts) // probes the resolver base: needs 200
	if err != nil {
		t.Fatalf("start nats-server: %v", err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s
}

// lateNotifier lets the account server be built before the NATS
// connection its notifier needs exists (the stock server needs the account
// server up to start).
type lateNotifier struct{ accountserver.Notifier }

// A stock nats-server with the URL resolver authenticates users through the
// account server, and applies a revocation stored through the account
// server live, through the announcement: the revoked user's open
// connection is closed and it cannot connect again.
func TestStockURLResolverInterop(t *testing.T) {
	op := testkit.NewOperator(t)
	acc := op.NewAccount(t, "A", nil)
	alice := acc.NewUser(t, "alice", nil)
	bob := acc.NewUser(t, "bob", nil)
	sysUser := op.System.NewUser(t, "sys", nil)

	st := store.Wrap(mem.New(), store.Options{Policy: op.Policy()})
	t.Cleanup(func() { _ = st.Close() })
	for _, a := range []*testkit.Account{op.System, acc} {
		if _, err := st.Put(t.Context(), a.Pub, a.JWT); err != nil {
			t.Fatal(err)
		}
	}
	notifier := &lateNotifier{}
	as := accountserver.New(st, accountserver.Options{OperatorJWT: op.JWT, Policy: op.Policy(), Notifier: notifier})
	ts := httptest.NewServer(as)
	t.Cleanup(func() { _ = as.Close(); ts.Close() })

	ns := startStock(t, op, ts.URL+"/jwt/v1/accounts/")

	sys, err := nats.Connect(ns.ClientURL(), nats.UserCredentials(sysUser.CredsFile(t)))
	if err != nil {
		t.Fatalf("connect as the system user: %v", err)
	}
	t.Cleanup(sys.Close)
	notifier.Notifier = accountserver.NewNATSNotifier(sys)
	if err := as.Start(t.Context()); err != nil {
		t.Fatal(err)
	}

	// Alice and Bob connect: the stock server fetched account A from us.
	var aliceClosed atomic.Bool
	closed := make(chan struct{})
	var reason atomic.Value // the error the server sent alice
	nc, err := nats.Connect(ns.ClientURL(), nats.UserCredentials(alice.CredsFile(t)), nats.NoReconnect(),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { reason.Store(err.Error()) }),
		nats.ClosedHandler(func(*nats.Conn) { aliceClosed.Store(true); close(closed) }))
	if err != nil {
		t.Fatalf("alice connect through the account server: %v", err)
	}
	t.Cleanup(nc.Close)
	bc, err := nats.Connect(ns.ClientURL(), nats.UserCredentials(bob.CredsFile(t)), nats.NoReconnect())
	if err != nil {
		t.Fatalf("bob connect: %v", err)
	}
	t.Cleanup(bc.Close)
	sub, err := bc.SubscribeSync("greet")
	if err != nil {
		t.Fatal(err)
	}
	if err := bc.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := nc.Publish("greet", []byte("hi")); err != nil {
		t.Fatal(err)
	}
	if m, err := sub.NextMsg(5 * time.Second); err != nil || string(m.Data) != "hi" {
		t.Fatalf("bob did not get alice's message: %v", err)
	}
	if aliceClosed.Load() {
		t.Fatal("alice was disconnected before the revocation")
	}

	// Revoke Alice and POST the account JWT, as `nsc push` does.
	revoked := acc.Reissue(t, 0, func(ac *jwt.AccountClaims) { ac.Revoke(alice.Pub) })
	e := &env{ts: ts}
	if got := e.do(t, request{method: "POST", path: "/jwt/v1/accounts/" + acc.Pub,
		header: map[string]string{"Content-Type": "application/text"}, body: strings.NewReader(revoked)}); got.status != 200 {
		t.Fatalf("post revocation = %d %s", got.status, got.body)
	}
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the stock server did not close alice's connection after the announced revocation")
	}
	if r, _ := reason.Load().(string); !strings.Contains(r, "revoked") {
		t.Fatalf("alice was disconnected with %q, want a revocation", r)
	}
	// Alice cannot come back; Bob, not revoked, stays connected.
	if c, err := nats.Connect(ns.ClientURL(), nats.UserCredentials(alice.CredsFile(t)), nats.NoReconnect()); err == nil {
		c.Close()
		t.Fatal("revoked alice connected again")
	} else if !errors.Is(err, nats.ErrAuthorization) && !strings.Contains(strings.ToLower(err.Error()), "authorization") {
		t.Fatalf("revoked alice connect: err = %v, want an authorization error", err)
	}
	if !bc.IsConnected() {
		t.Fatal("bob lost his connection")
	}
	if err := bc.Flush(); err != nil {
		t.Fatalf("bob: %v", err)
	}
}

// A change written straight into the store (the CLI's path, not the HTTP
// API) reaches a stock server too, through the store's watch.
func TestStockServerAppliesStoreWrite(t *testing.T) {
	op := testkit.NewOperator(t)
	acc := op.NewAccount(t, "A", nil)
	carol := acc.NewUser(t, "carol", nil)
	sysUser := op.System.NewUser(t, "sys", nil)
	st := store.Wrap(mem.New(), store.Options{Policy: op.Policy()})
	t.Cleanup(func() { _ = st.Close() })
	for _, a := range []*testkit.Account{op.System, acc} {
		if _, err := st.Put(t.Context(), a.Pub, a.JWT); err != nil {
			t.Fatal(err)
		}
	}
	notifier := &lateNotifier{}
	as := accountserver.New(st, accountserver.Options{Notifier: notifier})
	ts := httptest.NewServer(as)
	t.Cleanup(func() { _ = as.Close(); ts.Close() })
	ns := startStock(t, op, ts.URL+"/jwt/v1/accounts/")
	sys, err := nats.Connect(ns.ClientURL(), nats.UserCredentials(sysUser.CredsFile(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sys.Close)
	notifier.Notifier = accountserver.NewNATSNotifier(sys)
	if err := as.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(ns.ClientURL(), nats.UserCredentials(carol.CredsFile(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)

	// Limit the account to 2 connections: the stock server must learn it.
	limited := acc.Reissue(t, 0, func(ac *jwt.AccountClaims) { ac.Limits.Conn = 2 })
	if _, err := st.Put(t.Context(), acc.Pub, limited); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		a, err := ns.LookupAccount(acc.Pub)
		if err == nil && a.MaxActiveConnections() == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stock server did not apply the new limit: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	c2, err := nats.Connect(ns.ClientURL(), nats.UserCredentials(carol.CredsFile(t)))
	if err != nil {
		t.Fatalf("second connection under the limit: %v", err)
	}
	t.Cleanup(c2.Close)
	if c3, err := nats.Connect(ns.ClientURL(), nats.UserCredentials(carol.CredsFile(t)), nats.NoReconnect()); err == nil {
		c3.Close()
		t.Fatal("a third connection was accepted over the announced limit of 2")
	}
}
