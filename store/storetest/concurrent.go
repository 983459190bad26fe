package storetest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"

	"github.com/nats-io/jwt/v2"

	"github.com/natsauth/natsauth/internal/testkit"
	"github.com/natsauth/natsauth/store"
)

// versions signs n JWTs of acc with increasing iat (1000, 1001, ...).
func versions(e *env, acc *testkit.Account, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = acc.Reissue(e.t, int64(1000+i), func(ac *jwt.AccountClaims) { ac.Limits.Conn = int64(i) })
	}
	return out
}

// instances returns n handles to write through, reading handles alike:
// alternating between two instances when the backend is shared.
func (e *env) instances() (writers, readers [2]store.Store) {
	writers = [2]store.Store{e.w, e.w}
	readers = [2]store.Store{e.r, e.r}
	if e.b.Shared || e.b.ReadOnly {
		writers[1] = e.writer(e.t)
	}
	if e.b.Shared {
		readers[1] = writers[1]
	}
	return writers, readers
}

func testConcurrent(e *env) {
	const (
		goroutines = 32
		shared     = 6
		perAccount = 24
		iterations = 30
	)
	accs := make([]*testkit.Account, shared)
	vers := make([][]string, shared)
	for i := range accs {
		accs[i] = e.op.NewAccount(e.t, fmt.Sprintf("S%d", i), nil)
		vers[i] = versions(e, accs[i], perAccount)
	}
	private := make([]*testkit.Account, goroutines)
	for i := range private {
		private[i] = e.op.NewAccount(e.t, fmt.Sprintf("P%d", i), nil)
	}
	writers, readers := e.instances()

	var mu sync.Mutex
	maxPut := make([]int, shared) // highest version index offered per account
	for i := range maxPut {
		maxPut[i] = -1
	}
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			w, r := writers[g%2], readers[g%2]
			mine := private[g]
			for range iterations {
				k := rng.IntN(shared)
				v := rng.IntN(perAccount)
				mu.Lock()
				maxPut[k] = max(maxPut[k], v)
				mu.Unlock()
				_, err := w.Put(e.ctx, accs[k].Pub, vers[k][v])
				if err != nil && !errors.Is(err, store.ErrStale) {
					e.t.Errorf("put S%d v%d: %v", k, v, err)
					return
				}
				rec, err := r.Get(e.ctx, accs[k].Pub)
				if err != nil {
					e.t.Errorf("get S%d: %v", k, err)
					return
				}
				if !slices.Contains(vers[k], rec.JWT) {
					e.t.Errorf("get S%d returned a jwt that was never written", k)
					return
				}
				if _, err := w.Put(e.ctx, mine.Pub, mine.JWT); err != nil {
					e.t.Errorf("put private: %v", err)
					return
				}
				if got, err := r.Get(e.ctx, mine.Pub); err != nil || got.JWT != mine.JWT {
					e.t.Errorf("get private: %v", err)
					return
				}
				if err := w.Delete(e.ctx, mine.Pub); err != nil {
					e.t.Errorf("delete private: %v", err)
					return
				}
				if _, err := r.List(e.ctx); err != nil {
					e.t.Errorf("list: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if e.t.Failed() {
		return
	}
	for k, acc := range accs {
		if maxPut[k] < 0 {
			e.wantNotFound(acc.Pub)
			continue
		}
		got := e.mustGet(acc.Pub)
		if got.JWT != vers[k][maxPut[k]] {
			e.t.Errorf("S%d holds iat %d, want the newest offered, iat %d", k, got.IssuedAt, 1000+maxPut[k])
		}
	}
	for _, p := range private {
		e.wantNotFound(p.Pub)
	}
}

func testNewerOnlyRace(e *env) {
	const rounds = 40
	writers, _ := e.instances()
	acc := e.op.NewAccount(e.t, "R", nil)
	vers := versions(e, acc, 2*rounds)
	for r := range rounds {
		older, newer := vers[2*r], vers[2*r+1]
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, tok := range []string{older, newer} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				// Alternate which instance gets the newer JWT.
				_, err := writers[(i+r)%2].Put(e.ctx, acc.Pub, tok)
				if err != nil && !errors.Is(err, store.ErrStale) {
					e.t.Errorf("round %d put: %v", r, err)
				}
			}()
		}
		close(start)
		wg.Wait()
		got := e.mustGet(acc.Pub)
		if got.JWT != newer {
			e.t.Fatalf("round %d: stored iat %d, want the newer iat %d (lost update)", r, got.IssuedAt, 1001+2*r)
		}
	}
}
