package resolver

import (
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"golang.org/x/sync/singleflight"
)

// CachedResolver wraps another resolver with a TTL cache: the
// walkthrough's cached resolver, plus singleflight (concurrent fetches of
// one account make one underlying call). Expired entries are swept while
// fetching, so it runs no goroutine of its own.
type CachedResolver struct {
	underlying server.AccountResolver
	ttl        time.Duration
	clock      Clock
	sf         singleflight.Group

	mu        sync.Mutex
	cache     map[string]cachedJWT
	lastSweep time.Time
}

type cachedJWT struct {
	jwt       string
	expiresAt time.Time
}

var _ server.AccountResolver = (*CachedResolver)(nil)

// CacheOption configures a CachedResolver.
type CacheOption func(*CachedResolver)

// WithClock replaces the system clock (tests).
func WithClock(c Clock) CacheOption {
	return func(cr *CachedResolver) { cr.clock = c }
}

// NewCachedResolver caches the JWTs fetched from underlying for ttl
// (DefaultTTL if ttl <= 0).
func NewCachedResolver(underlying server.AccountResolver, ttl time.Duration, opts ...CacheOption) *CachedResolver {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	cr := &CachedResolver{underlying: underlying, ttl: ttl, clock: systemClock{}, cache: map[string]cachedJWT{}}
	for _, o := range opts {
		o(cr)
	}
	cr.lastSweep = cr.clock.Now()
	return cr
}

// Fetch returns the cached JWT of accountID, or fetches it from the
// underlying resolver when it is missing or expired. Errors are not cached.
func (cr *CachedResolver) Fetch(accountID string) (string, error) {
	now := cr.clock.Now()
	cr.mu.Lock()
	cr.sweepLocked(now)
	e, ok := cr.cache[accountID]
	cr.mu.Unlock()
	if ok && now.Before(e.expiresAt) {
		return e.jwt, nil
	}
	v, err, _ := cr.sf.Do(accountID, func() (any, error) {
		tok, err := cr.underlying.Fetch(accountID)
		if err != nil {
			return "", err
		}
		cr.mu.Lock()
		cr.cache[accountID] = cachedJWT{jwt: tok, expiresAt: cr.clock.Now().Add(cr.ttl)}
		cr.mu.Unlock()
		return tok, nil
	})
	if err != nil {
		return "", err
	}
	return v.(string), nil
}

// sweepLocked drops expired entries, at most every ttl/2.
func (cr *CachedResolver) sweepLocked(now time.Time) {
	if now.Sub(cr.lastSweep) < cr.ttl/2 {
		return
	}
	cr.lastSweep = now
	for k, e := range cr.cache {
		if !now.Before(e.expiresAt) {
			delete(cr.cache, k)
		}
	}
}

// Invalidate removes accountID from the cache.
func (cr *CachedResolver) Invalidate(accountID string) {
	cr.mu.Lock()
	delete(cr.cache, accountID)
	cr.mu.Unlock()
}

// Len reports how many JWTs are cached (expired ones included until swept).
func (cr *CachedResolver) Len() int {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	return len(cr.cache)
}

// Store stores through the underlying resolver and drops the cached copy.
func (cr *CachedResolver) Store(name, jwt string) error {
	defer cr.Invalidate(name)
	return cr.underlying.Store(name, jwt)
}

// IsReadOnly reports what the underlying resolver does.
func (cr *CachedResolver) IsReadOnly() bool { return cr.underlying.IsReadOnly() }

// Start starts the underlying resolver.
func (cr *CachedResolver) Start(s *server.Server) error { return cr.underlying.Start(s) }

// IsTrackingUpdate reports what the underlying resolver does.
func (cr *CachedResolver) IsTrackingUpdate() bool { return cr.underlying.IsTrackingUpdate() }

// Reload empties the cache and reloads the underlying resolver.
func (cr *CachedResolver) Reload() error {
	cr.clear()
	return cr.underlying.Reload()
}

// Close empties the cache and closes the underlying resolver.
func (cr *CachedResolver) Close() {
	cr.clear()
	cr.underlying.Close()
}

func (cr *CachedResolver) clear() {
	cr.mu.Lock()
	cr.cache = map[string]cachedJWT{}
	cr.mu.Unlock()
}
