package resolver_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/natsauth/natsauth/internal/testkit"
	"github.com/natsauth/natsauth/resolver"
	"github.com/natsauth/natsauth/store"
	"github.com/natsauth/natsauth/store/mem"
)

// fakeClock is a Clock that moves only when told to.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// memStore opens the real validated in-memory store for op.
func memStore(t testing.TB, op *testkit.Operator) store.Store {
	t.Helper()
	st := store.Wrap(mem.New(), store.Options{Policy: op.Policy()})
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func mustPut(t testing.TB, st store.Store, a *testkit.Account) {
	t.Helper()
	if _, err := st.Put(context.Background(), a.Pub, a.JWT); err != nil {
		t.Fatalf("put %s: %v", a.Claims.Name, err)
	}
}

// countingStore counts the reads that reach a real store.
type countingStore struct {
	store.Store
	gets atomic.Int64
}

func (c *countingStore) Get(ctx context.Context, account string) (store.Record, error) {
	c.gets.Add(1)
	return c.Store.Get(ctx, account)
}

// watchingCountingStore is a countingStore that keeps the store's Watch.
type watchingCountingStore struct{ *countingStore }

func (w watchingCountingStore) Watch(ctx context.Context) (<-chan store.Event, error) {
	return w.Store.(store.Watcher).Watch(ctx)
}

// outageStore injects outage errors in front of a real store; nothing else.
type outageStore struct {
	store.Store
	down atomic.Bool
}

var errOutage = errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")

func (o *outageStore) Get(ctx context.Context, account string) (store.Record, error) {
	if o.down.Load() {
		return store.Record{}, fmt.Errorf("get account %s: %w: %w", account, store.ErrUnavailable, errOutage)
	}
	return o.Store.Get(ctx, account)
}

func (o *outageStore) Watch(ctx context.Context) (<-chan store.Event, error) {
	return o.Store.(store.Watcher).Watch(ctx)
}

// logBuffer collects log output safely for assertions.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// node is an embedded nats-server in operator mode reading accounts
// through a Resolver.
type node struct {
	op  *testkit.Operator
	st  store.Store
	res *resolver.Resolver
	srv *server.Server
	sys *testkit.User
}

// startNode stores the system account in st and starts a server whose
// AccountResolver is a Resolver over st with opts (Policy and SystemConn
// filled in unless set).
func startNode(t *testing.T, op *testkit.Operator, st store.Store, opts resolver.Options, mods ...func(*server.Options)) *node {
	t.Helper()
	if _, err := st.Put(context.Background(), op.System.Pub, op.System.JWT); err != nil && !errors.Is(err, store.ErrStale) {
		t.Fatalf("put system account: %v", err)
	}
	n := &node{op: op, st: st, sys: op.System.NewUser(t, "sys", nil)}
	if opts.Policy == nil {
		opts.Policy = op.Policy()
	}
	if opts.SystemConn == nil {
		opts.SystemConn = func(ctx context.Context) (*nats.Conn, error) {
			seed, err := n.sys.KP.Seed()
			if err != nil {
				return nil, err
			}
			return nats.Connect("", nats.InProcessServer(n.srv), nats.UserJWTAndSeed(n.sys.JWT, string(seed)),
				nats.Name("natsauth-claims-responder"))
		}
	}
	n.res = resolver.New(st, opts)
	sopts := &server.Options{
		Host:             "127.0.0.1",
		Port:             -1,
		NoLog:            true,
		NoSigs:           true,
		TrustedOperators: []*jwt.OperatorClaims{op.Claims},
		SystemAccount:    op.System.Pub,
		AccountResolver:  n.res,
	}
	for _, m := range mods {
		m(sopts)
	}
	srv, err := server.NewServer(sopts)
	if err != nil {
		t.Fatalf("new server: %v", err)
	}
	n.srv = srv
	srv.Start()
	t.Cleanup(srv.Shutdown)
	if !srv.ReadyForConnections(5 * time.Second) {
		t.Fatal("server not ready")
	}
	select {
	case <-n.res.Ready():
	case <-time.After(5 * time.Second):
		t.Fatal("claims responder not ready")
	}
	return n
}

// connect connects user u and returns the connection and a channel
// closed when the connection closes.
func (n *node) connect(t *testing.T, u *testkit.User, extra ...nats.Option) (*nats.Conn, <-chan struct{}) {
	t.Helper()
	nc, closed, err := n.tryConnect(t, u, extra...)
	if err != nil {
		t.Fatalf("connect %s: %v", u.Claims.Name, err)
	}
	return nc, closed
}

// connectErr connects u once, closes the connection, and returns why the
// connect failed (nil when it succeeded).
func (n *node) connectErr(t *testing.T, u *testkit.User) error {
	t.Helper()
	nc, _, err := n.tryConnect(t, u)
	if err == nil {
		nc.Close()
	}
	return err
}

func (n *node) tryConnect(t *testing.T, u *testkit.User, extra ...nats.Option) (*nats.Conn, <-chan struct{}, error) {
	t.Helper()
	closed := make(chan struct{})
	var once sync.Once
	opts := append([]nats.Option{
		nats.UserCredentials(u.CredsFile(t)),
		nats.NoReconnect(),
		nats.Timeout(5 * time.Second),
		nats.ClosedHandler(func(*nats.Conn) { once.Do(func() { close(closed) }) }),
		nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}),
	}, extra...)
	nc, err := nats.Connect(n.srv.ClientURL(), opts...)
	if err != nil {
		return nil, nil, err
	}
	t.Cleanup(nc.Close)
	return nc, closed, nil
}

// sysConn connects as a system-account user, like `nsc push` does.
func (n *node) sysConn(t *testing.T) *nats.Conn {
	t.Helper()
	nc, _ := n.connect(t, n.sys)
	return nc
}

func waitClosed(t *testing.T, closed <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: connection was not closed", what)
	}
}

func assertOpen(t *testing.T, nc *nats.Conn, what string) {
	t.Helper()
	if err := nc.FlushTimeout(2 * time.Second); err != nil || !nc.IsConnected() {
		t.Fatalf("%s: connection should be open (err %v, status %v)", what, err, nc.Status())
	}
}

// eventually polls cond until it holds or 5 s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func contains(haystack, needle string) bool { return strings.Contains(haystack, needle) }
