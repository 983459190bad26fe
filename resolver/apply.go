package resolver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"

	"github.com/natsauth/natsauth/store"
	"github.com/natsauth/natsauth/trust"
)

// appliedJWT is the version of an account last applied to the server.
type appliedJWT struct {
	jwt         string
	iat         int64
	claims      *jwt.AccountClaims // as applied (nil when only seen)
	importsFrom []string           // the accounts claims imports from
	removed     bool               // the account was deleted: any JWT may follow
}

// watchLoop follows the store's changes until ctx ends, re-establishing the
// watch after a failure.
func (r *Resolver) watchLoop(ctx context.Context) {
	w, ok := r.st.(store.Watcher)
	if !ok {
		r.log.Info("account store cannot report changes: cached JWTs expire after the TTL", "ttl", r.opts.TTL)
		r.localSyncOnce()
		return
	}
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		ch, err := w.Watch(ctx)
		if errors.Is(err, store.ErrWatchUnsupported) {
			r.log.Info("account store cannot report changes: cached JWTs expire after the TTL", "ttl", r.opts.TTL)
			r.localSyncOnce()
			return
		}
		if err != nil {
			r.storeError("watch", err)
			r.log.Warn("watch account store failed; retrying", "error", err, "retry_in", backoff)
			if !sleep(ctx, backoff) {
				return
			}
			backoff = min(2*backoff, 10*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		r.watchLive.Store(true)
		// Whatever was cached before the watch began may be out of date;
		// so may the local copy.
		r.localSyncOnce()
		r.reset(ctx)
		for ev := range ch {
			r.handle(ctx, ev)
		}
		r.watchLive.Store(false)
		if r.local != nil {
			r.local.invalidate()
		}
		if ctx.Err() != nil {
			return
		}
		r.log.Warn("account store watch ended; re-establishing it", "retry_in", backoff)
		if !sleep(ctx, backoff) {
			return
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// handle applies one store event to the cache and the running server.
func (r *Resolver) handle(ctx context.Context, ev store.Event) {
	// The local copy is queued first: a Fetch from here on serves the
	// change, so an account loaded meanwhile never loads the old JWT.
	r.localChanged(ctx, ev)
	switch ev.Kind {
	case store.EventPut:
		r.changed(ev.Account, ev.JWT)
		r.refresh(ctx, ev.Account, ev.JWT)
	case store.EventDelete:
		r.forget(ev.Account)
		r.remove(ev.Account)
	case store.EventReset:
		r.localSyncOnce()
		r.reset(ctx)
	}
}

// localSyncOnce asks for a sync of the local copy, if there is one.
func (r *Resolver) localSyncOnce() {
	if r.local != nil {
		r.local.requestSync()
	}
}

// reset drops what the cache holds and brings every account loaded in the
// server up to date with the store.
func (r *Resolver) reset(ctx context.Context) {
	r.expireAll()
	s := r.server()
	if s == nil {
		return
	}
	az, err := s.Accountz(&server.AccountzOptions{})
	if err != nil {
		r.log.Warn("list loaded accounts", "error", err)
		return
	}
	for _, name := range az.Accounts {
		if ctx.Err() != nil {
			return
		}
		if nkeys.IsValidPublicAccountKey(name) {
			r.refresh(ctx, name, "")
		}
	}
}

// refresh applies the stored JWT of account to the server if the account
// is loaded there. hint is the JWT the event carried, used when the store
// cannot be read.
func (r *Resolver) refresh(ctx context.Context, account, hint string) {
	s := r.server()
	if s == nil || !r.isLoaded(s, account) {
		return
	}
	// The JWT the event carries is what the store committed: enforce it
	// at once (a revocation must not wait for a read), then read the store,
	// which may hold a newer one by now, and measure the lag. The read is
	// left to the read-back goroutine: on a cluster's nodes it would
	// otherwise compete for the CPU and the database with the nodes still
	// applying the change.
	if hint != "" && r.applyJWT(s, account, hint) {
		rb := readBack{account: account, hint: hint, early: time.Now()}
		select {
		case r.readBacks <- rb:
		default:
			r.readBack(ctx, s, rb) // the read-back goroutine is behind: read here
		}
		return
	}
	r.readBack(ctx, s, readBack{account: account, hint: hint})
}

// readBack is a read of an account from the store after a change: early is
// when the event's JWT, hint, was applied (zero when it was not).
type readBack struct {
	account, hint string
	early         time.Time
}

// readBackDelay is how long after applying a change from its event the
// read-back waits.
const readBackDelay = 25 * time.Millisecond

// readBackLoop does the read-backs that refresh leaves to it, until ctx
// ends.
func (r *Resolver) readBackLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case rb := <-r.readBacks:
			// Let the change finish reaching the other nodes first: on a
			// host they share, the read would take CPU from them.
			if !sleep(ctx, time.Until(rb.early.Add(readBackDelay))) {
				return
			}
			if s := r.server(); s != nil {
				r.readBack(ctx, s, rb)
			}
		}
	}
}

// readBack reads the account and applies what the store holds if it is
// not what was applied from the event, and reports the change applied.
func (r *Resolver) readBack(ctx context.Context, s *server.Server, rb readBack) {
	account, hint, early := rb.account, rb.hint, rb.early
	gctx, cancel := context.WithTimeout(ctx, r.opts.FetchTimeout)
	rec, err := r.st.Get(gctx, account)
	cancel()
	switch {
	case err == nil:
		r.remember(account, rec.JWT)
		if !early.IsZero() && rec.JWT == hint {
			r.reportApplied(account, early, rec.UpdatedAt)
			return
		}
		r.apply(s, account, rec.JWT, rec.UpdatedAt)
	case errors.Is(err, store.ErrNotFound):
		r.forget(account)
		r.remove(account)
	case hint != "":
		r.storeError("get", err)
		if !early.IsZero() {
			r.reportApplied(account, early, time.Time{})
		}
	default:
		r.storeError("get", err)
		r.log.Warn("read account to apply a change; it stays as loaded", "account", account, "error", err)
	}
}

// isLoaded reports whether the server has account loaded, without making
// it fetch the account. nats-server never unloads an account in operator
// mode, so a yes is remembered: asking the server builds the account's
// whole description (its JWT decoded and its signature checked, every
// revocation copied), which on a revocation cost as much again as
// applying it, on every node.
func (r *Resolver) isLoaded(s *server.Server, account string) bool {
	if v, ok := r.loaded.Load(account); ok && v.(*server.Server) == s {
		return true
	}
	if _, err := s.Accountz(&server.AccountzOptions{Account: account}); err != nil {
		return false
	}
	r.loaded.Store(account, s)
	return true
}

// apply updates the loaded account to token unless it is not newer than
// what the server runs, and reports it with the lag since storedAt (zero
// when unknown). It never makes the server load an account.
func (r *Resolver) apply(s *server.Server, account, token string, storedAt time.Time) {
	if r.applyJWT(s, account, token) {
		r.reportApplied(account, time.Now(), storedAt)
	}
}

// reportApplied tells the Observer a JWT stored at storedAt (zero when
// unknown) was applied at appliedAt.
func (r *Resolver) reportApplied(account string, appliedAt, storedAt time.Time) {
	var lag time.Duration
	if !storedAt.IsZero() {
		lag = max(appliedAt.Sub(storedAt), 0)
	}
	r.obs.Applied(account, lag)
}

// applyJWT updates the loaded account to token unless it is not newer than
// what the server runs, and reports whether it did.
func (r *Resolver) applyJWT(s *server.Server, account, token string) bool {
	if r.opts.Policy == nil {
		return false // cannot check the issuer: the server reads it on its next fetch
	}
	// The store validated the JWT when it was written, by the writer's
	// clock: applying it must not depend on this host's (a revocation must
	// not wait for a slow clock to catch up), so iat is not checked here.
	ac, err := r.opts.Policy.WithClockSkew(trust.NoClockCheck).CheckAccount(account, token)
	if err != nil {
		r.log.Error("refusing to apply an account JWT that fails validation", "account", account, "error", err)
		return false
	}
	r.applyMu.Lock()
	defer r.applyMu.Unlock()
	if !r.isLoaded(s, account) {
		return false // not loaded: the next connect fetches the new JWT
	}
	prev, ok := r.applied[account]
	if !ok {
		az, err := s.Accountz(&server.AccountzOptions{Account: account})
		if err != nil || az.Account == nil {
			return false
		}
		prev = versionOf(az.Account.Jwt)
	}
	switch {
	case prev.jwt == token && !prev.removed:
		return false
	case !prev.removed && prev.iat > ac.IssuedAt && !r.fromTheFuture(prev.iat):
		r.log.Warn("not applying an account JWT older than the one the server runs",
			"account", account, "running_iat", prev.iat, "offered_iat", ac.IssuedAt)
		return false
	}
	acc := loadedAccount(s, account)
	if acc == nil {
		return false
	}
	s.UpdateAccountClaims(acc, ac)
	r.applied[account] = appliedJWT{jwt: token, iat: ac.IssuedAt, claims: ac, importsFrom: importSources(ac)}
	r.log.Debug("applied account JWT", "account", account, "iat", ac.IssuedAt)
	if prev.claims == nil || !sameExports(prev.claims, ac) {
		r.reapplyImporters(s, account)
	}
	return true
}

// reapplyImporters puts back the claims natsauth applied to the accounts
// that import from exporter. When an account's exports change, nats-server
// refreshes its importers from the JWT each was loaded with (its own
// record of the account's JWT, which UpdateAccountClaims does not change),
// dropping an import that arrived with a later JWT natsauth applied. The
// caller holds applyMu.
func (r *Resolver) reapplyImporters(s *server.Server, exporter string) {
	for name, a := range r.applied {
		if name == exporter || a.removed || a.claims == nil || !slices.Contains(a.importsFrom, exporter) {
			continue
		}
		if acc := loadedAccount(s, name); acc != nil {
			s.UpdateAccountClaims(acc, a.claims)
		}
	}
}

// importSources lists the accounts ac imports from.
func importSources(ac *jwt.AccountClaims) []string {
	var out []string
	for _, im := range ac.Imports {
		if im != nil && !slices.Contains(out, im.Account) {
			out = append(out, im.Account)
		}
	}
	return out
}

// sameExports reports whether two JWTs of an account export the same.
func sameExports(a, b *jwt.AccountClaims) bool {
	ja, _ := json.Marshal(a.Exports)
	jb, _ := json.Marshal(b.Exports)
	return bytes.Equal(ja, jb)
}

// fromTheFuture reports whether iat lies beyond now plus the policy's clock
// skew: a running JWT from the future (stored before such JWTs were
// refused) is no version to protect, so the JWT that a forced replace
// (store.Replace) put in its place is applied although it is older.
func (r *Resolver) fromTheFuture(iat int64) bool {
	skew := r.opts.Policy.ClockSkew()
	return skew >= 0 && iat > time.Now().Add(skew).Unix()
}

// loadedAccount returns the loaded account without the expiry check and
// re-fetch of s.LookupAccount (a deleted, expired account must still be
// reachable when it is stored again). Call it only for an account that
// isLoaded: nats-server never unloads an account in operator mode, so
// LookupOrRegisterAccount registers nothing new.
func loadedAccount(s *server.Server, account string) *server.Account {
	acc, isNew := s.LookupOrRegisterAccount(account)
	if isNew {
		return nil // cannot happen for a loaded account; leave the placeholder inert
	}
	return acc
}

// versionOf describes the JWT the server loaded for an account.
func versionOf(token string) appliedJWT {
	if token == "" {
		return appliedJWT{}
	}
	ac, err := jwt.DecodeAccountClaims(token)
	if err != nil {
		return appliedJWT{}
	}
	return appliedJWT{jwt: token, iat: ac.IssuedAt}
}

// remove disables a deleted account in the running server, the way the
// full resolver does as far as nats-server's exported API allows: it is
// marked expired (new connections are refused until the store has it
// again), every client and leaf node connection is closed (connection
// limit 0), its JetStream is disabled (stream data stays on disk), and
// its exports and imports are dropped. The system account is never
// removed.
func (r *Resolver) remove(account string) {
	s := r.server()
	if s == nil || !r.isLoaded(s, account) {
		return
	}
	if sys := s.SystemAccount(); sys != nil && sys.Name == account {
		r.log.Warn("the system account was deleted from the store; it stays loaded", "account", account)
		return
	}
	acc := loadedAccount(s, account)
	if acc == nil {
		return
	}
	r.applyMu.Lock()
	defer r.applyMu.Unlock()
	tomb := jwt.NewAccountClaims(account)
	tomb.Name = "deleted"
	tomb.Expires = time.Now().Unix()
	tomb.Limits.Conn = 0
	tomb.Limits.LeafNodeConn = 0
	tomb.Limits.Subs = 0
	tomb.Limits.Payload = 0
	tomb.Limits.Data = 0
	tomb.Limits.Imports = 0
	tomb.Limits.Exports = 0
	tomb.Limits.JetStreamLimits = jwt.JetStreamLimits{}
	s.UpdateAccountClaims(acc, tomb)
	r.applied[account] = appliedJWT{removed: true}
	r.log.Info("account deleted from the store: disabled it and closed its connections", "account", account)
}
