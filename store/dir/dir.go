// Package dir stores account JWTs in a directory in nats-server's `full`
// resolver format, registered as "dir:///absolute/path":
//
//   - one file per account, named <account public key>.jwt, holding the raw
//     JWT (no newline) — what nats-server's DirJWTStore writes with sharding
//     off, so `resolver: {type: full, dir: ...}` of a stock nats-server reads
//     the same directory;
//   - the directory is created 0700 and files are 0600, nats-server's own
//     defaults (defaultDirPerms, defaultFilePerms);
//   - every write is atomic (internal/fsx): a temporary file in the same
//     directory is written, fsynced and renamed over the old one, then the
//     directory is fsynced. Temporary files are named ".<pub>.jwt.tmp-N"
//     and do not end in ".jwt", so nats-server never loads one; those of a
//     writer killed mid-write are removed by the next Store's first write,
//     under the lock;
//   - the audit log (store.Auditor) is the append-only JSON-lines file
//     "audit.log" in the directory, 0600; nats-server ignores it;
//   - newer-only is atomic across processes: read-compare-write happens
//     under an exclusive flock on the file ".natsauth.lock" in the
//     directory. (nats-server's own writes do not take that lock; they
//     happen when it is pushed claims updates.)
//
// Watch reports changes made by any process: inotify on Linux, polling
// elsewhere or when asked (?watch=poll, interval ?poll=500ms). Only real
// content changes are reported; two versions written by another process in
// quick succession may be reported as one event carrying the newer JWT.
// Inotify does not see changes made on another host of a network file
// system: use ?watch=poll there.
package dir

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/jwt/v2"

	"github.com/natsauth/natsauth/audit"
	"github.com/natsauth/natsauth/store"
	"github.com/natsauth/natsauth/trust"
)

const (
	fileExt  = ".jwt"           // nats-server's DirJWTStore file extension
	lockName = ".natsauth.lock" // flock'ed around read-compare-write
	dirPerm  = 0o700            // nats-server defaultDirPerms
	filePerm = 0o600            // nats-server defaultFilePerms

	// DefaultPoll is the polling interval when inotify is not used.
	DefaultPoll = 500 * time.Millisecond
)

// WatchMode picks how a Store notices changes made by other processes.
type WatchMode string

// Watch modes.
const (
	WatchAuto    WatchMode = "auto"    // inotify where available, else polling
	WatchInotify WatchMode = "inotify" // inotify or fail
	WatchPoll    WatchMode = "poll"    // polling only
)

// Config configures a directory store.
type Config struct {
	// Dir is the absolute path of the directory; it is created 0700 if
	// absent.
	Dir string
	// Watch picks how other processes' changes are noticed (default auto).
	Watch WatchMode
	// Poll is the polling interval (default DefaultPoll).
	Poll time.Duration
	// Logger receives diagnostics; nil discards them.
	Logger *slog.Logger
}

// ParseURL reads a Config from dir:///abs/path?watch=auto&poll=500ms.
func ParseURL(u *url.URL) (Config, error) {
	if u.Host != "" || u.Opaque != "" || !filepath.IsAbs(u.Path) {
		return Config{}, fmt.Errorf("want dir:///absolute/path (three slashes), got %q", u.Redacted())
	}
	cfg := Config{Dir: filepath.Clean(u.Path), Watch: WatchAuto, Poll: DefaultPoll}
	q := u.Query()
	for k := range q {
		if k != "watch" && k != "poll" {
			return Config{}, fmt.Errorf("unknown dir store parameter %q (known: watch, poll)", k)
		}
	}
	if v := q.Get("watch"); v != "" {
		switch m := WatchMode(strings.ToLower(v)); m {
		case WatchAuto, WatchInotify, WatchPoll:
			cfg.Watch = m
		default:
			return Config{}, fmt.Errorf("watch=%q: want auto, inotify or poll", v)
		}
	}
	if v := q.Get("poll"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 10*time.Millisecond {
			return Config{}, fmt.Errorf("poll=%q: want a duration of at least 10ms, such as 500ms", v)
		}
		cfg.Poll = d
	}
	return cfg, nil
}

// Store is a directory of account JWT files.
type Store struct {
	store.Broadcaster
	dir    string
	cfg    Config
	log    *slog.Logger
	closed atomic.Bool
	audit  *audit.File

	mu       sync.Mutex           // serializes writes and reconciliation in this process
	lockFile *os.File             // opened on first write; guarded by mu
	cleaned  time.Time            // last look for leftovers; guarded by mu
	known    map[string]fileState // what watchers were last told; guarded by mu

	watchOnce sync.Once
	watchErr  error
	stopWatch context.CancelFunc
	watchDone chan struct{}
}

// fileState is what a watcher was last told about one account file.
type fileState struct {
	present bool
	sum     [sha256.Size]byte
}

var (
	_ store.Backend  = (*Store)(nil)
	_ store.Watcher  = (*Store)(nil)
	_ store.Auditor  = (*Store)(nil)
	_ store.Replacer = (*Store)(nil)
)

// AuditLog returns the store's audit log: the append-only JSON-lines file
// audit.log (0600) in the directory, which nats-server does not read.
func (s *Store) AuditLog() audit.Log { return s.audit }

// New opens the directory store, creating the directory (0700) if absent.
// It reads no account file and starts nothing.
func New(_ context.Context, cfg Config) (*Store, error) {
	if !filepath.IsAbs(cfg.Dir) {
		return nil, fmt.Errorf("dir store: path %q is not absolute", cfg.Dir)
	}
	if cfg.Watch == "" {
		cfg.Watch = WatchAuto
	}
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultPoll
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.Dir, dirPerm); err != nil {
		return nil, fmt.Errorf("dir store: create %s: %w", cfg.Dir, err)
	}
	fi, err := os.Stat(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("dir store: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("dir store: %s is not a directory", cfg.Dir)
	}
	return &Store{dir: cfg.Dir, cfg: cfg, log: log.With("store", "dir", "dir", cfg.Dir),
		known: map[string]fileState{}, audit: audit.NewFile(filepath.Join(cfg.Dir, audit.FileName))}, nil
}

// Dir returns the directory the store keeps its files in.
func (s *Store) Dir() string { return s.dir }

// path returns the file of account, refusing anything that is not an
// account public key before a path is built (defense in depth: the
// validated store already checked).
func (s *Store) path(account string) (string, error) {
	if err := trust.CheckAccountKey(account); err != nil {
		return "", err
	}
	return filepath.Join(s.dir, account+fileExt), nil
}

// Get reads and decodes the account's file.
func (s *Store) Get(_ context.Context, account string) (store.Record, error) {
	if s.closed.Load() {
		return store.Record{}, fmt.Errorf("get account: %w", store.ErrClosed)
	}
	p, err := s.path(account)
	if err != nil {
		return store.Record{}, fmt.Errorf("get account: %w", err)
	}
	rec, err := readRecord(p, account)
	if err != nil {
		return store.Record{}, fmt.Errorf("get account %s: %w", account, err)
	}
	return rec, nil
}

// readRecord reads and decodes one account file; a missing file is
// ErrNotFound.
func readRecord(path, account string) (store.Record, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return store.Record{}, store.ErrNotFound
	}
	if err != nil {
		return store.Record{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return store.Record{}, err
	}
	data, err := io.ReadAll(io.LimitReader(f, trust.MaxJWTSize+1))
	if err != nil {
		return store.Record{}, err
	}
	rec, err := decode(account, data)
	if err != nil {
		return store.Record{}, err
	}
	rec.UpdatedAt = fi.ModTime()
	return rec, nil
}

// decode turns a file's content into a record, checking that it is an
// account JWT for account.
func decode(account string, data []byte) (store.Record, error) {
	if len(data) > trust.MaxJWTSize {
		return store.Record{}, fmt.Errorf("stored file is over %d bytes", trust.MaxJWTSize)
	}
	token := strings.TrimSpace(string(data))
	ac, err := jwt.DecodeAccountClaims(token)
	if err != nil {
		return store.Record{}, fmt.Errorf("stored file does not hold an account jwt: %w", err)
	}
	if ac.Subject != account {
		return store.Record{}, fmt.Errorf("stored jwt has subject %s, not the file's account", ac.Subject)
	}
	return store.RecordFromClaims(token, ac), nil
}

// List returns the accounts that have a file, sorted.
func (s *Store) List(_ context.Context) ([]string, error) {
	if s.closed.Load() {
		return nil, fmt.Errorf("list accounts: %w", store.ErrClosed)
	}
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}
	out := make([]string, 0, len(entries))
	for _, e := range entries {
		if acc, ok := accountOf(e.Name()); ok && !e.IsDir() {
			out = append(out, acc)
		}
	}
	return out, nil
}

// accountOf returns the account a file name belongs to, if it is an
// account JWT file.
func accountOf(name string) (string, bool) {
	acc, ok := strings.CutSuffix(name, fileExt)
	if !ok || trust.CheckAccountKey(acc) != nil {
		return "", false
	}
	return acc, true
}

// Close stops watching and releases the lock file. The files stay.
func (s *Store) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	s.watchOnce.Do(func() {}) // no watcher may start after Close
	if s.stopWatch != nil {
		s.stopWatch()
		<-s.watchDone
	}
	s.Broadcaster.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lockFile != nil {
		err := s.lockFile.Close()
		s.lockFile = nil
		return err
	}
	return nil
}

// Scan calls fn for every account file that decodes (store.Scanner).
func (s *Store) Scan(ctx context.Context, fn func(store.Record) error) error {
	ids, err := s.List(ctx)
	if err != nil {
		return fmt.Errorf("scan accounts: %w", err)
	}
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return err
		}
		rec, err := readRecord(filepath.Join(s.dir, id+fileExt), id)
		if err != nil {
			continue // removed meanwhile, or being written by another program
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
	return nil
}
