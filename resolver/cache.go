package resolver

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/natsauth/natsauth/store"
	"github.com/natsauth/natsauth/trust"
)

// entry is what the cache knows about one account.
type entry struct {
	jwt      string    // last good JWT; empty for a negative entry
	checked  time.Time // when the store last confirmed it; zero = expired
	negative bool      // the store said the account does not exist
	warned   uint64    // outage in which serving it stale was logged
}

type fetchResult struct {
	jwt     string
	outcome string
}

// fetch serves account name from the cache or the store.
func (r *Resolver) fetch(name string) (string, string, error) {
	if err := trust.CheckAccountKey(name); err != nil {
		return "", OutcomeError, fmt.Errorf("fetch account: %w", err)
	}
	if tok, outcome, err, done := r.fromCache(name); done {
		return tok, outcome, err
	}
	v, err, _ := r.sf.Do(name, func() (any, error) {
		// A caller that missed the cache may get here after an earlier
		// flight filled it: look again before reading the store.
		if tok, outcome, err, done := r.fromCache(name); done {
			return fetchResult{tok, outcome}, err
		}
		return r.load(name)
	})
	res, _ := v.(fetchResult)
	if err != nil && res.outcome == "" {
		res.outcome = OutcomeError
	}
	return res.jwt, res.outcome, err
}

// fromCache answers from the cache when it can: a fresh entry, a fresh
// negative entry, or — while the store is known to be down — the last good
// JWT or a fast failure. done is false when the store must be asked.
func (r *Resolver) fromCache(name string) (tok, outcome string, err error, done bool) {
	now := r.clock.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.cache[name]
	switch {
	case e != nil && e.negative && now.Sub(e.checked) < r.opts.NegativeTTL:
		r.negative.Add(1)
		return "", OutcomeNegative, notFound(name), true
	case e != nil && !e.negative && r.fresh(e, now):
		r.hits.Add(1)
		return e.jwt, OutcomeHit, nil, true
	case now.Before(r.downUntil):
		if e != nil && !e.negative {
			return r.serveStaleLocked(name, e), OutcomeStale, nil, true
		}
		return "", OutcomeError, r.unavailableLocked(name), true
	}
	return "", "", nil, false
}

// fresh reports whether a positive entry may be served without the store.
func (r *Resolver) fresh(e *entry, now time.Time) bool {
	if e.checked.IsZero() {
		return false
	}
	ttl := r.opts.TTL
	if ttl == NoExpiry {
		if r.watchLive.Load() {
			return true
		}
		ttl = DefaultTTL
	}
	return now.Sub(e.checked) < ttl
}

// load reads account name from the store and caches the answer.
func (r *Resolver) load(name string) (fetchResult, error) {
	timeout := r.opts.FetchTimeout
	r.mu.Lock()
	if e := r.cache[name]; r.down && e != nil && !e.negative {
		// The store is failing and a last good JWT is at hand: do not let
		// a hanging store hold up the connecting client for long.
		timeout = min(timeout, probeTimeout)
	}
	r.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	rec, err := r.st.Get(ctx, name)
	r.misses.Add(1)
	now := r.clock.Now()
	if err == nil || errors.Is(err, store.ErrNotFound) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.upLocked()
		if err != nil {
			r.cache[name] = &entry{negative: true, checked: now}
			return fetchResult{"", OutcomeNegative}, notFound(name)
		}
		r.cache[name] = &entry{jwt: rec.JWT, checked: now}
		return fetchResult{rec.JWT, OutcomeMiss}, nil
	}
	r.storeError("get", err)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.downLocked(now, err)
	if e := r.cache[name]; e != nil && !e.negative {
		return fetchResult{r.serveStaleLocked(name, e), OutcomeStale}, nil
	}
	return fetchResult{"", OutcomeError}, fmt.Errorf(
		"fetch account %s: account store failed and no earlier copy of this account is cached: %w", name, err)
}

// serveStaleLocked returns the last good JWT while the store is down,
// logging it once per account per outage.
func (r *Resolver) serveStaleLocked(name string, e *entry) string {
	r.stale.Add(1)
	if e.warned != r.outage {
		e.warned = r.outage
		r.log.Warn("account store unavailable: serving the last known JWT of the account",
			"account", name, "cached_at", e.checked, "error", r.lastErr)
	}
	return e.jwt
}

func (r *Resolver) unavailableLocked(name string) error {
	return fmt.Errorf("fetch account %s: account store unavailable (%v) and no earlier copy of this account is cached; next try after %s",
		name, r.lastErr, r.downUntil.Format(time.RFC3339))
}

// downLocked records a store failure: Fetch stops asking the store for
// storeRetry and serves from the cache meanwhile.
func (r *Resolver) downLocked(now time.Time, err error) {
	if !r.down {
		r.down = true
		r.outage++
		r.log.Warn("account store unavailable: serving cached JWTs, refusing accounts never seen", "error", err)
	}
	r.lastErr = err
	r.downUntil = now.Add(storeRetry)
}

// upLocked records a store success, ending an outage.
func (r *Resolver) upLocked() {
	if r.down {
		r.down = false
		r.downUntil = time.Time{}
		r.log.Info("account store available again")
	}
}

// remember caches token as the current JWT of account.
func (r *Resolver) remember(account, token string) {
	now := r.clock.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.cache[account]
	if e == nil {
		e = &entry{}
		r.cache[account] = e
	}
	e.jwt, e.negative, e.checked = token, false, now
}

// changed updates a cached account to token (or expires it when token is
// empty) after the store reported a change. Accounts not cached stay so:
// the cache holds only what this server asked for.
func (r *Resolver) changed(account, token string) {
	now := r.clock.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.cache[account]
	switch {
	case e == nil:
	case e.negative:
		delete(r.cache, account)
	case token != "":
		e.jwt, e.checked = token, now
	default:
		e.checked = time.Time{}
	}
}

// forget records that account was deleted.
func (r *Resolver) forget(account string) {
	now := r.clock.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cache[account] = &entry{negative: true, checked: now}
}

// expireAll makes every entry stale: the next Fetch asks the store, but the
// last good JWTs stay available should the store fail.
func (r *Resolver) expireAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, e := range r.cache {
		if e.negative {
			delete(r.cache, k)
			continue
		}
		e.checked = time.Time{}
	}
}

// Invalidate drops what the cache knows about account, so that the next
// Fetch reads the store. The last good JWT stays available should the
// store fail.
func (r *Resolver) Invalidate(account string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.cache[account]
	switch {
	case e == nil:
	case e.negative:
		delete(r.cache, account)
	default:
		e.checked = time.Time{}
	}
}

func notFound(name string) error {
	return fmt.Errorf("fetch account %s: %w", name, store.ErrNotFound)
}
