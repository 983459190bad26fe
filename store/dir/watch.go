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

// Watch reports every change to the directory, by this instance (at once)
// or any other writer (when inotify or polling notices it). The first call
// starts the watcher; Close stops it.
func (s *Store) Watch(ctx context.Context) (<-chan store.Event, error) {
	if s.closed.Load() {
		return nil, fmt.Errorf("watch: %w", store.ErrClosed)
	}
	s.watchOnce.Do(func() { s.watchErr = s.startWatcher() })
	if s.watchErr != nil {
		return nil, fmt.Errorf("watch %s: %w", s.dir, s.watchErr)
	}
	ch, err := s.Broadcaster.Watch(ctx)
	if err != nil {
		return nil, fmt.Errorf("watch: %w", err)
	}
	return ch, nil
}

// startWatcher sets up inotify or a polling snapshot before it returns, so
// that every change after Watch returns is noticed.
func (s *Store) startWatcher() error {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	mode := s.cfg.Watch
	if mode != WatchPoll {
		n, err := newNotifier(s.dir)
		switch {
		case err == nil:
			s.stopWatch, s.watchDone = cancel, done
			go func() {
				defer close(done)
				s.runNotifier(ctx, n)
			}()
			s.log.Debug("watching with inotify")
			return nil
		case mode == WatchInotify:
			cancel()
			return fmt.Errorf("inotify: %w", err)
		default:
			s.log.Info("inotify unavailable, polling for changes", "err", err, "interval", s.cfg.Poll)
		}
	}
	snap, err := s.snapshot()
	if err != nil {
		cancel()
		return err
	}
	s.stopWatch, s.watchDone = cancel, done
	go func() {
		defer close(done)
		s.poll(ctx, snap)
	}()
	return nil
}

// runNotifier turns inotify events into reconciliations until ctx ends.
func (s *Store) runNotifier(ctx context.Context, n *notifier) {
	go func() {
		<-ctx.Done()
		n.close()
	}()
	err := n.run(func(name string, overflow bool) {
		if overflow {
			s.log.Warn("inotify queue overflowed; watchers must reload")
			s.Publish(store.Event{Kind: store.EventReset})
			return
		}
		if acc, ok := accountOf(name); ok {
			s.reconcile(acc)
		}
	})
	if err != nil && ctx.Err() == nil {
		s.log.Error("inotify watch ended; changes by other processes are no longer seen", "err", err)
		s.Publish(store.Event{Kind: store.EventReset})
	}
}

// stamp identifies one version of a file cheaply.
type stamp struct {
	size  int64
	mtime time.Time
	ino   uint64
}

// snapshot stamps every account file in the directory.
func (s *Store) snapshot() (map[string]stamp, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", s.dir, err)
	}
	snap := make(map[string]stamp, len(entries))
	for _, e := range entries {
		acc, ok := accountOf(e.Name())
		if !ok {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue // removed since ReadDir
		}
		snap[acc] = stamp{size: fi.Size(), mtime: fi.ModTime(), ino: inode(fi)}
	}
	return snap, nil
}

// poll compares snapshots every interval and reconciles what differs.
func (s *Store) poll(ctx context.Context, prev map[string]stamp) {
	t := time.NewTicker(s.cfg.Poll)
	defer t.Stop()
	var health store.PollHealth
	const what = "polling the directory"
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cur, err := s.snapshot()
		if err != nil {
			health.Failed(s.log, what, err)
			continue
		}
		health.Succeeded(s.log, what, &s.Broadcaster)
		for acc, st := range cur {
			if old, ok := prev[acc]; !ok || old != st {
				s.reconcile(acc)
			}
		}
		for acc := range prev {
			if _, ok := cur[acc]; !ok {
				s.reconcile(acc)
			}
		}
		prev = cur
	}
}

// reconcile reads the account's file and tells watchers if it differs
// from what they were last told. A file that does not decode yet (being
// written in place by another program) is left for its next event.
func (s *Store) reconcile(account string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := filepath.Join(s.dir, account+fileExt)
	data, err := os.ReadFile(p)
	var (
		st  fileState
		rec store.Record
	)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		s.log.Warn("cannot read changed account file", "account", account, "err", err)
		return
	default:
		r, derr := decode(account, data)
		if derr != nil {
			s.log.Debug("ignoring account file that does not decode (yet)", "account", account, "err", derr)
			return
		}
		rec = r
		st = fileState{present: true, sum: sha256.Sum256([]byte(rec.JWT))}
	}
	if old, ok := s.known[account]; ok && old == st {
		return
	}
	s.known[account] = st
	if st.present {
		s.Publish(store.Event{Kind: store.EventPut, Account: account, JWT: rec.JWT})
	} else {
		s.Publish(store.Event{Kind: store.EventDelete, Account: account})
	}
}
