package resolver

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/natsauth/natsauth/store"
	"github.com/natsauth/natsauth/trust"
)

// entry is what the cache knows about one account. Its state is replaced
// atomically, so that a cache hit takes no lock.
type entry struct {
	state  atomic.Pointer[state]
	warned atomic.Uint64 // outage in which serving it stale was logged
}

// state is one immutable version of an entry.
type state struct {
	jwt      string // last good JWT; empty for a negative entry
	checked  int64  // unix ns when the store last confirmed it; 0 = expired
	negative bool   // the store said the account does not exist
}

type fetchResult struct {
	jwt     string
	outcome string
}

// entryFor returns the entry of account, making an empty one if needed.
func (r *Resolver) entryFor(account string) *entry {
	if e, ok := r.cache.Load(account); ok {
		return e.(*entry)
	}
	e, _ := r.cache.LoadOrStore(account, &entry{})
	return e.(*entry)
}

// lookup returns the current state of account, or nil.
func (r *Resolver) lookup(account string) *state {
	if e, ok := r.cache.Load(account); ok {
		return e.(*entry).state.Load()
	}
	return nil
}

// fetch serves account name from the cache or the store.
func (r *Resolver) fetch(name string) (string, string, error) {
	if res, ok, err := r.cached(name); ok {
		return res.jwt, res.outcome, err
	}
	// Only a key that is not cached yet needs checking (the cache holds
	// nothing but keys the store has answered for).
	if err := trust.CheckAccountKey(name); err != nil {
		return "", OutcomeError, fmt.Errorf("fetch account: %w", err)
	}
	if tok, ok := r.fromLocal(name); ok {
		r.remember(name, tok)
		return tok, OutcomeLocal, nil
	}
	if res, done, err := r.whileDown(name); done {
		return res.jwt, res.outcome, err
	}
	v, err, _ := r.sf.Do(name, func() (any, error) {
		// A caller that missed the cache may get here after an earlier
		// flight filled it: look again before reading the store.
		if res, ok, err := r.cached(name); ok {
			return res, err
		}
		return r.load(name)
	})
	res, _ := v.(fetchResult)
	if err != nil && res.outcome == "" {
		res.outcome = OutcomeError
	}
	return res.jwt, res.outcome, err
}

// cached answers from a fresh entry or a fresh negative entry, taking no
// lock. ok is false when the store must be asked.
func (r *Resolver) cached(name string) (fetchResult, bool, error) {
	st := r.lookup(name)
	if st == nil {
		return fetchResult{}, false, nil
	}
	now := r.now()
	switch {
	case st.negative && now-st.checked < int64(r.opts.NegativeTTL):
		r.negative.Add(1)
		return fetchResult{"", OutcomeNegative}, true, notFound(name)
	case !st.negative && r.fresh(st, now):
		return fetchResult{st.jwt, OutcomeHit}, true, nil
	}
	return fetchResult{}, false, nil
}

// whileDown answers at once while the store is known to be down: the last
// good JWT, or a fast failure. done is false when the store may be asked.
func (r *Resolver) whileDown(name string) (fetchResult, bool, error) {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if now >= r.downUntil {
		return fetchResult{}, false, nil
	}
	if e, ok := r.cache.Load(name); ok {
		if st := e.(*entry).state.Load(); st != nil && !st.negative {
			return fetchResult{r.serveStaleLocked(name, e.(*entry), st), OutcomeStale}, true, nil
		}
	}
	if tok, ok := r.staleFromLocalLocked(name); ok {
		return fetchResult{tok, OutcomeStale}, true, nil
	}
	return fetchResult{"", OutcomeError}, true, r.unavailableLocked(name)
}

// fresh reports whether a positive entry may be served without the store.
func (r *Resolver) fresh(st *state, now int64) bool {
	if st.checked == 0 {
		return false
	}
	ttl := r.opts.TTL
	if ttl == NoExpiry {
		if r.watchLive.Load() {
			return true
		}
		ttl = DefaultTTL
	}
	return now-st.checked < int64(ttl)
}

// load reads account name from the store and caches the answer, unless
// the store reported a change meanwhile (then that newer answer stays).
func (r *Resolver) load(name string) (fetchResult, error) {
	e := r.entryFor(name)
	before := e.state.Load()
	timeout := r.opts.FetchTimeout
	fallback := before != nil && !before.negative
	r.mu.Lock()
	down := r.down
	r.mu.Unlock()
	if down && !fallback && r.local != nil {
		_, fallback = r.local.get(name)
	}
	r.mu.Lock()
	if down && fallback {
		// The store is failing and a last good JWT is at hand: do not let
		// a hanging store hold up the connecting client for long.
		timeout = min(timeout, probeTimeout)
	}
	r.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	rec, err := r.st.Get(ctx, name)
	r.misses.Add(1)
	now := r.now()
	if err == nil || errors.Is(err, store.ErrNotFound) {
		r.mu.Lock()
		r.upLocked()
		r.mu.Unlock()
		next := &state{jwt: rec.JWT, checked: now}
		if err != nil {
			next = &state{negative: true, checked: now}
		}
		for cur := before; !e.state.CompareAndSwap(cur, next); {
			cur = e.state.Load()
			if cur != nil && cur.checked != 0 {
				next = cur // the store reported a change meanwhile: it is newer
				break
			}
		}
		if next.negative {
			return fetchResult{"", OutcomeNegative}, notFound(name)
		}
		return fetchResult{next.jwt, OutcomeMiss}, nil
	}
	r.storeError("get", err)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.downLocked(now, err)
	if st := e.state.Load(); st != nil && !st.negative {
		return fetchResult{r.serveStaleLocked(name, e, st), OutcomeStale}, nil
	}
	if tok, ok := r.staleFromLocalLocked(name); ok {
		return fetchResult{tok, OutcomeStale}, nil
	}
	return fetchResult{"", OutcomeError}, fmt.Errorf(
		"fetch account %s: account store failed and no earlier copy of this account is cached: %w", name, err)
}

// serveStaleLocked returns the last good JWT while the store is down,
// logging it once per account per outage.
func (r *Resolver) serveStaleLocked(name string, e *entry, st *state) string {
	r.stale.Add(1)
	if e.warned.Swap(r.outage) != r.outage {
		r.log.Warn("account store unavailable: serving the last known JWT of the account",
			"account", name, "cached_at", time.Unix(0, st.checked), "error", r.lastErr)
	}
	return st.jwt
}

func (r *Resolver) unavailableLocked(name string) error {
	return fmt.Errorf("fetch account %s: account store unavailable (%v) and no earlier copy of this account is cached; next try after %s",
		name, r.lastErr, time.Unix(0, r.downUntil).Format(time.RFC3339))
}

// downLocked records a store failure: Fetch stops asking the store for
// storeRetry and serves from the cache meanwhile.
func (r *Resolver) downLocked(now int64, err error) {
	if !r.down {
		r.down = true
		r.outage++
		r.log.Warn("account store unavailable: serving cached JWTs, refusing accounts never seen", "error", err)
	}
	r.lastErr = err
	r.downUntil = now + int64(storeRetry)
}

// upLocked records a store success, ending an outage.
func (r *Resolver) upLocked() {
	if r.down {
		r.down = false
		r.downUntil = 0
		r.log.Info("account store available again")
	}
}

// remember caches token as the current JWT of account.
func (r *Resolver) remember(account, token string) {
	r.entryFor(account).state.Store(&state{jwt: token, checked: r.now()})
}

// changed updates a cached account to token (or expires it when token is
// empty) after the store reported a change. Accounts not cached stay so:
// the cache holds only what this server asked for.
func (r *Resolver) changed(account, token string) {
	v, ok := r.cache.Load(account)
	if !ok {
		return
	}
	e := v.(*entry)
	if st := e.state.Load(); token != "" && st != nil && !st.negative {
		e.state.Store(&state{jwt: token, checked: r.now()})
		return
	}
	e.expire()
}

// forget records that account was deleted.
func (r *Resolver) forget(account string) {
	r.entryFor(account).state.Store(&state{negative: true, checked: r.now()})
}

// expireAll makes every entry stale: the next Fetch asks the store, but the
// last good JWTs stay available should the store fail.
func (r *Resolver) expireAll() {
	r.cache.Range(func(_, v any) bool {
		v.(*entry).expire()
		return true
	})
}

// Invalidate drops what the cache knows about account, so that the next
// Fetch reads the store. The last good JWT stays available should the
// store fail.
func (r *Resolver) Invalidate(account string) {
	if v, ok := r.cache.Load(account); ok {
		v.(*entry).expire()
	}
}

// expire drops a negative entry and marks a positive one as needing a
// store read, keeping its JWT for stale serving.
func (e *entry) expire() {
	switch st := e.state.Load(); {
	case st == nil:
	case st.negative:
		e.state.Store(nil)
	default:
		e.state.Store(&state{jwt: st.jwt})
	}
}

func notFound(name string) error {
	return fmt.Errorf("fetch account %s: %w", name, store.ErrNotFound)
}
