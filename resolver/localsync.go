package resolver

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/natsauth/natsauth/internal/jwtpeek"
	"github.com/natsauth/natsauth/store"
)

// OutcomeLocal is the Fetch outcome of a JWT served from the local copy
// while it is known current (a live watch, synced since it began).
const OutcomeLocal = "local"

// syncBatch is how many records one write of a sync carries.
const syncBatch = 1000

// local is the Resolver's side of its LocalCopy: changes reported by the
// store's watch are queued here and written by one goroutine (so a slow
// disk never holds up applying a change to the server), and a full sync
// brings the copy up to date whenever the watch (re)starts or resets.
type local struct {
	lc *LocalCopy
	// synced is true while the copy is known current: a full sync has
	// finished since the watch began and no reset came after it.
	synced atomic.Bool
	// gen counts sync requests; a sync that finds it moved on stops.
	gen    atomic.Uint64
	wake   chan struct{}   // the writer has queued ops
	batchC chan *syncWrite // writes of a sync, to the writer
	syncC  chan struct{}   // a sync is requested
	served atomic.Uint64   // JWTs served from the copy
	warned atomic.Uint64   // outage in which serving from the copy was logged

	mu       sync.Mutex
	pending  map[string]localOp // queued changes, latest per account
	applying map[string]localOp // being written now
	touched  map[string]bool    // changed by the watch since the running sync began
}

// syncWrite is one batch of a sync for the writer; done receives its
// outcome.
type syncWrite struct {
	ops  []localOp
	done chan error
}

func newLocal(lc *LocalCopy) *local {
	return &local{
		lc:      lc,
		wake:    make(chan struct{}, 1),
		batchC:  make(chan *syncWrite),
		syncC:   make(chan struct{}, 1),
		pending: map[string]localOp{},
	}
}

// queue records a change reported by the watch; the writer writes it.
func (l *local) queue(op localOp) {
	l.mu.Lock()
	l.pending[op.account] = op
	if l.touched != nil {
		l.touched[op.account] = true
	}
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// get returns the JWT of account from what is queued, else from the copy.
func (l *local) get(account string) (string, bool) {
	l.mu.Lock()
	op, ok := l.pending[account]
	if !ok {
		op, ok = l.applying[account]
	}
	l.mu.Unlock()
	if ok {
		return op.token, op.token != ""
	}
	return l.lc.Get(account)
}

// invalidate marks the copy as not known current and stops a running sync
// from marking it current.
func (l *local) invalidate() {
	l.mu.Lock()
	l.gen.Add(1)
	l.synced.Store(false)
	l.mu.Unlock()
}

// requestSync marks the copy as not known current and asks for a sync.
func (l *local) requestSync() {
	l.invalidate()
	select {
	case l.syncC <- struct{}{}:
	default:
	}
}

// localWriteDelay is how long the writer of the local copy waits after a
// change before it writes.
const localWriteDelay = 20 * time.Millisecond

// localWriter writes queued changes and sync batches until ctx ends, then
// writes what is still queued.
func (r *Resolver) localWriter(ctx context.Context) {
	l := r.local
	for {
		select {
		case <-ctx.Done():
			r.localFlush()
			return
		case <-l.wake:
			// Write a moment later, in one transaction with whatever else
			// comes meanwhile: the commit (an fsync) then does not compete
			// with applying the change, and a burst is one commit. Reads
			// see queued changes at once (local.get).
			if !sleep(ctx, localWriteDelay) {
				r.localFlush()
				return
			}
			r.localFlush()
		case b := <-l.batchC:
			r.localFlush() // changes queued before the batch go first
			l.mu.Lock()
			ops := b.ops[:0]
			for _, op := range b.ops {
				if !l.touched[op.account] {
					ops = append(ops, op)
				}
			}
			l.mu.Unlock()
			b.done <- l.lc.apply(ops)
		}
	}
}

// localFlush writes every queued change in one transaction.
func (r *Resolver) localFlush() {
	l := r.local
	l.mu.Lock()
	if len(l.pending) == 0 {
		l.mu.Unlock()
		return
	}
	l.applying, l.pending = l.pending, map[string]localOp{}
	ops := make([]localOp, 0, len(l.applying))
	for _, op := range l.applying {
		ops = append(ops, op)
	}
	l.mu.Unlock()
	if err := l.lc.apply(ops); err != nil {
		// The copy may now lack these changes: it is not known current
		// until a sync has run again.
		r.log.Error("writing the local copy failed; it will be synced again", "err", err)
		l.requestSync()
	}
	l.mu.Lock()
	l.applying = nil
	l.mu.Unlock()
}

// localSyncLoop runs a full sync whenever one is requested, retrying a
// failed one with backoff, until ctx ends.
func (r *Resolver) localSyncLoop(ctx context.Context) {
	l := r.local
	backoff := time.Second
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.syncC:
		}
		for {
			gen := l.gen.Load()
			err := r.localSync(ctx, gen)
			if err == nil || ctx.Err() != nil {
				backoff = time.Second
				break
			}
			if l.gen.Load() != gen {
				break // a newer request supersedes this one; it is queued
			}
			r.log.Warn("syncing the local copy with the store failed; retrying", "err", err, "retry_in", backoff)
			select {
			case <-ctx.Done():
				return
			case <-l.syncC:
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 30*time.Second)
		}
	}
}

// errSuperseded stops a sync that a newer request made pointless.
var errSuperseded = errors.New("resolver: local copy sync superseded")

// localSync brings the copy up to date with one pass over the store:
// every record that differs is written, every copied account the store no
// longer has is removed, except accounts the watch changed meanwhile
// (their newer state is queued or written already). It marks the copy
// synced if no newer request came meanwhile.
func (r *Resolver) localSync(ctx context.Context, gen uint64) error {
	l := r.local
	start := time.Now()
	l.mu.Lock()
	l.touched = map[string]bool{}
	l.mu.Unlock()
	have, err := l.lc.index()
	if err != nil {
		return err
	}
	seen := make(map[string]bool, len(have))
	var (
		batch   []localOp
		written int
	)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if l.gen.Load() != gen {
			return errSuperseded
		}
		w := &syncWrite{ops: batch, done: make(chan error, 1)}
		select {
		case l.batchC <- w:
		case <-ctx.Done():
			return ctx.Err()
		}
		written += len(batch)
		batch = nil
		return <-w.done
	}
	err = store.Scan(ctx, r.st, func(rec store.Record) error {
		seen[rec.Account] = true
		if e, ok := have[rec.Account]; ok && e.iat == rec.IssuedAt && e.jti == rec.ID {
			return nil
		}
		batch = append(batch, localOp{account: rec.Account, token: rec.JWT, iat: rec.IssuedAt, jti: rec.ID})
		if len(batch) >= syncBatch {
			return flush()
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, errSuperseded) {
			return nil
		}
		return err
	}
	for acc := range have {
		if !seen[acc] {
			batch = append(batch, localOp{account: acc})
		}
	}
	if err := flush(); err != nil {
		if errors.Is(err, errSuperseded) {
			return nil
		}
		return err
	}
	l.mu.Lock()
	current := l.gen.Load() == gen
	if current {
		l.touched = nil
		// Serve from the copy only while a watch keeps it current.
		l.synced.Store(r.watchLive.Load())
	}
	l.mu.Unlock()
	if current {
		r.log.Info("local copy in sync with the store", "accounts", l.lc.Len(), "written", written,
			"took", time.Since(start).Round(time.Millisecond))
	}
	return nil
}

// localChanged queues a change the store's watch reported.
func (r *Resolver) localChanged(ctx context.Context, ev store.Event) {
	if r.local == nil {
		return
	}
	switch ev.Kind {
	case store.EventDelete:
		r.local.queue(localOp{account: ev.Account})
	case store.EventPut:
		token := ev.JWT
		if token == "" { // the event did not carry it (too large to notify)
			gctx, cancel := context.WithTimeout(ctx, r.opts.FetchTimeout)
			rec, err := r.st.Get(gctx, ev.Account)
			cancel()
			switch {
			case errors.Is(err, store.ErrNotFound):
				r.local.queue(localOp{account: ev.Account})
				return
			case err != nil:
				r.local.requestSync()
				return
			}
			token = rec.JWT
		}
		iat, jti, ok := peekIssued(token)
		if !ok {
			return // not a JWT; nats-server would refuse it anyway
		}
		r.local.queue(localOp{account: ev.Account, token: token, iat: iat, jti: jti})
	}
}

// fromLocal serves account from the local copy while it is known current.
func (r *Resolver) fromLocal(name string) (string, bool) {
	l := r.local
	if l == nil || !l.synced.Load() || !r.watchLive.Load() {
		return "", false
	}
	tok, ok := l.get(name)
	if ok {
		l.served.Add(1)
	}
	return tok, ok
}

// staleFromLocalLocked serves the last good JWT of account from the local
// copy while the store is down. r.mu is held.
func (r *Resolver) staleFromLocalLocked(name string) (string, bool) {
	if r.local == nil {
		return "", false
	}
	tok, ok := r.local.get(name)
	if !ok {
		return "", false
	}
	r.stale.Add(1)
	r.local.served.Add(1)
	if r.local.warned.Swap(r.outage) != r.outage {
		r.log.Warn("account store unavailable: serving accounts not yet loaded from the local copy",
			"local_copy", r.local.lc.Path(), "error", r.lastErr)
	}
	return tok, true
}

// LocalSynced reports whether the local copy is known current (false
// without one): a full sync has finished since the store's watch began.
func (r *Resolver) LocalSynced() bool { return r.local != nil && r.local.synced.Load() }

// peekIssued reads iat and jti from a JWT's payload without checking its
// signature: what the copy needs to compare versions. nats-server checks
// every JWT it is served.
func peekIssued(token string) (int64, string, bool) {
	h, ok := jwtpeek.Claims(token)
	return h.IssuedAt, h.ID, ok
}
