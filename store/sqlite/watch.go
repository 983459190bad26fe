package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/natsauth/natsauth/store"
)

// batch is how many change-log rows one catch-up query reads.
const batch = 1000

// Watch reports every change, by this instance or any other process, in
// commit order, from the change log. The first call starts the poller;
// Close stops it.
func (s *Store) Watch(ctx context.Context) (<-chan store.Event, error) {
	if s.closed.Load() {
		return nil, fmt.Errorf("watch: %w", store.ErrClosed)
	}
	if err := s.startWatcher(ctx); err != nil {
		return nil, fmt.Errorf("watch: %w", err)
	}
	ch, err := s.Broadcaster.Watch(ctx)
	if err != nil {
		return nil, fmt.Errorf("watch: %w", err)
	}
	return ch, nil
}

// startWatcher starts the poller once, from the change log's current end,
// before it returns: every change committed after Watch returns is seen.
func (s *Store) startWatcher(ctx context.Context) error {
	s.watchMu.Lock()
	defer s.watchMu.Unlock()
	if s.watching {
		if s.closed.Load() {
			return store.ErrClosed
		}
		return nil
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return unavailable(err)
	}
	var last int64
	if err := conn.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM account_changes`).Scan(&last); err != nil {
		_ = conn.Close()
		return unavailable(err)
	}
	wctx, cancel := context.WithCancel(context.Background())
	s.watching, s.nudge = true, make(chan struct{}, 1)
	s.stopWatch, s.watchDone = cancel, make(chan struct{})
	go func() {
		defer close(s.watchDone)
		defer conn.Close()
		s.poll(wctx, conn, last)
	}()
	return nil
}

// wake makes the poller look now (after a commit by this instance).
func (s *Store) wake() {
	s.watchMu.Lock()
	n := s.nudge
	s.watchMu.Unlock()
	if n != nil {
		select {
		case n <- struct{}{}:
		default:
		}
	}
}

// poll delivers change-log rows after last, checking PRAGMA data_version
// (which changes when any other connection commits) before each query.
// The connection is its own: data_version is per connection.
func (s *Store) poll(ctx context.Context, conn *sql.Conn, last int64) {
	t := time.NewTicker(s.cfg.Poll)
	defer t.Stop()
	seen := int64(-1) // data_version at the last catch-up
	var health store.PollHealth
	const what = "reading the change log"
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.nudge:
		}
		var dv int64
		err := conn.QueryRowContext(ctx, `PRAGMA data_version`).Scan(&dv)
		if err == nil && dv == seen {
			continue
		}
		var next int64
		if err == nil {
			next, err = s.catchUp(ctx, conn, last)
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			health.Failed(s.log, what, err)
			continue
		}
		// Reads failed for a while: watchers reset, although the log
		// itself loses nothing unless it was trimmed (reported by catchUp).
		health.Succeeded(s.log, what, &s.Broadcaster)
		seen, last = dv, next
	}
}

// catchUp publishes every change after last and returns the new last.
func (s *Store) catchUp(ctx context.Context, conn *sql.Conn, last int64) (int64, error) {
	var trimmed int64
	if err := conn.QueryRowContext(ctx, `SELECT value FROM store_meta WHERE name = 'trimmed_seq'`).Scan(&trimmed); err != nil {
		return last, err
	}
	if last < trimmed {
		s.log.Warn("watcher fell behind the trimmed change log; watchers must reload", "last", last, "trimmed", trimmed)
		s.Publish(store.Event{Kind: store.EventReset})
		last = trimmed
	}
	for {
		rows, err := conn.QueryContext(ctx, `SELECT seq, account_id, kind, COALESCE(jwt, '') FROM account_changes
			WHERE seq > ? ORDER BY seq LIMIT ?`, last, batch)
		if err != nil {
			return last, err
		}
		n := 0
		for rows.Next() {
			var (
				seq          int64
				acc, kind, t string
			)
			if err := rows.Scan(&seq, &acc, &kind, &t); err != nil {
				_ = rows.Close()
				return last, err
			}
			n++
			last = seq
			ev := store.Event{Kind: store.EventPut, Account: acc, JWT: t}
			if kind == "delete" {
				ev = store.Event{Kind: store.EventDelete, Account: acc}
			}
			s.Publish(ev)
		}
		if err := rows.Close(); err != nil {
			return last, err
		}
		if err := rows.Err(); err != nil {
			return last, err
		}
		if n < batch {
			return last, nil
		}
	}
}
