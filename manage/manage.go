// Package manage is natsauth's management core: every front door (the
// CLI, the HTTP API and console, the auth-callout service, declarative
// apply, a Go program embedding natsauth) makes its changes through it.
//
// A Manager opens a home, its account-JWT store and its audit log once and
// offers one method per change. Each change runs the same steps: take the
// home's change lock; open every store the home's servers read (so a bad
// store URL or a store that cannot be opened refuses the change before
// anything is written); read the state before; validate everything, sign
// and commit the home (the authority package); record it in the audit log
// with the actor from the context (audit.WithActor); publish the changed
// account JWTs to every store the home's servers read; and wait until every
// running `natsauth serve` of the home has applied them.
//
// Where the servers read is the serving package's business: the primary
// store (Config.Store, else the home's default SQLite store) and the store
// of every node registered in the home. A change that cannot reach one of
// them is reported as a *PublishError — never as a success.
package manage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/natsauth/natsauth/audit"
	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/serving"
	"github.com/natsauth/natsauth/store"
)

// Defaults of Config.
const (
	// DefaultPublishTimeout bounds publishing one change to the stores.
	DefaultPublishTimeout = 30 * time.Second
	// DefaultApplyTimeout bounds waiting for running servers to apply it.
	DefaultApplyTimeout = 10 * time.Second
	// DefaultLockTimeout bounds waiting for another change to finish.
	DefaultLockTimeout = 2 * time.Minute
)

// Config says which home to manage and where its account JWTs go.
type Config struct {
	// Home is the home directory (required).
	Home string
	// Store is the primary account-JWT store URL: the one named by --store
	// or NATSAUTH_STORE; empty means the home's default SQLite store. The
	// audit log is kept with it.
	Store string
	// Logger receives store diagnostics; nil discards them.
	Logger *slog.Logger
	// PublishTimeout bounds publishing one change (default 30s).
	PublishTimeout time.Duration
	// ApplyTimeout bounds waiting for the running servers of the home to
	// apply a change (default 10s); a negative value does not wait.
	ApplyTimeout time.Duration
	// LockTimeout bounds waiting for a change in progress elsewhere
	// (default 2m).
	LockTimeout time.Duration
}

// Manager is the management core over one home. Its methods may be called
// from several goroutines; changes are serialized.
type Manager struct {
	cfg     Config
	home    *authority.Home
	log     *slog.Logger
	primary string // primary store URL

	mu     sync.Mutex // serializes changes in this process
	stores map[string]store.Store
	audit  audit.Log
	closed bool
}

// Open opens the home in cfg.Home. It opens no store yet: each change
// opens what it publishes to before it writes anything.
func Open(cfg Config) (*Manager, error) {
	h, err := authority.Open(cfg.Home)
	if err != nil {
		return nil, err
	}
	return newManager(cfg, h), nil
}

func newManager(cfg Config, h *authority.Home) *Manager {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.PublishTimeout <= 0 {
		cfg.PublishTimeout = DefaultPublishTimeout
	}
	if cfg.ApplyTimeout == 0 {
		cfg.ApplyTimeout = DefaultApplyTimeout
	}
	if cfg.LockTimeout <= 0 {
		cfg.LockTimeout = DefaultLockTimeout
	}
	primary, _ := serving.PickStore(cfg.Store, "", h.Dir())
	return &Manager{cfg: cfg, home: h, log: cfg.Logger, primary: primary, stores: map[string]store.Store{}}
}

// Home is the managed home. Read from it freely; change it only through
// the Manager.
func (m *Manager) Home() *authority.Home { return m.home }

// StoreURL is the primary store's URL (with any password).
func (m *Manager) StoreURL() string { return m.primary }

// Close releases the stores the Manager opened.
func (m *Manager) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	m.closeIndex()
	var errs []error
	for u, st := range m.stores {
		if err := st.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close store %s: %w", store.Redact(u), err))
		}
	}
	m.stores = map[string]store.Store{}
	return errors.Join(errs...)
}

// ErrClosed means the Manager was closed.
var ErrClosed = errors.New("manage: closed")

// Result says where a change went: one Delivery per account and target.
type Result struct {
	Deliveries []Delivery
	// Servers are the running servers of the home when the change was
	// published.
	Servers []serving.Server
}

// Delivery is one account JWT (or deletion) delivered to one target: a
// store, or a running server's acknowledgement.
type Delivery struct {
	Account string // account name
	Pub     string // account public key
	Deleted bool   // the account was deleted
	// Target is the store's URL (redacted) for a store write, or the
	// server's label for an acknowledgement.
	Target string
	// Server is set for an acknowledgement by a running server.
	Server *serving.Server
	// Change is what a store write did.
	Change store.Change
	// Readers label the running servers that read this store.
	Readers []string
	// Took is how long a server took to acknowledge.
	Took time.Duration
	// Note says why nothing was delivered without an error (a server that
	// stopped meanwhile publishes the home when it starts).
	Note string
	Err  error
}

// Failed returns the deliveries that failed.
func (r *Result) Failed() []Delivery {
	if r == nil {
		return nil
	}
	var out []Delivery
	for _, d := range r.Deliveries {
		if d.Err != nil {
			out = append(out, d)
		}
	}
	return out
}

// run is the pipeline every change goes through. fn validates and commits
// the change to the home and says what to record and publish.
func (m *Manager) run(ctx context.Context, fn func(c *change) error) (*Result, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	lctx, cancel := context.WithTimeout(ctx, m.cfg.LockTimeout)
	unlock, err := m.home.LockChanges(lctx)
	cancel()
	if err != nil {
		return nil, err
	}
	defer unlock()
	tg, err := m.targets(ctx)
	if err != nil {
		return nil, err
	}
	c := &change{m: m}
	if err := fn(c); err != nil {
		return nil, err
	}
	m.noteChanged(c.accountNames()...)
	m.record(ctx, c.entries)
	res := m.deliver(ctx, tg, c)
	if failed := res.Failed(); len(failed) > 0 {
		return res, &PublishError{Home: m.home.Dir(), Failures: failed}
	}
	return res, nil
}

// change collects what one change did: audit entries, accounts to publish
// and accounts to remove from the stores.
type change struct {
	m         *Manager
	entries   []audit.Entry
	publish   []authority.AccountInfo
	unpublish []authority.AccountInfo
	replace   bool // write publish over whatever the stores hold (store.Replace)
}

func (c *change) audit(e ...audit.Entry) { c.entries = append(c.entries, e...) }

// published marks accounts whose new JWT must reach the servers.
func (c *change) published(accs ...authority.AccountInfo) { c.publish = append(c.publish, accs...) }

// PublishError says a change is saved in the home but did not reach every
// store or running server that serves the home.
type PublishError struct {
	Home     string
	Failures []Delivery
}

func (e *PublishError) Error() string {
	msg := fmt.Sprintf("the change is saved in the home %s, but it did not reach every server:", e.Home)
	for _, d := range e.Failures {
		msg += fmt.Sprintf("\n  - account %s to %s: %v", d.Account, d.Target, d.Err)
	}
	return msg + "\nnatsauth doctor shows what the servers run; natsauth push (or the next start of natsauth serve) publishes the home"
}

// auditPath is the home's own audit log, used when the primary store keeps
// none (an account server over HTTP).
func (m *Manager) auditPath() string { return filepath.Join(m.home.Dir(), audit.FileName) }
