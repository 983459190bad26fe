package node

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/natsauth/natsauth/resolver"
	"github.com/natsauth/natsauth/store"
)

// DefaultLocalCopyDir is where a home keeps its nodes' local copies of
// their stores: HOME/cache. A node keeps one file per store there
// (accounts-<hash of the store URL>.db), so switching --store never serves
// another store's accounts.
func DefaultLocalCopyDir(home string) string { return filepath.Join(home, "cache") }

// LocalCopyPath returns the file of the local copy of the store at
// storeURL in dir. The URL's password is not part of the name.
func LocalCopyPath(dir, storeURL string) string {
	sum := sha256.Sum256([]byte(store.Redact(storeURL)))
	return filepath.Join(dir, "accounts-"+hex.EncodeToString(sum[:8])+".db")
}

// openLocalCopy opens the node's local copy, or returns nil when there is
// none to use: none configured, or another process holds it (the node then
// serves without one, as before).
func (n *Node) openLocalCopy() *resolver.LocalCopy {
	if n.cfg.LocalCopyDir == "" {
		return nil
	}
	path := LocalCopyPath(n.cfg.LocalCopyDir, n.storeURL)
	lc, err := resolver.OpenLocalCopy(path, resolver.LocalCopyOptions{Logger: n.log})
	if err != nil {
		n.log.Warn("no local copy of the store: accounts never loaded on this node fail while the store is down", "err", err)
		return nil
	}
	n.log.Info("local copy of the store", "path", path, "accounts", lc.Len())
	return lc
}

// openStore opens the node's store. When the store cannot be reached but a
// local copy holds accounts, the node starts anyway on a pendingStore that
// keeps trying to open it, and serves from the copy meanwhile.
func (n *Node) openStore(ctx context.Context, lc *resolver.LocalCopy) (store.Store, error) {
	opts := store.Options{Policy: n.policy, Logger: n.log}
	st, err := store.Open(ctx, n.storeURL, opts)
	if err == nil {
		return st, n.seed(ctx, st)
	}
	if lc == nil || lc.Len() == 0 || !errors.Is(err, store.ErrUnavailable) {
		return nil, err
	}
	n.log.Warn("account store unreachable: starting from the local copy; the store is opened once it answers",
		"store", store.Redact(n.storeURL), "local_accounts", lc.Len(), "err", err)
	return newPendingStore(n.storeURL, opts, n.log, func(ctx context.Context, st store.Store) {
		if err := n.seed(ctx, st); err != nil {
			n.log.Error("publish home accounts to the store", "err", err)
		}
	}), nil
}

// pendingStore stands in for a store whose backend could not be reached
// at start: every operation fails with store.ErrUnavailable until a
// background loop has opened it, then everything goes to it.
type pendingStore struct {
	url    string
	opts   store.Options
	log    *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex
	st     store.Store // nil until opened
	closed bool
}

var (
	_ store.Store   = (*pendingStore)(nil)
	_ store.Watcher = (*pendingStore)(nil)
	_ store.Scanner = (*pendingStore)(nil)
)

// pendingRetry bounds the wait between attempts to open the store.
const pendingRetry = 2 * time.Second

func newPendingStore(url string, opts store.Options, log *slog.Logger, opened func(context.Context, store.Store)) *pendingStore {
	ctx, cancel := context.WithCancel(context.Background())
	p := &pendingStore{url: url, opts: opts, log: log, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		wait := 100 * time.Millisecond
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			wait = min(2*wait, pendingRetry)
			octx, ocancel := context.WithTimeout(ctx, 10*time.Second)
			st, err := store.Open(octx, url, opts)
			ocancel()
			if err != nil {
				continue
			}
			p.mu.Lock()
			if p.closed {
				p.mu.Unlock()
				_ = st.Close()
				return
			}
			p.st = st
			p.mu.Unlock()
			log.Info("account store reachable: opened it", "store", store.Redact(url))
			opened(ctx, st)
			return
		}
	}()
	return p
}

// store returns the opened store, or an error wrapping ErrUnavailable.
func (p *pendingStore) store(op string) (store.Store, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.closed:
		return nil, fmt.Errorf("%s: %w", op, store.ErrClosed)
	case p.st == nil:
		return nil, fmt.Errorf("%s: %s not opened yet: %w", op, store.Redact(p.url), store.ErrUnavailable)
	}
	return p.st, nil
}

func (p *pendingStore) Get(ctx context.Context, account string) (store.Record, error) {
	st, err := p.store("get account " + account)
	if err != nil {
		return store.Record{}, err
	}
	return st.Get(ctx, account)
}

func (p *pendingStore) Put(ctx context.Context, account, token string) (store.Change, error) {
	st, err := p.store("put account " + account)
	if err != nil {
		return store.Unchanged, err
	}
	return st.Put(ctx, account, token)
}

// Replace forwards a forced replace (store.Replace) to the opened store.
func (p *pendingStore) Replace(ctx context.Context, account, token string) (store.Change, error) {
	st, err := p.store("replace account " + account)
	if err != nil {
		return store.Unchanged, err
	}
	return store.Replace(ctx, st, account, token)
}

func (p *pendingStore) Delete(ctx context.Context, account string) error {
	st, err := p.store("delete account " + account)
	if err != nil {
		return err
	}
	return st.Delete(ctx, account)
}

func (p *pendingStore) List(ctx context.Context) ([]string, error) {
	st, err := p.store("list accounts")
	if err != nil {
		return nil, err
	}
	return st.List(ctx)
}

// Scan reads every record of the opened store.
func (p *pendingStore) Scan(ctx context.Context, fn func(store.Record) error) error {
	st, err := p.store("scan accounts")
	if err != nil {
		return err
	}
	return store.Scan(ctx, st, fn)
}

// Watch fails with ErrUnavailable until the store is opened; the
// resolver retries it.
func (p *pendingStore) Watch(ctx context.Context) (<-chan store.Event, error) {
	st, err := p.store("watch")
	if err != nil {
		return nil, err
	}
	w, ok := st.(store.Watcher)
	if !ok {
		return nil, fmt.Errorf("watch: %w", store.ErrWatchUnsupported)
	}
	return w.Watch(ctx)
}

// Close stops trying and closes the store if it was opened.
func (p *pendingStore) Close() error {
	p.mu.Lock()
	p.closed = true
	st := p.st
	p.mu.Unlock()
	p.cancel()
	<-p.done
	if st != nil {
		return st.Close()
	}
	return nil
}

// Unwrap returns the opened store (nil before), for store.AuditLog and
// tools that look beneath.
func (p *pendingStore) Unwrap() store.Store {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.st
}
