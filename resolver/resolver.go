// Package resolver serves account JWTs to nats-server.
//
// Resolver makes any store.Store a server.AccountResolver for an embedded
// nats-server: a cache with a TTL, singleflight, stale-on-error and a short
// negative cache; live application of every change the store reports (from
// any writer) to the running server; and, over a system-account
// connection, answers to the $SYS claims protocol that `nsc push` and
// `nsc pull` speak to a `full` resolver. With a LocalCopy it keeps a
// last-known-good copy of every account of the store on local disk, so that
// every account connects while the store is down.
//
// The package also offers the small custom resolvers of the walkthrough
// (MemoryResolver, HTTPResolver and CachedResolver; the database resolver
// is in resolver/dbresolver), each usable
// as server.Options.AccountResolver.
package resolver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"golang.org/x/sync/singleflight"

	"github.com/natsauth/natsauth/store"
	"github.com/natsauth/natsauth/trust"
)

// Defaults for Options.
const (
	// DefaultTTL is how long a cached JWT is served before the store is
	// asked again.
	DefaultTTL = 5 * time.Minute
	// NoExpiry as Options.TTL keeps cached JWTs until the store's watch
	// reports a change; while no watch is live DefaultTTL applies.
	NoExpiry time.Duration = -1
	// DefaultNegativeTTL is how long "account not found" is remembered.
	DefaultNegativeTTL = time.Second
	// MaxNegativeTTL caps Options.NegativeTTL so that a new account is
	// usable within a second even when no watch reports it.
	MaxNegativeTTL = time.Second
	// DefaultFetchTimeout bounds one store read. nats-server calls Fetch
	// synchronously while a client connects.
	DefaultFetchTimeout = 2 * time.Second
	// storeRetry is how long after a store failure Fetch serves from the
	// cache (or fails fast) without asking the store again.
	storeRetry = time.Second
	// probeTimeout bounds a store read during an outage when the last good
	// JWT can be served instead.
	probeTimeout = 250 * time.Millisecond
	// writeTimeout bounds a store write.
	writeTimeout = 10 * time.Second
)

// Fetch outcomes reported to an Observer.
const (
	OutcomeHit      = "hit"      // served from the cache
	OutcomeMiss     = "miss"     // read from the store
	OutcomeStale    = "stale"    // store failed; served the last good JWT
	OutcomeNegative = "negative" // the account does not exist
	OutcomeError    = "error"    // store failed; nothing to serve
)

// Clock tells the time. Tests use a fake one to move TTLs forward.
type Clock interface {
	Now() time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// Observer receives measurements, e.g. for metrics. Calls must not block.
type Observer interface {
	// FetchDone reports one Fetch with its duration and outcome. Answers
	// from memory (hit, negative) are reported with d == 0: they are not
	// timed.
	FetchDone(account string, d time.Duration, outcome string)
	// StoreError reports a failed store operation ("get", "put",
	// "delete", "list", "watch").
	StoreError(op string, err error)
	// Applied reports a JWT applied to the running server and how long
	// after the store accepted it (0 when unknown).
	Applied(account string, lag time.Duration)
}

// Options configure a Resolver. Without a Policy, Fetch works but nothing
// is applied live and the claims responder refuses writes.
type Options struct {
	// Policy holds the trusted operator keys. Changes reported by the
	// store are checked against it before they are applied, and claim
	// deletes must be signed by one of its operator keys.
	Policy *trust.Policy
	// TTL is how long a cached JWT is served without asking the store: 0
	// means DefaultTTL; NoExpiry (any negative value) keeps it until the
	// store's watch reports a change, falling back to DefaultTTL while no
	// watch is live.
	TTL time.Duration
	// NegativeTTL is how long an unknown account is remembered (default
	// and maximum 1s).
	NegativeTTL time.Duration
	// FetchTimeout bounds one store read (default 2s).
	FetchTimeout time.Duration
	// Clock replaces the system clock (tests).
	Clock Clock
	// Logger receives diagnostics; nil discards them.
	Logger *slog.Logger
	// AllowDelete lets operator-signed $SYS.REQ.CLAIMS.DELETE requests
	// delete accounts from the store.
	AllowDelete bool
	// SystemConn connects to the server as a user of the system account.
	// With it, the Resolver answers the $SYS claims protocol (UPDATE,
	// LOOKUP, LIST, DELETE, PACK). It is called once the server is ready,
	// and again after a failure.
	SystemConn func(ctx context.Context) (*nats.Conn, error)
	// Observer receives measurements; nil drops them.
	Observer Observer
	// Local is a last-known-good copy of the store on local disk (see
	// LocalCopy), owned by the caller: the Resolver keeps it current, serves
	// first connects from it while its watch keeps it current, and falls
	// back to it for any account while the store is down.
	Local *LocalCopy
}

// Stats counts what the cache did since the Resolver was made. Cache hits
// are not counted here: a hit is the one path where a shared counter would
// cost more than the lookup itself (one contended atomic add is ~3x a
// sync.Map load), so hits are reported only to an Observer (outcome "hit"),
// which is where metrics count them.
type Stats struct {
	Misses       uint64 // read from the store (found or not)
	StaleServes  uint64 // store failed, last good JWT served
	NegativeHits uint64 // "not found" served from the negative cache
	StoreErrors  uint64 // failed store operations
	LocalServes  uint64 // served from the local copy (current, or during an outage)
}

// Resolver is a cached server.AccountResolver over a store.Store. One
// Resolver serves one server; the store may be shared by many.
//
// Changes are applied to loaded accounts with server.UpdateAccountClaims
// (limits, revocations, permissions, imports/exports, JetStream). Two
// things nats-server's exported API cannot reach: the JWT its monitoring
// (/accountz) reports stays the one the account was first loaded with, and
// so does the account's recorded issuer.
//
// nats-server refuses ReloadOptions (and Reload, i.e. SIGHUP) for a server
// whose Options.AccountResolver is not one of its own resolver types: the
// reload fails with "OnReload, sort or explicitly skip type:
// *resolver.Resolver" and changes nothing; the Resolver keeps working.
type Resolver struct {
	st    store.Store
	opts  Options
	log   *slog.Logger
	clock Clock
	obs   Observer
	// observed is false with no Observer: Fetch then skips timing itself.
	observed bool
	sf       singleflight.Group

	cache sync.Map // account -> *entry
	// coarse is a unix-nanosecond clock ticked while started (with the
	// system clock), so that a cache hit does not read the clock.
	coarse atomic.Int64

	mu        sync.Mutex // guards the outage state below
	downUntil int64      // unix ns; store failed, do not ask it again before
	lastErr   error      // the last store failure
	outage    uint64     // increases when the store goes from up to down
	down      bool
	watchLive atomic.Bool

	applyMu sync.Mutex
	applied map[string]appliedJWT // what was last applied to the server
	loaded  sync.Map              // account -> the *server.Server it was found loaded in (isLoaded)
	// readBacks are reads of changed accounts left to readBackLoop.
	readBacks chan readBack

	life    sync.Mutex
	srv     *server.Server
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	nc      *nats.Conn
	ready   chan struct{} // closed once the claims responder is subscribed
	started bool
	closed  bool
	seq     atomic.Uint64
	// inflight counts claims requests being handled; Close waits for them.
	inflight sync.WaitGroup

	misses, stale, negative, storeErrs atomic.Uint64

	local *local // nil without Options.Local
}

var _ server.AccountResolver = (*Resolver)(nil)

// New returns a Resolver over st. It starts nothing: nats-server calls
// Start when it starts, and Close when it shuts down.
func New(st store.Store, opts Options) *Resolver {
	switch {
	case opts.TTL == 0:
		opts.TTL = DefaultTTL
	case opts.TTL < 0:
		opts.TTL = NoExpiry
	}
	if opts.NegativeTTL <= 0 || opts.NegativeTTL > MaxNegativeTTL {
		opts.NegativeTTL = DefaultNegativeTTL
	}
	if opts.FetchTimeout <= 0 {
		opts.FetchTimeout = DefaultFetchTimeout
	}
	r := &Resolver{
		st:        st,
		opts:      opts,
		log:       opts.Logger,
		clock:     opts.Clock,
		obs:       opts.Observer,
		applied:   map[string]appliedJWT{},
		readBacks: make(chan readBack, 4096),
	}
	if r.log == nil {
		r.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	r.log = r.log.With("component", "resolver")
	if r.clock == nil {
		r.clock = systemClock{}
	}
	r.observed = r.obs != nil
	if r.obs == nil {
		r.obs = nopObserver{}
	}
	if opts.Local != nil {
		r.local = newLocal(opts.Local)
	}
	return r
}

// Stats returns a snapshot of the cache counters.
func (r *Resolver) Stats() Stats {
	return Stats{
		Misses:       r.misses.Load(),
		StaleServes:  r.stale.Load(),
		NegativeHits: r.negative.Load(),
		StoreErrors:  r.storeErrs.Load(),
		LocalServes:  r.localServed(),
	}
}

func (r *Resolver) localServed() uint64 {
	if r.local == nil {
		return 0
	}
	return r.local.served.Load()
}

// Fetch returns the JWT of account name. It is called by nats-server while
// a client of an account that is not loaded yet connects.
func (r *Resolver) Fetch(name string) (string, error) {
	if !r.observed {
		tok, _, err := r.fetch(name)
		return tok, err
	}
	// Answers from memory are not timed: their latency is the cache
	// lookup's, and two clock reads would cost more than the lookup.
	if res, ok, err := r.cached(name); ok {
		r.obs.FetchDone(name, 0, res.outcome)
		return res.jwt, err
	}
	start := time.Now()
	tok, outcome, err := r.fetch(name)
	r.obs.FetchDone(name, time.Since(start), outcome)
	return tok, err
}

// Store validates token and writes it to the store (newer only); the
// running server learns of it through the store's watch.
func (r *Resolver) Store(name, token string) error {
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	if _, err := r.put(ctx, name, token); err != nil {
		return fmt.Errorf("resolver store: %w", err)
	}
	return nil
}

// IsReadOnly reports false: Store writes to the store.
func (r *Resolver) IsReadOnly() bool { return false }

// IsTrackingUpdate reports true: the Resolver answers the claim-update
// subjects itself (validating, persisting and applying), so nats-server
// does not subscribe to them.
func (r *Resolver) IsTrackingUpdate() bool { return true }

// Reload is called by nats-server on a configuration reload. The cache
// follows the store's watch, so there is nothing to re-read.
func (r *Resolver) Reload() error { return nil }

// Start is called by nats-server during its start-up. It starts following
// the store's changes and, with Options.SystemConn, the claims responder
// once the server accepts connections. It does not block.
func (r *Resolver) Start(s *server.Server) error {
	if s == nil {
		return errors.New("start resolver: no server")
	}
	if r.opts.Policy == nil {
		r.log.Warn("resolver has no trust policy (Options.Policy): changes are not applied live to loaded accounts " +
			"and claims pushes and deletes are refused; new connections still read the store")
	}
	r.life.Lock()
	defer r.life.Unlock()
	switch {
	case r.closed:
		return errors.New("start resolver: resolver is closed")
	case r.started:
		if r.srv != s {
			return errors.New("start resolver: already started by another server")
		}
		return nil
	}
	r.started = true
	r.srv = s
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	if r.local != nil {
		r.wg.Add(2)
		go func() {
			defer r.wg.Done()
			r.localWriter(ctx)
		}()
		go func() {
			defer r.wg.Done()
			r.localSyncLoop(ctx)
		}()
	}
	r.wg.Add(2)
	go func() {
		defer r.wg.Done()
		r.watchLoop(ctx)
	}()
	go func() {
		defer r.wg.Done()
		r.readBackLoop(ctx)
	}()
	if r.opts.Clock == nil {
		r.coarse.Store(time.Now().UnixNano())
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			r.tick(ctx)
		}()
	}
	if r.opts.SystemConn != nil {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			r.respond(ctx, s)
		}()
	}
	return nil
}

// Close stops the watch and the responder and waits for them. It does not
// close the store, which belongs to the caller. nats-server calls Close on
// shutdown; calling it again is harmless.
func (r *Resolver) Close() {
	r.life.Lock()
	if r.closed {
		r.life.Unlock()
		return
	}
	r.closed = true
	cancel := r.cancel
	nc := r.nc
	r.nc = nil
	r.life.Unlock()
	if cancel != nil {
		cancel()
	}
	if nc != nil {
		nc.Close()
	}
	r.wg.Wait()
	r.inflight.Wait()
}

// coarseTick is the resolution of the clock a started Resolver reads.
const coarseTick = 50 * time.Millisecond

// tick keeps the coarse clock until ctx ends.
func (r *Resolver) tick(ctx context.Context) {
	t := time.NewTicker(coarseTick)
	defer t.Stop()
	defer r.coarse.Store(0)
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			r.coarse.Store(now.UnixNano())
		}
	}
}

// now reads the coarse clock while it runs, else the Clock (unix ns).
func (r *Resolver) now() int64 {
	if n := r.coarse.Load(); n != 0 {
		return n
	}
	return r.clock.Now().UnixNano()
}

// server returns the running server, or nil before Start or after Close.
func (r *Resolver) server() *server.Server {
	r.life.Lock()
	defer r.life.Unlock()
	if r.closed {
		return nil
	}
	return r.srv
}

// put validates and stores token and refreshes the cache with it.
func (r *Resolver) put(ctx context.Context, account, token string) (store.Change, error) {
	change, err := r.st.Put(ctx, account, token)
	if err != nil {
		if !errors.Is(err, store.ErrInvalid) && !errors.Is(err, store.ErrStale) {
			r.storeError("put", err)
		}
		return change, err
	}
	r.remember(account, token)
	return change, nil
}

func (r *Resolver) storeError(op string, err error) {
	r.storeErrs.Add(1)
	r.obs.StoreError(op, err)
}

type nopObserver struct{}

func (nopObserver) FetchDone(string, time.Duration, string) {}
func (nopObserver) StoreError(string, error)                {}
func (nopObserver) Applied(string, time.Duration)           {}
