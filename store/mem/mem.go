// Package mem is the in-memory account-JWT store, registered as "mem://".
// Each Open makes a new, empty store; it is meant for tests, for embedders
// and for nats-server.conf's MEMORY resolver with resolver_preload.
package mem

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"sync"
	"time"

	"github.com/natsauth/natsauth/audit"
	"github.com/natsauth/natsauth/store"
)

// Config configures a memory store; there is nothing to configure.
type Config struct{}

// ParseURL reads a Config from mem:// (no host, path or parameters).
func ParseURL(u *url.URL) (Config, error) {
	if u.Scheme != "mem" || u.Host != "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return Config{}, fmt.Errorf("mem store: want mem://, got %q", u.Redacted())
	}
	return Config{}, nil
}

// Store keeps account JWTs in a map.
type Store struct {
	store.Broadcaster
	mu      sync.RWMutex
	records map[string]store.Record
	closed  bool
	audit   audit.Memory
}

var (
	_ store.Backend  = (*Store)(nil)
	_ store.Replacer = (*Store)(nil)
	_ store.Watcher  = (*Store)(nil)
	_ store.Auditor  = (*Store)(nil)
)

// AuditLog returns the store's audit log, kept in memory with it.
func (s *Store) AuditLog() audit.Log { return &s.audit }

// New returns an empty in-memory backend. Unlike the other backends it
// takes no context and Config and cannot fail: there is nothing to open.
func New() *Store { return &Store{records: map[string]store.Record{}} }

// Get returns the record for account.
func (s *Store) Get(_ context.Context, account string) (store.Record, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return store.Record{}, store.ErrClosed
	}
	rec, ok := s.records[account]
	if !ok {
		return store.Record{}, fmt.Errorf("get account %s: %w", account, store.ErrNotFound)
	}
	return rec, nil
}

// PutIfNewer stores rec unless a newer or identical JWT is stored.
func (s *Store) PutIfNewer(_ context.Context, rec store.Record) (store.Change, error) {
	return s.put(rec, store.Decide)
}

// Replace stores rec even when a newer JWT is stored (store.Replacer).
func (s *Store) Replace(_ context.Context, rec store.Record) (store.Change, error) {
	return s.put(rec, store.DecideReplace)
}

func (s *Store) put(rec store.Record, decide func(store.Record, bool, store.Record) (store.Change, error)) (store.Change, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return store.Unchanged, store.ErrClosed
	}
	old, exists := s.records[rec.Account]
	change, err := decide(old, exists, rec)
	if err != nil || change == store.Unchanged {
		s.mu.Unlock()
		return change, err
	}
	rec.UpdatedAt = time.Now()
	s.records[rec.Account] = rec
	// Publish under the lock so watchers see changes in commit order.
	s.Publish(store.Event{Kind: store.EventPut, Account: rec.Account, JWT: rec.JWT})
	s.mu.Unlock()
	return change, nil
}

// Delete removes account.
func (s *Store) Delete(_ context.Context, account string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.ErrClosed
	}
	if _, ok := s.records[account]; !ok {
		return fmt.Errorf("delete account %s: %w", account, store.ErrNotFound)
	}
	delete(s.records, account)
	s.Publish(store.Event{Kind: store.EventDelete, Account: account})
	return nil
}

// List returns every stored account key, sorted.
func (s *Store) List(_ context.Context) ([]string, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, store.ErrClosed
	}
	out := make([]string, 0, len(s.records))
	for k := range s.records {
		out = append(out, k)
	}
	sort.Strings(out)
	return out, nil
}

// Close empties the store and ends every watch.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		s.Broadcaster.Close()
	}
	return nil
}

// Scan calls fn for every record (store.Scanner), on a copy taken under
// the lock.
func (s *Store) Scan(ctx context.Context, fn func(store.Record) error) error {
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return store.ErrClosed
	}
	recs := make([]store.Record, 0, len(s.records))
	for _, r := range s.records {
		recs = append(recs, r)
	}
	s.mu.RUnlock()
	for _, r := range recs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}
