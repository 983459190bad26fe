package resolver_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
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
)

// TestMemoryResolver is the walkthrough's own test.
func TestMemoryResolver(t *testing.T) {
	resolver := resolver.NewMemoryResolver()

	// Test Store and Fetch
	accountID := "ACCOUNT123"
	jwt := "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9..."

	err := resolver.Store(accountID, jwt)
	if err != nil {
		t.Fatalf("Store failed: %v", err)
	}

	fetched, err := resolver.Fetch(accountID)
	if err != nil {
		t.Fatalf("Fetch failed: %v", err)
	}

	if fetched != jwt {
		t.Errorf("Expected %s, got %s", jwt, fetched)
	}
	if got := resolver.List(); len(got) != 1 || got[0] != accountID {
		t.Errorf("List = %v, want [%s]", got, accountID)
	}

	// Test Delete
	err = resolver.Delete(accountID)
	if err != nil {
		t.Fatalf("Delete failed: %v", err)
	}

	_, err = resolver.Fetch(accountID)
	if err == nil {
		t.Error("Expected error after delete")
	}
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("error after delete = %v, want one wrapping store.ErrNotFound", err)
	}
}

// countingResolver counts the fetches that reach a MemoryResolver.
type countingResolver struct {
	*resolver.MemoryResolver
	fetches atomic.Int64
}

func (c *countingResolver) Fetch(name string) (string, error) {
	c.fetches.Add(1)
	return c.MemoryResolver.Fetch(name)
}

// TestCachedResolver is the walkthrough's test with a fake clock instead
// of time.Sleep, checking that the cache is really used and refreshed.
func TestCachedResolver(t *testing.T) {
	underlying := &countingResolver{MemoryResolver: resolver.NewMemoryResolver()}
	underlying.Store("ACC1", "jwt1")
	clk := newFakeClock()

	cached := resolver.NewCachedResolver(underlying, 1*time.Second, resolver.WithClock(clk))
	defer cached.Close()

	// First fetch - cache miss
	jwt1, _ := cached.Fetch("ACC1")

	// Second fetch - cache hit
	underlying.Store("ACC1", "jwt2")
	jwt2, _ := cached.Fetch("ACC1")

	if jwt1 != jwt2 || jwt1 != "jwt1" {
		t.Errorf("Cache not working: %q then %q", jwt1, jwt2)
	}
	if got := underlying.fetches.Load(); got != 1 {
		t.Errorf("underlying fetches within TTL = %d, want 1", got)
	}

	// "Wait" for expiry
	clk.Advance(2 * time.Second)

	// Should fetch from underlying again
	jwt3, _ := cached.Fetch("ACC1")
	if jwt3 != "jwt2" {
		t.Errorf("Expired cache not refreshed: got %q, want jwt2", jwt3)
	}
	if got := underlying.fetches.Load(); got != 2 {
		t.Errorf("underlying fetches after TTL = %d, want 2", got)
	}
}

func TestCachedResolverInvalidateSweepAndErrors(t *testing.T) {
	underlying := &countingResolver{MemoryResolver: resolver.NewMemoryResolver()}
	for _, k := range []string{"A", "B", "C"} {
		underlying.Store(k, "jwt-"+k)
	}
	clk := newFakeClock()
	cached := resolver.NewCachedResolver(underlying, time.Minute, resolver.WithClock(clk))
	for _, k := range []string{"A", "B", "C"} {
		if _, err := cached.Fetch(k); err != nil {
			t.Fatal(err)
		}
	}
	cached.Invalidate("A")
	if cached.Len() != 2 {
		t.Fatalf("after Invalidate: %d cached, want 2", cached.Len())
	}
	// Errors are not cached.
	if _, err := cached.Fetch("MISSING"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("fetch missing: %v", err)
	}
	underlying.Store("MISSING", "late")
	if got, err := cached.Fetch("MISSING"); err != nil || got != "late" {
		t.Fatalf("fetch after store: %q, %v", got, err)
	}
	// Expired entries are swept by later fetches; no goroutine needed.
	clk.Advance(2 * time.Minute)
	if _, err := cached.Fetch("B"); err != nil {
		t.Fatal(err)
	}
	if cached.Len() != 1 {
		t.Fatalf("after the sweep: %d cached, want 1 (B, refetched)", cached.Len())
	}
	// Concurrent fetches of one account make one underlying call.
	clk.Advance(2 * time.Minute)
	before := underlying.fetches.Load()
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 100 {
		wg.Go(func() {
			<-start
			_, _ = cached.Fetch("C")
		})
	}
	close(start)
	wg.Wait()
	if got := underlying.fetches.Load() - before; got != 1 {
		t.Fatalf("underlying fetches for 100 concurrent fetches = %d, want 1", got)
	}
}

// embedded starts a server in operator mode with ar as AccountResolver.
func embedded(t testing.TB, op *testkit.Operator, ar server.AccountResolver) *server.Server {
	t.Helper()
	srv, err := server.NewServer(&server.Options{
		Host:             "127.0.0.1",
		Port:             -1,
		NoLog:            true,
		NoSigs:           true,
		TrustedOperators: []*jwt.OperatorClaims{op.Claims},
		SystemAccount:    op.System.Pub,
		AccountResolver:  ar,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	t.Cleanup(srv.Shutdown)
	if !srv.ReadyForConnections(5 * time.Second) {
		t.Fatal("server not ready")
	}
	return srv
}

func dial(t *testing.T, srv *server.Server, u *testkit.User) error {
	t.Helper()
	nc, err := nats.Connect(srv.ClientURL(), nats.UserCredentials(u.CredsFile(t)), nats.NoReconnect())
	if err != nil {
		return err
	}
	defer nc.Close()
	return nc.Flush()
}

func TestMemoryResolverServesEmbeddedServer(t *testing.T) {
	op := testkit.NewOperator(t)
	a := op.NewAccount(t, "A", nil)
	rogue := testkit.NewOperator(t).NewAccount(t, "ROGUE", nil)
	mr := resolver.NewMemoryResolver()
	for _, acc := range []*testkit.Account{op.System, a, rogue} {
		if err := mr.Store(acc.Pub, acc.JWT); err != nil {
			t.Fatal(err)
		}
	}
	srv := embedded(t, op, mr)
	if err := dial(t, srv, a.NewUser(t, "alice", nil)); err != nil {
		t.Fatalf("connect through the memory resolver: %v", err)
	}
	// nats-server checks the issuer of what a resolver returns.
	if err := dial(t, srv, rogue.NewUser(t, "eve", nil)); err == nil {
		t.Fatal("account signed by another operator admitted")
	}
}

func TestHTTPResolver(t *testing.T) {
	op := testkit.NewOperator(t)
	a := op.NewAccount(t, "A", nil)
	var requests atomic.Int64
	accounts := map[string]string{op.System.Pub: op.System.JWT, a.Pub: a.JWT}
	boom := op.NewAccount(t, "BOOM", nil)
	// The walkthrough's JWT server.
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		id := strings.TrimPrefix(r.URL.Path, "/accounts/")
		if id == boom.Pub {
			http.Error(w, "database is down", http.StatusServiceUnavailable)
			return
		}
		tok, ok := accounts[id]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/jwt")
		_, _ = w.Write([]byte(tok))
	}))
	t.Cleanup(ts.Close)
	hr := resolver.NewHTTPResolver(ts.URL + "/accounts")

	if got, err := hr.Fetch(a.Pub); err != nil || got != a.JWT {
		t.Fatalf("fetch: %q, %v", got, err)
	}
	if _, err := hr.Fetch(op.NewAccount(t, "X", nil).Pub); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("fetch unknown: %v, want ErrNotFound", err)
	}
	if _, err := hr.Fetch(boom.Pub); !errors.Is(err, store.ErrUnavailable) || !strings.Contains(err.Error(), "503") {
		t.Fatalf("fetch on a failing server: %v, want ErrUnavailable naming the status", err)
	}
	before := requests.Load()
	if _, err := hr.Fetch("../../etc/passwd"); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("fetch of a non-key: %v, want ErrInvalid", err)
	}
	if requests.Load() != before {
		t.Fatal("a non-key reached the HTTP server")
	}
	if err := hr.Store(a.Pub, a.JWT); !errors.Is(err, store.ErrReadOnly) || !hr.IsReadOnly() {
		t.Fatalf("store on the HTTP resolver: %v, want ErrReadOnly", err)
	}

	// Cached, as server.Options.AccountResolver.
	cached := resolver.NewCachedResolver(hr, time.Minute)
	srv := embedded(t, op, cached)
	if err := dial(t, srv, a.NewUser(t, "alice", nil)); err != nil {
		t.Fatalf("connect through the cached HTTP resolver: %v", err)
	}
}
