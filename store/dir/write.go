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

	"github.com/natsauth/natsauth/store"
)

// PutIfNewer writes rec's JWT unless the stored one is newer or the same,
// atomically across processes.
func (s *Store) PutIfNewer(ctx context.Context, rec store.Record) (store.Change, error) {
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
		change, err = store.Decide(stored, exists, rec)
		if err != nil || change == store.Unchanged {
			return err
		}
		if err := writeAtomic(s.dir, p, []byte(rec.JWT)); err != nil {
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
	return f()
}

// waitLock is how long lockFile sleeps between tries of a held lock.
const waitLock = 2 * time.Millisecond

// writeAtomic replaces path with data: a temporary file in dir is written,
// fsynced and renamed over path, then dir is fsynced.
func writeAtomic(dir, path string, data []byte) (err error) {
	f, err := os.CreateTemp(dir, tmpGlob) // mode 0600
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		_ = f.Close()
		return err
	}
	if err = f.Chmod(filePerm); err != nil {
		_ = f.Close()
		return err
	}
	if err = f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir makes a rename or removal in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, errSyncUnsupported) {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
