package dir

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/natsauth/natsauth/internal/fsx"
	"github.com/natsauth/natsauth/store"
)

// PutIfNewer writes rec's JWT unless the stored one is newer or the same,
// atomically across processes.
func (s *Store) PutIfNewer(ctx context.Context, rec store.Record) (store.Change, error) {
	return s.put(ctx, rec, store.Decide)
}

// Replace writes rec's JWT even when the stored one is newer
// (store.Replacer).
func (s *Store) Replace(ctx context.Context, rec store.Record) (store.Change, error) {
	return s.put(ctx, rec, store.DecideReplace)
}

func (s *Store) put(ctx context.Context, rec store.Record, decide func(store.Record, bool, store.Record) (store.Change, error)) (store.Change, error) {
	p, err := s.path(rec.Account)
	if err != nil {
		return store.Unchanged, fmt.Errorf("put account: %w", err)
	}
	var change store.Change
	err = s.locked(ctx, func() error {
		stored, err := readRecord(p, rec.Account)
		exists := err == nil
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			// A file that does not decode (a half-written file of another
			// writer, or damage) is replaced by the valid JWT.
			s.log.Warn("replacing unreadable account file", "account", rec.Account, "err", err)
			exists, stored = true, store.Record{}
		}
		change, err = decide(stored, exists, rec)
		if err != nil || change == store.Unchanged {
			return err
		}
		if err := fsx.WriteFile(p, []byte(rec.JWT), filePerm); err != nil {
			return err
		}
		s.known[rec.Account] = fileState{present: true, sum: sha256.Sum256([]byte(rec.JWT))}
		s.Publish(store.Event{Kind: store.EventPut, Account: rec.Account, JWT: rec.JWT})
		return nil
	})
	if err != nil {
		if errors.Is(err, store.ErrStale) {
			return store.Unchanged, err
		}
		return store.Unchanged, fmt.Errorf("put account %s: %w", rec.Account, err)
	}
	return change, nil
}

// Delete removes the account's file.
func (s *Store) Delete(ctx context.Context, account string) error {
	p, err := s.path(account)
	if err != nil {
		return fmt.Errorf("delete account: %w", err)
	}
	err = s.locked(ctx, func() error {
		if err := os.Remove(p); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return store.ErrNotFound
			}
			return err
		}
		if err := syncDir(s.dir); err != nil {
			return err
		}
		s.known[account] = fileState{}
		s.Publish(store.Event{Kind: store.EventDelete, Account: account})
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete account %s: %w", account, err)
	}
	return nil
}

// locked runs f holding this instance's mutex and the directory's flock.
func (s *Store) locked(ctx context.Context, f func() error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return store.ErrClosed
	}
	if s.lockFile == nil {
		lf, err := os.OpenFile(filepath.Join(s.dir, lockName), os.O_RDWR|os.O_CREATE, filePerm)
		if err != nil {
			return fmt.Errorf("open lock file: %w", err)
		}
		s.lockFile = lf
	}
	if err := lockFile(ctx, s.lockFile); err != nil {
		return fmt.Errorf("lock %s: %w", s.dir, err)
	}
	defer unlockFile(s.lockFile)
	s.cleanStaleLocked()
	return f()
}

// cleanEvery is how often a Store looks for leftovers of killed writers:
// on its first write, then at most this often (a directory of 100,000
// accounts takes tens of milliseconds to list).
const cleanEvery = 10 * time.Minute

// cleanStaleLocked removes temporary files left by writers killed between
// writing and renaming. The caller holds the directory's flock, which
// every writer takes, so no live writer owns one.
func (s *Store) cleanStaleLocked() {
	if !s.cleaned.IsZero() && time.Since(s.cleaned) < cleanEvery {
		return
	}
	s.cleaned = time.Now()
	removed, err := fsx.CleanStale(s.dir, 0)
	if err != nil {
		s.log.Warn("removing leftovers of killed writers failed", "err", err)
	}
	if len(removed) > 0 {
		s.log.Info("removed leftovers of killed writers", "files", len(removed))
	}
}

// waitLock is how long lockFile sleeps between tries of a held lock.
const waitLock = 2 * time.Millisecond

// syncDir makes a rename or removal in dir durable.
func syncDir(dir string) error { return fsx.SyncDir(dir) }
