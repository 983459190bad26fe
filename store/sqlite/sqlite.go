// Package sqlite stores account JWTs in an embedded SQLite database
// (modernc.org/sqlite: pure Go, no cgo), registered as
// "sqlite:///absolute/path/file.db". It is natsauth's default store.
//
// The database runs in WAL mode with a busy timeout, so several processes
// (nodes, the CLI) may share one file. Account JWTs live in the table
// account_jwts(account_id TEXT PRIMARY KEY, jwt, issued_at, jti, issuer,
// expires, created_at, updated_at); times are unix milliseconds. Every
// change also appends a row to account_changes(seq, account_id, kind, jwt,
// changed_at), which watchers in any process poll (`seq > last`, after a
// cheap PRAGMA data_version check); the log keeps the latest changes only.
// Newer-only is atomic: read, compare and write happen inside one
// BEGIN IMMEDIATE transaction. Schema migrations run on open, recorded in
// schema_version. Opening reads no account: a database of 100,000 accounts
// opens as fast as an empty one.
//
// URL parameters: poll (watch polling interval, default 100ms),
// busy_timeout (default 5s), synchronous (full, the default, or normal),
// keep (change-log rows kept, default 10000).
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"modernc.org/sqlite" // registers the "sqlite" database/sql driver
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/natsauth/natsauth/store"
	"github.com/natsauth/natsauth/trust"
)

// Defaults.
const (
	DefaultPoll        = 100 * time.Millisecond
	DefaultBusyTimeout = 5 * time.Second
	DefaultKeep        = 10000
)

// Config configures a SQLite store.
type Config struct {
	// Path is the absolute path of the database file. It is created 0600
	// (its directory 0700) if absent.
	Path string
	// Poll is how often watchers look for changes by other processes.
	Poll time.Duration
	// BusyTimeout is how long a statement waits for another writer's lock.
	BusyTimeout time.Duration
	// SyncNormal trades the durability of the last commits on power loss
	// (never consistency) for faster writes: PRAGMA synchronous=NORMAL
	// instead of FULL.
	SyncNormal bool
	// Keep is how many change-log rows are kept for watchers.
	Keep int
	// Logger receives diagnostics; nil discards them.
	Logger *slog.Logger
}

// ParseURL reads a Config from sqlite:///abs/path/file.db?poll=100ms.
func ParseURL(u *url.URL) (Config, error) {
	if u.Host != "" || u.Opaque != "" || !filepath.IsAbs(u.Path) {
		return Config{}, fmt.Errorf("want sqlite:///absolute/path/file.db (three slashes), got %q", u.Redacted())
	}
	cfg := Config{Path: filepath.Clean(u.Path)}
	for k, vs := range u.Query() {
		v := vs[len(vs)-1]
		var err error
		switch k {
		case "poll":
			cfg.Poll, err = time.ParseDuration(v)
			if err == nil && cfg.Poll < 5*time.Millisecond {
				err = errors.New("below 5ms")
			}
		case "busy_timeout":
			cfg.BusyTimeout, err = time.ParseDuration(v)
			if err == nil && cfg.BusyTimeout < time.Millisecond {
				err = errors.New("below 1ms")
			}
		case "synchronous":
			switch strings.ToLower(v) {
			case "full":
			case "normal":
				cfg.SyncNormal = true
			default:
				err = errors.New("want full or normal")
			}
		case "keep":
			cfg.Keep, err = strconv.Atoi(v)
			if err == nil && cfg.Keep < 100 {
				err = errors.New("below 100")
			}
		default:
			return Config{}, fmt.Errorf("unknown sqlite store parameter %q (known: poll, busy_timeout, synchronous, keep)", k)
		}
		if err != nil {
			return Config{}, fmt.Errorf("sqlite store parameter %s=%q: %v", k, v, err)
		}
	}
	return cfg, nil
}

// Store is an account-JWT store in one SQLite database file.
type Store struct {
	store.Broadcaster
	cfg    Config
	log    *slog.Logger
	db     *sql.DB
	get    *sql.Stmt
	closed atomic.Bool

	wmu sync.Mutex // one writer at a time in this process

	watchMu   sync.Mutex // guards the fields below
	watching  bool
	nudge     chan struct{}
	stopWatch context.CancelFunc
	watchDone chan struct{}
}

var (
	_ store.Backend  = (*Store)(nil)
	_ store.Watcher  = (*Store)(nil)
	_ store.Replacer = (*Store)(nil)
)

// New opens (creating if needed) the database and migrates its schema. It
// reads no account and starts no goroutine.
func New(ctx context.Context, cfg Config) (*Store, error) {
	if !filepath.IsAbs(cfg.Path) {
		return nil, fmt.Errorf("sqlite store: path %q is not absolute", cfg.Path)
	}
	if strings.ContainsAny(cfg.Path, "?#") {
		return nil, fmt.Errorf("sqlite store: path %q may not contain ? or #", cfg.Path)
	}
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultPoll
	}
	if cfg.BusyTimeout <= 0 {
		cfg.BusyTimeout = DefaultBusyTimeout
	}
	if cfg.Keep <= 0 {
		cfg.Keep = DefaultKeep
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := createFile(cfg.Path); err != nil {
		return nil, fmt.Errorf("sqlite store: %w", err)
	}
	sync := "FULL"
	if cfg.SyncNormal {
		sync = "NORMAL"
	}
	// Every pooled connection gets these pragmas; BeginTx is BEGIN IMMEDIATE.
	dsn := cfg.Path + "?_txlock=immediate" +
		"&_pragma=busy_timeout(" + strconv.FormatInt(cfg.BusyTimeout.Milliseconds(), 10) + ")" +
		"&_pragma=journal_mode(WAL)&_pragma=synchronous(" + sync + ")"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite store %s: %w", cfg.Path, err)
	}
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(4)
	s := &Store{cfg: cfg, log: log.With("store", "sqlite", "path", cfg.Path), db: db}
	if err := s.migrateWhenFree(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("sqlite store %s: %w", cfg.Path, err)
	}
	s.get, err = db.PrepareContext(ctx,
		`SELECT jwt, issued_at, jti, issuer, expires, updated_at FROM account_jwts WHERE account_id = ?`)
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("sqlite store %s: prepare: %w", cfg.Path, err)
	}
	return s, nil
}

// migrateWhenFree migrates, trying again for up to the busy timeout while
// SQLite answers BUSY at once: processes opening a new file together race
// to switch it to WAL mode, and SQLite does not wait (busy_timeout) for a
// connection that is switching the journal mode or recovering the WAL.
func (s *Store) migrateWhenFree(ctx context.Context) error {
	deadline := time.Now().Add(s.cfg.BusyTimeout)
	for {
		err := s.migrate(ctx)
		if !isBusy(err) || time.Now().After(deadline) {
			return err
		}
		t := time.NewTimer(20 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// isBusy reports SQLite's SQLITE_BUSY (any extended code of it).
func isBusy(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_BUSY
}

// createFile makes the database file 0600 in a 0700 directory before
// SQLite opens it (SQLite gives its -wal and -shm files the same mode).
func createFile(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	return f.Close()
}

// Path returns the database file.
func (s *Store) Path() string { return s.cfg.Path }

// DB returns the database handle, for tools and tests. Write only through
// the Store: the change log must see every change.
func (s *Store) DB() *sql.DB { return s.db }

// unavailable marks a database error as a backend failure.
func unavailable(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
}

// Get reads one account's record.
func (s *Store) Get(ctx context.Context, account string) (store.Record, error) {
	if s.closed.Load() {
		return store.Record{}, fmt.Errorf("get account: %w", store.ErrClosed)
	}
	if err := trust.CheckAccountKey(account); err != nil {
		return store.Record{}, fmt.Errorf("get account: %w", err)
	}
	rec := store.Record{Account: account}
	var updated int64
	err := s.get.QueryRowContext(ctx, account).Scan(&rec.JWT, &rec.IssuedAt, &rec.ID, &rec.Issuer, &rec.Expires, &updated)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.Record{}, fmt.Errorf("get account %s: %w", account, store.ErrNotFound)
	case err != nil:
		return store.Record{}, fmt.Errorf("get account %s: %w", account, unavailable(err))
	}
	rec.UpdatedAt = time.UnixMilli(updated)
	return rec, nil
}

// List returns every stored account key, sorted.
func (s *Store) List(ctx context.Context) ([]string, error) {
	if s.closed.Load() {
		return nil, fmt.Errorf("list accounts: %w", store.ErrClosed)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT account_id FROM account_jwts ORDER BY account_id`)
	if err != nil {
		return nil, fmt.Errorf("list accounts: %w", unavailable(err))
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, fmt.Errorf("list accounts: %w", unavailable(err))
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list accounts: %w", unavailable(err))
	}
	return out, nil
}

// Close stops watching and closes the database.
func (s *Store) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	s.watchMu.Lock()
	stop, done := s.stopWatch, s.watchDone
	s.watching = true // no watcher may start now
	s.watchMu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
	s.Broadcaster.Close()
	s.wmu.Lock() // let a write in flight finish
	defer s.wmu.Unlock()
	_ = s.get.Close()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close sqlite store: %w", err)
	}
	return nil
}

// Scan calls fn for every stored record in one query (store.Scanner).
func (s *Store) Scan(ctx context.Context, fn func(store.Record) error) error {
	if s.closed.Load() {
		return fmt.Errorf("scan accounts: %w", store.ErrClosed)
	}
	rows, err := s.db.QueryContext(ctx,
		`SELECT account_id, jwt, issued_at, jti, issuer, expires, updated_at FROM account_jwts`)
	if err != nil {
		return fmt.Errorf("scan accounts: %w", unavailable(err))
	}
	defer rows.Close()
	for rows.Next() {
		var (
			rec     store.Record
			updated int64
		)
		if err := rows.Scan(&rec.Account, &rec.JWT, &rec.IssuedAt, &rec.ID, &rec.Issuer, &rec.Expires, &updated); err != nil {
			return fmt.Errorf("scan accounts: %w", unavailable(err))
		}
		rec.UpdatedAt = time.UnixMilli(updated)
		if err := fn(rec); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("scan accounts: %w", unavailable(err))
	}
	return nil
}
