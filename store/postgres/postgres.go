// Package postgres is the PostgreSQL account-JWT store, registered as
// "postgres://" and "postgresql://" (pgx v5 connection URLs; pgx's own
// parameters such as pool_max_conns and connect_timeout apply).
//
// JWTs live in the table account_jwts(account_id PRIMARY KEY, jwt, created_at,
// updated_at, issued_at, jti, issuer, expires). Opening a store runs the schema
// migrations (under an advisory lock, so processes opening at once do not
// race); an existing account_jwts table of the familiar shape is extended in
// place. Triggers record every change — also those made by other programs —
// in the change log account_jwt_changes and announce it with NOTIFY on the
// channel natsauth_account_jwts, so every process watching sees it. A
// watcher that lost its connection catches up from the change log, or
// reports store.EventReset if the log was trimmed past what it had seen.
//
// The natsauth parameter changelog_keep=N (default 100000) bounds the change
// log to its newest N entries.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/natsauth/natsauth/store"
)

const (
	// Channel is the NOTIFY channel on which changes are announced.
	Channel = "natsauth_account_jwts"
	// PartsChannel carries, just before its change's notification, a JWT
	// too large for one notification, in parts: "seq part parts text".
	PartsChannel = "natsauth_account_jwt_parts"
	// DefaultConnectTimeout bounds connecting when the URL sets no
	// connect_timeout, so an unreachable server fails fast.
	DefaultConnectTimeout = 3 * time.Second
	// DefaultChangelogKeep is how many change-log entries are kept.
	DefaultChangelogKeep = 100000
)

// Store keeps account JWTs in PostgreSQL. It implements store.Backend and
// store.Watcher.
type Store struct {
	pool     *pgxpool.Pool
	cfg      *pgxpool.Config
	addr     string // host:port, for error messages
	password string // to scrub from error messages
	keep     int64
	log      *slog.Logger
	writes   atomic.Int64

	ctx    context.Context // ends on Close
	cancel context.CancelFunc

	mu       sync.Mutex
	closed   bool
	bc       store.Broadcaster
	listenWG sync.WaitGroup
	ready    chan struct{} // set when the listener starts; closed after its first attempt
}

var (
	_ store.Backend       = (*Store)(nil)
	_ store.Watcher       = (*Store)(nil)
	_ store.Replacer      = (*Store)(nil)
	_ store.AuditedWriter = (*Store)(nil)
)

// Config configures a PostgreSQL store.
type Config struct {
	// ConnString is a postgres:// URL or a key=value DSN, as pgx reads it
	// (without natsauth's own parameters).
	ConnString string
	// ChangelogKeep is how many change-log entries are kept
	// (DefaultChangelogKeep when zero).
	ChangelogKeep int64
	// Logger receives diagnostics; nil discards them.
	Logger *slog.Logger
}

// ParseURL reads a Config from a postgres:// or postgresql:// URL, taking
// natsauth's own parameter changelog_keep out of it so that pgx does not
// send it to the server as a setting.
func ParseURL(u *url.URL) (Config, error) {
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return Config{}, fmt.Errorf("postgres: scheme %q is not postgres or postgresql", u.Scheme)
	}
	conn, keep, err := ownParams(u.String())
	if err != nil {
		return Config{}, err
	}
	return Config{ConnString: conn, ChangelogKeep: keep}, nil
}

// New connects to the PostgreSQL database named by cfg.ConnString, runs
// the schema migrations and returns the backend. Wrap it with store.Wrap
// for validated writes, or use store.Open with the URL. If the server
// cannot be reached, the error wraps store.ErrUnavailable.
func New(ctx context.Context, c Config) (*Store, error) {
	connString, keep := c.ConnString, c.ChangelogKeep
	if keep <= 0 {
		keep = DefaultChangelogKeep
	}
	cfg, err := pgxpool.ParseConfig(connString)
	if err != nil {
		return nil, fmt.Errorf("postgres: %s", scrubParseError(err))
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = DefaultConnectTimeout
	}
	log := c.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	addr := net.JoinHostPort(cfg.ConnConfig.Host, strconv.Itoa(int(cfg.ConnConfig.Port)))
	s := &Store{
		cfg:      cfg,
		addr:     addr,
		password: cfg.ConnConfig.Password,
		keep:     keep,
		log:      log.With("store", "postgres", "addr", addr),
	}
	s.pool, err = pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, s.wrapErr("connect", err)
	}
	if err := s.migrate(ctx); err != nil {
		s.pool.Close()
		return nil, err
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// ownParams takes natsauth's own parameters out of a URL, so that pgx does
// not send them to the server as settings.
func ownParams(connString string) (string, int64, error) {
	keep := int64(DefaultChangelogKeep)
	if !strings.HasPrefix(connString, "postgres://") && !strings.HasPrefix(connString, "postgresql://") {
		return connString, keep, nil
	}
	u, err := url.Parse(connString)
	if err != nil {
		return "", 0, fmt.Errorf("postgres: bad url: %v", scrubParseError(err))
	}
	q := u.Query()
	if v := q.Get("changelog_keep"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return "", 0, fmt.Errorf("postgres: changelog_keep=%q: want a whole number ≥ 1", v)
		}
		keep = n
		q.Del("changelog_keep")
		u.RawQuery = q.Encode()
	}
	return u.String(), keep, nil
}

// Close stops watching and closes the pool. Watch channels are closed.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.listenWG.Wait()
	s.bc.Close()
	s.pool.Close()
	return nil
}

func (s *Store) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Addr returns the host:port of the server the store talks to.
func (s *Store) Addr() string { return s.addr }

// wrapErr names the operation and, for errors reaching the server, wraps
// store.ErrUnavailable with the server's address. The password never
// appears.
func (s *Store) wrapErr(op string, err error) error {
	if err == nil {
		return nil
	}
	unreachable := unavailable(err) // on the original chain: matched by value
	if s.password != "" && strings.Contains(err.Error(), s.password) {
		err = &scrubbed{msg: strings.ReplaceAll(err.Error(), s.password, "xxxxx"), err: err}
	}
	if unreachable {
		return fmt.Errorf("%s: postgres at %s unreachable: %w: %w", op, s.addr, store.ErrUnavailable, err)
	}
	return fmt.Errorf("%s: postgres: %w", op, err)
}

// scrubbed is an error whose message has the password taken out; errors.Is
// and errors.As still reach the error it stands for.
type scrubbed struct {
	msg string
	err error
}

func (e *scrubbed) Error() string { return e.msg }
func (e *scrubbed) Unwrap() error { return e.err }

// unavailable reports whether err means the server could not be reached or
// the connection broke, rather than a problem with the statement.
func unavailable(err error) bool {
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case strings.HasPrefix(pe.Code, "08"), // connection exception
			pe.Code == "57P01", // admin_shutdown
			pe.Code == "57P02", // crash_shutdown
			pe.Code == "57P03", // cannot_connect_now
			pe.Code == "53300": // too_many_connections
			return true
		}
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) || pgconn.Timeout(err) {
		return true
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, pgconn.ErrConnClosed) {
		return true
	}
	return false
}

// retryable reports whether an operation that failed with err may simply
// be tried again on a fresh connection: a pooled connection broke (e.g. the
// server restarted since it was used) and the caller's context is still
// live. A failure to connect is not retried: the next attempt would meet
// the same server.
func retryable(ctx context.Context, err error) bool {
	var ce *pgconn.ConnectError
	return err != nil && ctx.Err() == nil && unavailable(err) && !errors.As(err, &ce)
}

// retries is how many times an operation is retried on a broken pooled
// connection; the pool holds few connections and drops each broken one.
const retries = 3

// scrubParseError keeps pgx's message about a bad connection string but
// not the string itself, which may hold a password.
func scrubParseError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return "cannot parse connection string: " + ue.Err.Error()
	}
	var pce *pgconn.ParseConfigError
	if errors.As(err, &pce) {
		if pce.Unwrap() != nil {
			return "cannot parse connection string: " + pce.Unwrap().Error()
		}
		// Error() quotes the connection string; keep only what follows it.
		msg := pce.Error()
		if i := strings.LastIndex(msg, "`: "); i >= 0 {
			return "cannot parse connection string: " + msg[i+3:]
		}
		return "cannot parse connection string"
	}
	return err.Error()
}
