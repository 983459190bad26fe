package resolver_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/natsauth/natsauth/internal/testkit"
	"github.com/natsauth/natsauth/resolver"
	"github.com/natsauth/natsauth/store"
)

func TestFetchServesFromCacheUntilTTL(t *testing.T) {
	op := testkit.NewOperator(t)
	a := op.NewAccount(t, "A", nil)
	cs := &countingStore{Store: memStore(t, op)}
	mustPut(t, cs, a)
	clk := newFakeClock()
	obs := &recordingObserver{}
	r := resolver.New(cs, resolver.Options{TTL: time.Minute, Clock: clk, Observer: obs})

	for i := range 3 {
		got, err := r.Fetch(a.Pub)
		if err != nil || got != a.JWT {
			t.Fatalf("fetch %d: got %.20q, %v; want the stored jwt", i, got, err)
		}
	}
	if got := cs.gets.Load(); got != 1 {
		t.Fatalf("store reads within TTL = %d, want 1", got)
	}
	clk.Advance(time.Minute)
	if _, err := r.Fetch(a.Pub); err != nil {
		t.Fatal(err)
	}
	if got := cs.gets.Load(); got != 2 {
		t.Fatalf("store reads after TTL = %d, want 2", got)
	}
	if got, want := r.Stats(), (resolver.Stats{Misses: 2}); got != want {
		t.Fatalf("stats = %+v, want %+v", got, want)
	}
	if got, want := obs.outcomeList(), []string{"miss", "hit", "hit", "miss"}; !slices.Equal(got, want) {
		t.Fatalf("outcomes = %v, want %v", got, want)
	}
}

func TestSingleflightOneStoreReadForThousandConcurrentFetches(t *testing.T) {
	op := testkit.NewOperator(t)
	a := op.NewAccount(t, "A", nil)
	cs := &countingStore{Store: memStore(t, op)}
	mustPut(t, cs, a)
	r := resolver.New(cs, resolver.Options{Clock: newFakeClock()})

	const n = 1000
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			<-start
			got, err := r.Fetch(a.Pub)
			if err == nil && got != a.JWT {
				err = errors.New("wrong jwt")
			}
			if err != nil {
				errs <- err
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := cs.gets.Load(); got != 1 {
		t.Fatalf("store reads for %d concurrent fetches of one account = %d, want exactly 1", n, got)
	}
}

func TestStaleOnErrorServesLastGoodJWTAndLogsOncePerOutage(t *testing.T) {
	op := testkit.NewOperator(t)
	a := op.NewAccount(t, "A", nil)
	never := op.NewAccount(t, "NEVER", nil)
	os := &outageStore{Store: memStore(t, op)}
	mustPut(t, os, a)
	mustPut(t, os, never)
	cs := &countingStore{Store: os}
	clk := newFakeClock()
	var logs logBuffer
	r := resolver.New(cs, resolver.Options{TTL: time.Minute, Clock: clk, Logger: logs.logger()})

	if _, err := r.Fetch(a.Pub); err != nil {
		t.Fatal(err)
	}
	os.down.Store(true)
	clk.Advance(2 * time.Minute) // the cached copy is expired: the store is asked
	for i := range 3 {
		got, err := r.Fetch(a.Pub)
		if err != nil || got != a.JWT {
			t.Fatalf("fetch %d during outage: got %.20q, %v; want the last good jwt", i, got, err)
		}
		clk.Advance(2 * time.Second) // past the retry interval: ask the store again
	}
	if got := strings.Count(logs.String(), "serving the last known JWT"); got != 1 {
		t.Fatalf("stale warnings for one account in one outage = %d, want 1; log:\n%s", got, logs.String())
	}

	// An account never seen fails, naming the store problem, and fast:
	// within the retry interval the store is not asked again.
	reads := cs.gets.Load()
	_, err := r.Fetch(never.Pub)
	if err == nil || !strings.Contains(err.Error(), "connection refused") || !strings.Contains(err.Error(), never.Pub) {
		t.Fatalf("fetch of a never-seen account during outage: err = %v, want one naming the account and the store failure", err)
	}
	_, err = r.Fetch(never.Pub)
	if err == nil || !strings.Contains(err.Error(), "account store unavailable") {
		t.Fatalf("second fetch: err = %v, want a fast 'account store unavailable'", err)
	}
	if got := cs.gets.Load() - reads; got != 1 {
		t.Fatalf("store reads for two fetches of a never-seen account in the retry interval = %d, want 1", got)
	}

	// The store returns: fresh reads again; a second outage warns again.
	os.down.Store(false)
	clk.Advance(2 * time.Second)
	if got, err := r.Fetch(never.Pub); err != nil || got != never.JWT {
		t.Fatalf("fetch after recovery: %v", err)
	}
	if _, err := r.Fetch(a.Pub); err != nil {
		t.Fatal(err)
	}
	os.down.Store(true)
	clk.Advance(2 * time.Minute)
	if _, err := r.Fetch(a.Pub); err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(logs.String(), "serving the last known JWT"); got != 2 {
		t.Fatalf("stale warnings after a second outage = %d, want 2", got)
	}
	if st := r.Stats(); st.StaleServes != 4 || st.StoreErrors == 0 {
		t.Fatalf("stats = %+v, want 4 stale serves and some store errors", st)
	}
}

func TestNegativeCacheForUnknownAccounts(t *testing.T) {
	op := testkit.NewOperator(t)
	c := op.NewAccount(t, "C", nil)
	cs := &countingStore{Store: memStore(t, op)} // no Watch: only the TTL helps
	clk := newFakeClock()
	// A negative TTL over the cap is clamped to one second.
	r := resolver.New(cs, resolver.Options{Clock: clk, NegativeTTL: time.Hour})

	for range 2 {
		if _, err := r.Fetch(c.Pub); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("fetch unknown: err = %v, want ErrNotFound", err)
		}
	}
	if got := cs.gets.Load(); got != 1 {
		t.Fatalf("store reads for an unknown account fetched twice = %d, want 1", got)
	}
	mustPut(t, cs, c)
	if _, err := r.Fetch(c.Pub); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("within the negative TTL: err = %v, want the cached ErrNotFound", err)
	}
	clk.Advance(resolver.MaxNegativeTTL)
	if got, err := r.Fetch(c.Pub); err != nil || got != c.JWT {
		t.Fatalf("after the negative TTL: %v", err)
	}
	if st := r.Stats(); st.NegativeHits != 2 {
		t.Fatalf("negative hits = %d, want 2", st.NegativeHits)
	}
}

func TestNoExpiryFallsBackToDefaultTTLWithoutWatch(t *testing.T) {
	op := testkit.NewOperator(t)
	a := op.NewAccount(t, "A", nil)
	cs := &countingStore{Store: memStore(t, op)}
	mustPut(t, cs, a)
	clk := newFakeClock()
	r := resolver.New(cs, resolver.Options{TTL: resolver.NoExpiry, Clock: clk})
	_, _ = r.Fetch(a.Pub)
	clk.Advance(resolver.DefaultTTL - time.Second)
	_, _ = r.Fetch(a.Pub)
	if got := cs.gets.Load(); got != 1 {
		t.Fatalf("reads before DefaultTTL = %d, want 1", got)
	}
	clk.Advance(time.Second)
	_, _ = r.Fetch(a.Pub)
	if got := cs.gets.Load(); got != 2 {
		t.Fatalf("reads after DefaultTTL without a watch = %d, want 2", got)
	}
}

func TestStoreValidatesAndCaches(t *testing.T) {
	op := testkit.NewOperator(t)
	a := op.NewAccount(t, "A", nil)
	cs := &countingStore{Store: memStore(t, op)}
	r := resolver.New(cs, resolver.Options{Clock: newFakeClock()})

	other := testkit.NewOperator(t)
	if err := r.Store(a.Pub, a.SignWith(t, other.SigningKP)); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("store foreign-signed jwt: err = %v, want ErrInvalid", err)
	}
	if err := r.Store(a.Pub, a.JWT); err != nil {
		t.Fatal(err)
	}
	if got, err := r.Fetch(a.Pub); err != nil || got != a.JWT {
		t.Fatalf("fetch after store: %v", err)
	}
	if got := cs.gets.Load(); got != 0 {
		t.Fatalf("store reads after Store = %d, want 0 (cached)", got)
	}
	older := a.Reissue(t, time.Now().Add(-time.Hour).Unix(), nil)
	if err := r.Store(a.Pub, older); !errors.Is(err, store.ErrStale) {
		t.Fatalf("store older jwt: err = %v, want ErrStale", err)
	}
	if r.IsReadOnly() || !r.IsTrackingUpdate() {
		t.Fatal("Resolver must be writable and track updates")
	}
}

type recordingObserver struct {
	mu       sync.Mutex
	outcomes []string
	storeOps []string
}

func (o *recordingObserver) FetchDone(_ string, _ time.Duration, outcome string) {
	o.mu.Lock()
	o.outcomes = append(o.outcomes, outcome)
	o.mu.Unlock()
}

func (o *recordingObserver) StoreError(op string, _ error) {
	o.mu.Lock()
	o.storeOps = append(o.storeOps, op)
	o.mu.Unlock()
}

func (o *recordingObserver) Applied(string, time.Duration) {}

func (o *recordingObserver) outcomeList() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.outcomes)
}

func TestObserverSeesEveryOutcome(t *testing.T) {
	op := testkit.NewOperator(t)
	a := op.NewAccount(t, "A", nil)
	b := op.NewAccount(t, "B", nil)
	os := &outageStore{Store: memStore(t, op)}
	mustPut(t, os, a)
	clk := newFakeClock()
	obs := &recordingObserver{}
	r := resolver.New(os, resolver.Options{TTL: time.Minute, Clock: clk, Observer: obs})

	_, _ = r.Fetch(a.Pub) // miss
	_, _ = r.Fetch(a.Pub) // hit
	_, _ = r.Fetch(b.Pub) // negative
	os.down.Store(true)
	clk.Advance(time.Hour)
	_, _ = r.Fetch(a.Pub)                     // stale
	if _, err := r.Fetch(b.Pub); err == nil { // error: b's negative entry expired
		t.Fatal("fetch of unknown account during outage succeeded")
	}
	want := []string{"miss", "hit", "negative", "stale", "error"}
	if strings.Join(obs.outcomes, ",") != strings.Join(want, ",") {
		t.Fatalf("outcomes = %v, want %v", obs.outcomes, want)
	}
	if len(obs.storeOps) != 1 || obs.storeOps[0] != "get" {
		t.Fatalf("store errors = %v, want [get]", obs.storeOps)
	}
}

func TestInvalidateForcesStoreRead(t *testing.T) {
	op := testkit.NewOperator(t)
	a := op.NewAccount(t, "A", nil)
	cs := &countingStore{Store: memStore(t, op)}
	mustPut(t, cs, a)
	r := resolver.New(cs, resolver.Options{Clock: newFakeClock()})
	_, _ = r.Fetch(a.Pub)
	newer := a.Reissue(t, time.Now().Add(time.Minute).Unix(), nil)
	if _, err := cs.Put(context.Background(), a.Pub, newer); err != nil {
		t.Fatal(err)
	}
	r.Invalidate(a.Pub)
	if got, _ := r.Fetch(a.Pub); got != newer {
		t.Fatal("fetch after Invalidate did not read the newer jwt")
	}
}
