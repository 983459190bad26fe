package resolver_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"net"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/natsauth/natsauth/internal/testkit"
	"github.com/natsauth/natsauth/resolver"
	"github.com/natsauth/natsauth/store"
)

func TestUserConnectsThroughResolver(t *testing.T) {
	op := testkit.NewOperator(t)
	a := op.NewAccount(t, "A", nil)
	cs := &countingStore{Store: memStore(t, op)}
	st := watchingCountingStore{cs}
	mustPut(t, st, a)
	n := startNode(t, op, st, resolver.Options{})
	u := a.NewUser(t, "alice", nil)

	nc, _ := n.connect(t, u)
	sub, err := nc.SubscribeSync("greet")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Publish("greet", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if m, err := sub.NextMsg(2 * time.Second); err != nil || string(m.Data) != "hello" {
		t.Fatalf("round trip through account A: %v", err)
	}
	// A user of an account the store does not know is refused.
	stranger := op.NewAccount(t, "STRANGER", nil).NewUser(t, "eve", nil)
	if _, _, err := n.tryConnect(t, stranger); err == nil {
		t.Fatal("user of an unknown account connected")
	}
}

func TestLimitChangeInStoreIsEnforcedLive(t *testing.T) {
	op := testkit.NewOperator(t)
	a := op.NewAccount(t, "A", nil)
	st := memStore(t, op)
	mustPut(t, st, a)
	n := startNode(t, op, st, resolver.Options{})
	u := a.NewUser(t, "alice", nil)
	first, firstClosed := n.connect(t, u)
	_, secondClosed := n.connect(t, u)

	// Another writer (the CLI, another node) lowers the connection limit.
	a.Reissue(t, 0, func(ac *jwt.AccountClaims) { ac.Limits.Conn = 1 })
	mustPut(t, st, a)

	waitClosed(t, secondClosed, "newest connection over the new limit")
	select {
	case <-firstClosed:
		t.Fatal("oldest connection was closed too")
	default:
	}
	assertOpen(t, first, "oldest connection")
	eventually(t, "a third connection is refused", func() bool {
		err := n.connectErr(t, u)
		return err != nil && strings.Contains(strings.ToLower(err.Error()), "maximum account active connections")
	})
}

func TestRevocationInStoreClosesOpenConnection(t *testing.T) {
	op := testkit.NewOperator(t)
	a := op.NewAccount(t, "A", nil)
	st := memStore(t, op)
	mustPut(t, st, a)
	n := startNode(t, op, st, resolver.Options{})
	bad := a.NewUser(t, "mallory", nil)
	good := a.NewUser(t, "alice", nil)
	_, badClosed := n.connect(t, bad)
	goodConn, _ := n.connect(t, good)

	a.Reissue(t, 0, func(ac *jwt.AccountClaims) { ac.RevokeAt(bad.Pub, time.Now().Add(time.Second)) })
	mustPut(t, st, a)

	waitClosed(t, badClosed, "revoked user")
	assertOpen(t, goodConn, "other user of the account")
	if _, _, err := n.tryConnect(t, bad); err == nil {
		t.Fatal("revoked user connected again")
	}
}

func TestNewAccountInStoreBecomesUsableAtOnce(t *testing.T) {
	op := testkit.NewOperator(t)
	st := memStore(t, op)
	clk := newFakeClock() // never advanced: only the watch can make B visible
	n := startNode(t, op, st, resolver.Options{Clock: clk})
	b := op.NewAccount(t, "B", nil)
	u := b.NewUser(t, "bob", nil)
	if _, _, err := n.tryConnect(t, u); err == nil {
		t.Fatal("user of an account not yet stored connected")
	}
	mustPut(t, st, b)
	eventually(t, "user of the new account connects", func() bool {
		return n.connectErr(t, u) == nil
	})
}

func TestStoreOutageKeepsKnownAccountsAndRefusesUnknownFast(t *testing.T) {
	op := testkit.NewOperator(t)
	known := op.NewAccount(t, "KNOWN", nil)
	unseen := op.NewAccount(t, "UNSEEN", nil)
	os := &outageStore{Store: memStore(t, op)}
	mustPut(t, os, known)
	mustPut(t, os, unseen)
	clk := newFakeClock()
	var logs logBuffer
	n := startNode(t, op, os, resolver.Options{TTL: time.Minute, Clock: clk, Logger: logs.logger()})
	// The resolver has seen KNOWN (the server has not loaded it).
	if _, err := n.res.Fetch(known.Pub); err != nil {
		t.Fatal(err)
	}

	os.down.Store(true)
	clk.Advance(time.Hour)
	if _, _, err := n.tryConnect(t, known.NewUser(t, "k", nil)); err != nil {
		t.Fatalf("connect to a known account during a store outage: %v", err)
	}
	if _, _, err := n.tryConnect(t, unseen.NewUser(t, "u", nil)); err == nil {
		t.Fatal("connect to a never-seen account succeeded during a store outage")
	}
	if !strings.Contains(logs.String(), "serving the last known JWT") {
		t.Fatalf("no warning about serving a stale JWT; log:\n%s", logs.String())
	}

	os.down.Store(false)
	clk.Advance(2 * time.Second)
	if _, _, err := n.tryConnect(t, unseen.NewUser(t, "u2", nil)); err != nil {
		t.Fatalf("connect after the store returned: %v", err)
	}
}

func TestNegativeCacheSparesTheStoreOnRepeatedConnects(t *testing.T) {
	op := testkit.NewOperator(t)
	cs := &countingStore{Store: memStore(t, op)} // no Watch
	clk := newFakeClock()
	n := startNode(t, op, cs, resolver.Options{Clock: clk})
	c := op.NewAccount(t, "C", nil)
	u := c.NewUser(t, "carol", nil)

	before := cs.gets.Load()
	for range 3 {
		if _, _, err := n.tryConnect(t, u); err == nil {
			t.Fatal("user of an unknown account connected")
		}
	}
	if got := cs.gets.Load() - before; got != 1 {
		t.Fatalf("store reads for 3 connects to an unknown account within the negative TTL = %d, want 1", got)
	}
	mustPut(t, cs, c)
	clk.Advance(resolver.MaxNegativeTTL)
	if _, _, err := n.tryConnect(t, u); err != nil {
		t.Fatalf("connect after the negative TTL: %v", err)
	}
}

func TestDeleteInStoreDisconnectsAccount(t *testing.T) {
	op := testkit.NewOperator(t)
	a := op.NewAccount(t, "A", nil)
	st := memStore(t, op)
	mustPut(t, st, a)
	n := startNode(t, op, st, resolver.Options{})
	u := a.NewUser(t, "alice", nil)
	_, closed := n.connect(t, u)

	if err := st.Delete(context.Background(), a.Pub); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, closed, "client of the deleted account")
	if _, _, err := n.tryConnect(t, u); err == nil {
		t.Fatal("client of a deleted account connected")
	}
	// Stored again, the account works again.
	a.Reissue(t, 0, nil)
	mustPut(t, st, a)
	eventually(t, "account usable after it is stored again", func() bool {
		return n.connectErr(t, u) == nil
	})
}

// TestConfigReloadIsRefusedWithCustomResolver records a nats-server fact
// the embedder must handle: ReloadOptions (and so Reload, on SIGHUP)
// refuses any server whose Options.AccountResolver is not one of
// nats-server's own types, and changes nothing. The resolver keeps
// working. Should nats-server lift this, the test fails as a reminder.
func TestConfigReloadIsRefusedWithCustomResolver(t *testing.T) {
	op := testkit.NewOperator(t)
	a := op.NewAccount(t, "A", nil)
	st := memStore(t, op)
	mustPut(t, st, a)
	n := startNode(t, op, st, resolver.Options{})
	u := a.NewUser(t, "alice", nil)

	newOpts := &server.Options{
		Host:             "127.0.0.1",
		Port:             n.srv.Addr().(*net.TCPAddr).Port,
		NoLog:            true,
		NoSigs:           true,
		TrustedOperators: []*jwt.OperatorClaims{op.Claims},
		SystemAccount:    op.System.Pub,
		AccountResolver:  n.res,
	}
	err := n.srv.ReloadOptions(newOpts)
	if err == nil || !strings.Contains(err.Error(), "*resolver.Resolver") {
		t.Fatalf("reload with a custom resolver: err = %v, want nats-server's refusal naming *resolver.Resolver", err)
	}
	if n.srv.AccountResolver() != n.res {
		t.Fatal("the refused reload replaced the resolver")
	}
	_, closed := n.connect(t, u)
	a.Reissue(t, 0, func(ac *jwt.AccountClaims) { ac.Limits.Conn = 0 })
	mustPut(t, st, a)
	waitClosed(t, closed, "live update after the refused reload")
}

func TestJetStreamFollowsTheStoredLimits(t *testing.T) {
	op := testkit.NewOperator(t)
	a := op.NewAccount(t, "A", nil)
	st := memStore(t, op)
	mustPut(t, st, a)
	n := startNode(t, op, st, resolver.Options{}, func(o *server.Options) {
		o.JetStream = true
		o.StoreDir = t.TempDir()
	})
	nc, closed := n.connect(t, a.NewUser(t, "alice", nil))
	js, err := nc.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.AccountInfo(); err == nil {
		t.Fatal("JetStream available to an account whose JWT has no JetStream limits")
	}

	a.Reissue(t, 0, func(ac *jwt.AccountClaims) {
		ac.Limits.JetStreamLimits = jwt.JetStreamLimits{MemoryStorage: 1 << 20, DiskStorage: 1 << 20, Streams: 1, Consumer: 1}
	})
	mustPut(t, st, a)
	eventually(t, "JetStream enabled for the account", func() bool {
		_, err := js.AccountInfo()
		return err == nil
	})
	if _, err := js.AddStream(&nats.StreamConfig{Name: "S", Subjects: []string{"s.>"}, Storage: nats.MemoryStorage}); err != nil {
		t.Fatalf("add stream after the live update: %v", err)
	}

	// Deleted from the store: connections closed, JetStream off.
	if err := st.Delete(context.Background(), a.Pub); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, closed, "client of the deleted account")
	az, err := n.srv.Accountz(&server.AccountzOptions{Account: a.Pub})
	if err != nil {
		t.Fatal(err)
	}
	if az.Account.JetStream || !az.Account.Expired {
		t.Fatalf("deleted account: jetstream %v, expired %v; want JetStream off and the account expired",
			az.Account.JetStream, az.Account.Expired)
	}
}

// lossyWatchStore forwards a real store's watch events unless told to
// lose them, and lets the test send the Reset a backend sends after it
// lost events.
type lossyWatchStore struct {
	store.Store
	lose   atomic.Bool
	lost   atomic.Int64
	inject chan store.Event
}

func (l *lossyWatchStore) Watch(ctx context.Context) (<-chan store.Event, error) {
	in, err := l.Store.(store.Watcher).Watch(ctx)
	if err != nil {
		return nil, err
	}
	out := make(chan store.Event)
	go func() {
		defer close(out)
		for {
			var ev store.Event
			select {
			case e, ok := <-in:
				if !ok {
					return
				}
				if l.lose.Load() {
					l.lost.Add(1)
					continue
				}
				ev = e
			case ev = <-l.inject:
			}
			select {
			case out <- ev:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

func TestResetEventReappliesLoadedAccounts(t *testing.T) {
	op := testkit.NewOperator(t)
	a := op.NewAccount(t, "A", nil)
	b := op.NewAccount(t, "B", nil)
	st := &lossyWatchStore{Store: memStore(t, op), inject: make(chan store.Event)}
	mustPut(t, st, a)
	mustPut(t, st, b)
	n := startNode(t, op, st, resolver.Options{})
	_, _ = n.connect(t, a.NewUser(t, "alice", nil))
	_, aClosed := n.connect(t, a.NewUser(t, "alice2", nil))
	_, bClosed := n.connect(t, b.NewUser(t, "bob", nil))

	// Changes the watch loses: A's limit lowered, B deleted.
	st.lose.Store(true)
	a.Reissue(t, 0, func(ac *jwt.AccountClaims) { ac.Limits.Conn = 1 })
	mustPut(t, st, a)
	if err := st.Delete(context.Background(), b.Pub); err != nil {
		t.Fatal(err)
	}
	eventually(t, "both events lost", func() bool { return st.lost.Load() == 2 })
	select {
	case <-aClosed:
		t.Fatal("a lost event was applied")
	default:
	}
	st.lose.Store(false)
	st.inject <- store.Event{Kind: store.EventReset}
	waitClosed(t, aClosed, "connection over A's limit, after the reset")
	waitClosed(t, bClosed, "connection of deleted B, after the reset")
}
