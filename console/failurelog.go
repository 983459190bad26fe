package console

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/natsauth/natsauth/internal/fsx"
	"github.com/natsauth/natsauth/internal/sidedb"
	"github.com/natsauth/natsauth/sysevents"
)

// Auth failures are kept beside the home's store so that the console's
// history survives a restart: the table natsauth_auth_failures in the same
// SQLite file or PostgreSQL database (consoles of one cluster then share
// it), else HOME/FailuresFileName. At most FailureKeep of them, none older
// than FailureRetention.
const (
	FailuresFileName = "console-auth-failures.jsonl"
	FailureKeep      = 10000
	FailureRetention = 7 * 24 * time.Hour
)

// failureStore keeps auth failures across restarts.
type failureStore interface {
	// load returns the kept failures at or after since, oldest first, at
	// most n.
	load(ctx context.Context, since time.Time, n int) ([]sysevents.Record, error)
	// add keeps recs and drops those past the limits.
	add(ctx context.Context, recs []sysevents.Record) error
	close() error
}

// openFailureStore opens where the home of storeURL keeps auth failures.
func openFailureStore(ctx context.Context, homeDir, storeURL string) (failureStore, string, error) {
	sdb, err := sidedb.Open(storeURL, 2)
	switch {
	case errors.Is(err, sidedb.ErrUnsupported):
		p := filepath.Join(homeDir, FailuresFileName)
		return &fileFailures{path: p}, p, nil
	case err != nil:
		return nil, "", err
	}
	if _, err := sdb.ExecContext(ctx, failuresSchema); err != nil {
		sdb.Close()
		return nil, "", fmt.Errorf("create table natsauth_auth_failures: %w", err)
	}
	return &sqlFailures{db: sdb}, "table natsauth_auth_failures in " + sdb.Where, nil
}

// The key lets two consoles that receive the same event keep it once.
const failuresSchema = `CREATE TABLE IF NOT EXISTS natsauth_auth_failures (
	at_ns  BIGINT NOT NULL,
	server TEXT NOT NULL,
	remote TEXT NOT NULL,
	usr    TEXT NOT NULL,
	record TEXT NOT NULL,
	PRIMARY KEY (at_ns, server, remote, usr)
)`

type sqlFailures struct {
	db       *sidedb.DB
	lastTrim time.Time
}

func (s *sqlFailures) q(query string) string { return sidedb.Rebind(s.db.PG, query) }

func (s *sqlFailures) load(ctx context.Context, since time.Time, n int) ([]sysevents.Record, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT record FROM natsauth_auth_failures WHERE at_ns >= ? ORDER BY at_ns DESC LIMIT ?`),
		since.UnixNano(), n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []sysevents.Record
	for rows.Next() {
		var raw string
		if err := rows.Scan(&raw); err != nil {
			return nil, err
		}
		var r sysevents.Record
		if json.Unmarshal([]byte(raw), &r) == nil {
			out = append(out, r)
		}
	}
	slices.Reverse(out)
	return out, rows.Err()
}

func (s *sqlFailures) add(ctx context.Context, recs []sysevents.Record) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it does nothing
	ins, err := tx.PrepareContext(ctx, s.q(`INSERT INTO natsauth_auth_failures (at_ns, server, remote, usr, record)
VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`))
	if err != nil {
		return err
	}
	defer ins.Close()
	for _, r := range recs {
		raw, _ := json.Marshal(r)
		if _, err := ins.ExecContext(ctx, r.Time.UnixNano(), r.Server, r.Remote, r.User, string(raw)); err != nil {
			return err
		}
	}
	if time.Since(s.lastTrim) >= time.Minute {
		// Drop what is past the retention, then all but the newest
		// FailureKeep.
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM natsauth_auth_failures WHERE at_ns < ? OR at_ns < (
SELECT at_ns FROM natsauth_auth_failures ORDER BY at_ns DESC LIMIT 1 OFFSET ?)`),
			time.Now().Add(-FailureRetention).UnixNano(), FailureKeep-1); err != nil {
			return err
		}
		s.lastTrim = time.Now()
	}
	return tx.Commit()
}

func (s *sqlFailures) close() error { return s.db.Close() }

// fileFailures keeps failures as JSON lines in a file (0600), rewritten
// without the dropped ones when it holds twice the limit.
type fileFailures struct {
	path  string
	lines int // lines in the file, once known
}

func (f *fileFailures) read() ([]sysevents.Record, error) {
	fh, err := os.Open(f.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	var out []sysevents.Record
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	f.lines = 0
	for sc.Scan() {
		f.lines++
		var r sysevents.Record
		if json.Unmarshal(sc.Bytes(), &r) == nil {
			out = append(out, r)
		}
	}
	return out, sc.Err()
}

func (f *fileFailures) load(_ context.Context, since time.Time, n int) ([]sysevents.Record, error) {
	all, err := f.read()
	i := len(all)
	for i > 0 && len(all)-i < n && !all[i-1].Time.Before(since) {
		i--
	}
	return all[i:], err
}

func (f *fileFailures) add(_ context.Context, recs []sysevents.Record) error {
	if f.lines == 0 {
		if _, err := f.read(); err != nil {
			return err
		}
	}
	if f.lines+len(recs) > 2*FailureKeep {
		all, err := f.read()
		if err != nil {
			return err
		}
		all = append(all, recs...)
		cut := time.Now().Add(-FailureRetention)
		i := max(len(all)-FailureKeep, 0)
		for i < len(all) && all[i].Time.Before(cut) {
			i++
		}
		if err := fsx.WriteFile(f.path, jsonLines(all[i:]), 0o600); err != nil {
			return err
		}
		f.lines = len(all) - i
		return nil
	}
	fh, err := os.OpenFile(f.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if _, err := fh.Write(jsonLines(recs)); err != nil {
		fh.Close()
		return err
	}
	f.lines += len(recs)
	return fh.Close()
}

func (f *fileFailures) close() error { return nil }

// jsonLines encodes recs one JSON object per line.
func jsonLines(recs []sysevents.Record) []byte {
	var b []byte
	for _, r := range recs {
		raw, _ := json.Marshal(r)
		b = append(append(b, raw...), '\n')
	}
	return b
}

// keepFailures writes the failures queued on s.pending to the failure
// store until ctx ends, a batch at a time.
func (s *Server) keepFailures(ctx context.Context) {
	for {
		var batch []sysevents.Record
		select {
		case <-ctx.Done():
			return
		case r := <-s.pending:
			batch = append(batch, r)
		}
	more:
		for len(batch) < 256 {
			select {
			case r := <-s.pending:
				batch = append(batch, r)
			default:
				break more
			}
		}
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		if err := s.failStore.add(wctx, batch); err != nil {
			s.log.Warn("console: keep auth failures", "where", s.failStoreAt, "error", err, "failures", len(batch))
		}
		cancel()
	}
}

// recordFailure keeps an auth failure in memory and queues it for the
// failure store; a full queue (a storm of failures) drops it from the
// store only.
func (s *Server) recordFailure(r sysevents.Record) {
	s.events.add(r)
	if !s.keeping.Load() {
		return
	}
	select {
	case s.pending <- r:
	default:
		s.dropped.Add(1)
	}
}

// openFailures opens the failure store of the home, loads what it kept
// into memory and starts writing to it. Without it (an error) the console
// keeps failures in memory only, and says so.
func (s *Server) openFailures(ctx context.Context) {
	st, where, err := openFailureStore(ctx, s.m.Home().Dir(), s.m.StoreURL())
	if err == nil {
		var recs []sysevents.Record
		if recs, err = st.load(ctx, time.Now().Add(-FailureRetention), FailureKeep); err == nil {
			s.events.addAll(recs)
		} else {
			st.close()
		}
	}
	if err != nil {
		s.log.Warn("console: auth failures are kept in memory only", "error", err)
		return
	}
	s.failStore, s.failStoreAt = st, where
	s.keeping.Store(true)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.keepFailures(ctx)
	}()
}

// closeFailures writes what is still queued and closes the failure store.
func (s *Server) closeFailures() {
	if s.failStore == nil {
		return
	}
	s.keeping.Store(false)
	var batch []sysevents.Record
	for len(s.pending) > 0 {
		batch = append(batch, <-s.pending)
	}
	if len(batch) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := s.failStore.add(ctx, batch); err != nil {
			s.log.Warn("console: keep auth failures", "where", s.failStoreAt, "error", err, "failures", len(batch))
		}
		cancel()
	}
	if n := s.dropped.Load(); n > 0 {
		s.log.Warn("console: auth failures not kept (more came than could be written)", "failures", n)
	}
	s.failStore.close()
	s.failStore = nil
}
