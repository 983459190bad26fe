// Package userdb keeps natsauth's own username/password users for the
// identity gateway (package callout): names, argon2id password hashes,
// groups and a disabled flag, in tables of their own beside the account
// JWTs — the same SQLite file or PostgreSQL database the store URL names,
// opened separately, so the store backends are untouched.
//
// Every change (add, password, disable, enable) bumps a revision counter
// that a running gateway polls to end the live connections of a changed
// user, and is appended to the audit log given in Options. Passwords and
// hashes never appear in an error, a log line or an audit entry.
package userdb

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
	"unicode"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	_ "modernc.org/sqlite"             // registers the "sqlite" database/sql driver

	"github.com/natsauth/natsauth/audit"
	"github.com/natsauth/natsauth/internal/sidedb"
)

// Sentinel errors; errors returned by DB wrap them.
var (
	ErrNotFound    = errors.New("no such user")
	ErrExists      = errors.New("user already exists")
	ErrDisabled    = errors.New("user is disabled")
	ErrBadPassword = errors.New("wrong password")
	ErrInvalid     = errors.New("invalid input")
	ErrUnsupported = errors.New("password users need a sqlite:// or postgres:// store")
	ErrClosed      = errors.New("user database is closed")
)

// Audit actions written by DB.
const (
	ActionAdd      = "callout add user"
	ActionPassword = "callout passwd user"
	ActionDisable  = "callout disable user"
	ActionEnable   = "callout enable user"
)

// MinPasswordLen is the shortest password accepted.
const MinPasswordLen = 8

// User is one password user. It carries no password or hash.
type User struct {
	Name      string
	Groups    []string
	Disabled  bool
	Rev       int64 // the revision of the user's last change
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Options configure a DB.
type Options struct {
	// Audit receives one entry per change; nil records none.
	Audit audit.Log
	// Params are the argon2id costs of new hashes (default DefaultParams).
	Params Params
}

// DB is the user database. Its methods may be called concurrently.
type DB struct {
	db     *sql.DB
	pg     bool
	where  string
	opts   Options
	dummy  string // hash checked for unknown users, so timing does not tell them apart
	closed chan struct{}
	once   sync.Once
}

// Open opens the user tables in the database a store URL names
// (sqlite:///path/file.db or postgres://...), creating them if needed.
// Other store kinds wrap ErrUnsupported.
func Open(ctx context.Context, storeURL string, opts Options) (*DB, error) {
	if opts.Params == (Params{}) {
		opts.Params = DefaultParams
	}
	d := &DB{opts: opts, closed: make(chan struct{})}
	sdb, err := sidedb.Open(storeURL, 8)
	if errors.Is(err, sidedb.ErrUnsupported) {
		return nil, fmt.Errorf("open user database: %w: %w", err, ErrUnsupported)
	}
	if err != nil {
		return nil, fmt.Errorf("open user database: %w", err)
	}
	d.db, d.pg, d.where = sdb.DB, sdb.PG, sdb.Where
	if err := d.migrate(ctx); err != nil {
		d.db.Close()
		return nil, fmt.Errorf("open user database %s: %w", d.where, err)
	}
	if d.dummy, err = hashPassword("natsauth-unknown-user", opts.Params); err != nil {
		d.db.Close()
		return nil, err
	}
	return d, nil
}

// Where names the database (a path, or a URL without its password).
func (d *DB) Where() string { return d.where }

// Close releases the database.
func (d *DB) Close() error {
	var err error
	d.once.Do(func() {
		close(d.closed)
		err = d.db.Close()
	})
	return err
}

// migrate creates the tables; every statement is idempotent.
func (d *DB) migrate(ctx context.Context) error {
	stmts := []string{
		`CREATE TABLE IF NOT EXISTS callout_users (
			name       TEXT PRIMARY KEY,
			hash       TEXT NOT NULL,
			user_groups TEXT NOT NULL DEFAULT '',
			disabled   INTEGER NOT NULL DEFAULT 0,
			rev        BIGINT NOT NULL,
			created_at BIGINT NOT NULL,
			updated_at BIGINT NOT NULL
		)`,
		`CREATE TABLE IF NOT EXISTS callout_users_rev (
			id  INTEGER PRIMARY KEY CHECK (id = 1),
			rev BIGINT NOT NULL
		)`,
		`INSERT INTO callout_users_rev (id, rev) VALUES (1, 0) ON CONFLICT DO NOTHING`,
	}
	for _, s := range stmts {
		if _, err := d.db.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("create user tables: %w", err)
		}
	}
	return nil
}

// q rewrites ? placeholders to PostgreSQL's $n.
func (d *DB) q(s string) string { return sidedb.Rebind(d.pg, s) }

// CheckName reports whether name may name a password user: 1 to 128
// printable characters without spaces.
func CheckName(name string) error {
	if name == "" || len(name) > 128 {
		return fmt.Errorf("user name must be 1 to 128 characters: %w", ErrInvalid)
	}
	for _, r := range name {
		if unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return fmt.Errorf("user name %q contains a space or control character: %w", name, ErrInvalid)
		}
	}
	return nil
}

// CheckPassword reports whether a password is acceptable: at least
// MinPasswordLen characters and at most 1024 bytes. The error never
// repeats the password.
func CheckPassword(pw string) error {
	if len([]rune(pw)) < MinPasswordLen {
		return fmt.Errorf("password must have at least %d characters: %w", MinPasswordLen, ErrInvalid)
	}
	if len(pw) > 1024 {
		return fmt.Errorf("password must have at most 1024 bytes: %w", ErrInvalid)
	}
	return nil
}

func checkGroups(groups []string) error {
	for _, g := range groups {
		if g == "" || strings.ContainsAny(g, ", \t\n") {
			return fmt.Errorf("group %q: groups are non-empty and have no comma or space: %w", g, ErrInvalid)
		}
	}
	return nil
}

// Add creates an enabled user.
func (d *DB) Add(ctx context.Context, name, password string, groups []string) error {
	errs := errors.Join(CheckName(name), CheckPassword(password), checkGroups(groups))
	if errs != nil {
		return fmt.Errorf("add user %.130q: %w", name, errs)
	}
	hash, err := hashPassword(password, d.opts.Params)
	if err != nil {
		return err
	}
	g := append([]string(nil), groups...)
	sort.Strings(g)
	err = d.change(ctx, func(tx *sql.Tx, rev, now int64) error {
		var n int
		if err := tx.QueryRowContext(ctx, d.q(`SELECT COUNT(*) FROM callout_users WHERE name = ?`), name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return ErrExists
		}
		_, err := tx.ExecContext(ctx, d.q(`INSERT INTO callout_users (name, hash, user_groups, disabled, rev, created_at, updated_at)
			VALUES (?, ?, ?, 0, ?, ?, ?)`), name, hash, strings.Join(g, ","), rev, now, now)
		return err
	})
	if err != nil {
		return fmt.Errorf("add user %s: %w", name, err)
	}
	d.record(ctx, audit.Entry{Action: ActionAdd, UserName: name, Detail: groupsDetail(g)})
	return nil
}

func groupsDetail(g []string) string {
	if len(g) == 0 {
		return ""
	}
	return "groups " + strings.Join(g, ",")
}

// SetPassword replaces a user's password.
func (d *DB) SetPassword(ctx context.Context, name, password string) error {
	if err := CheckPassword(password); err != nil {
		return fmt.Errorf("set password of %.130q: %w", name, err)
	}
	hash, err := hashPassword(password, d.opts.Params)
	if err != nil {
		return err
	}
	err = d.update(ctx, name, `UPDATE callout_users SET hash = ?, rev = ?, updated_at = ? WHERE name = ?`, hash)
	if err != nil {
		return fmt.Errorf("set password of %s: %w", name, err)
	}
	d.record(ctx, audit.Entry{Action: ActionPassword, UserName: name})
	return nil
}

// SetDisabled disables or re-enables a user. A disabled user is refused;
// a running gateway ends its live connections.
func (d *DB) SetDisabled(ctx context.Context, name string, disabled bool) error {
	v, action := 0, ActionEnable
	if disabled {
		v, action = 1, ActionDisable
	}
	if err := d.update(ctx, name, `UPDATE callout_users SET disabled = ?, rev = ?, updated_at = ? WHERE name = ?`, v); err != nil {
		return fmt.Errorf("%s %s: %w", strings.TrimSuffix(strings.TrimPrefix(action, "callout "), " user"), name, err)
	}
	d.record(ctx, audit.Entry{Action: action, UserName: name})
	return nil
}

// update runs one UPDATE (value, rev, now, name) as a change.
func (d *DB) update(ctx context.Context, name, stmt string, value any) error {
	return d.change(ctx, func(tx *sql.Tx, rev, now int64) error {
		res, err := tx.ExecContext(ctx, d.q(stmt), value, rev, now, name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return nil
	})
}

// change runs f in a transaction with the next revision number.
func (d *DB) change(ctx context.Context, f func(tx *sql.Tx, rev, now int64) error) error {
	select {
	case <-d.closed:
		return ErrClosed
	default:
	}
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	var rev int64
	if err := tx.QueryRowContext(ctx, `UPDATE callout_users_rev SET rev = rev + 1 WHERE id = 1 RETURNING rev`).Scan(&rev); err != nil {
		return err
	}
	if err := f(tx, rev, time.Now().UnixMilli()); err != nil {
		return err
	}
	return tx.Commit()
}

// record appends an audit entry; the change is done, so a failure to
// record it cannot undo it and is dropped (the caller's log shows it).
func (d *DB) record(ctx context.Context, e audit.Entry) {
	if d.opts.Audit == nil {
		return
	}
	_ = d.opts.Audit.Append(ctx, audit.Attribute(ctx, e))
}

const userCols = `name, user_groups, disabled, rev, created_at, updated_at`

func scanUser(sc interface{ Scan(...any) error }, extra ...any) (User, error) {
	var u User
	var groups string
	var disabled int
	var created, updated int64
	dst := append([]any{&u.Name, &groups, &disabled, &u.Rev, &created, &updated}, extra...)
	if err := sc.Scan(dst...); err != nil {
		return User{}, err
	}
	if groups != "" {
		u.Groups = strings.Split(groups, ",")
	}
	u.Disabled = disabled != 0
	u.CreatedAt, u.UpdatedAt = time.UnixMilli(created), time.UnixMilli(updated)
	return u, nil
}

// List returns every user, sorted by name.
func (d *DB) List(ctx context.Context) ([]User, error) {
	return d.query(ctx, `SELECT `+userCols+` FROM callout_users ORDER BY name`)
}

// ChangedSince returns the users changed after revision rev, and the
// current revision.
func (d *DB) ChangedSince(ctx context.Context, rev int64) ([]User, int64, error) {
	var cur int64
	if err := d.db.QueryRowContext(ctx, `SELECT rev FROM callout_users_rev WHERE id = 1`).Scan(&cur); err != nil {
		return nil, 0, fmt.Errorf("read user revision: %w", err)
	}
	if cur <= rev {
		return nil, cur, nil
	}
	users, err := d.query(ctx, `SELECT `+userCols+` FROM callout_users WHERE rev > ? ORDER BY rev`, rev)
	return users, cur, err
}

func (d *DB) query(ctx context.Context, stmt string, args ...any) ([]User, error) {
	rows, err := d.db.QueryContext(ctx, d.q(stmt), args...)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return out, nil
}

// Get returns one user.
func (d *DB) Get(ctx context.Context, name string) (User, error) {
	u, _, err := d.get(ctx, name)
	return u, err
}

func (d *DB) get(ctx context.Context, name string) (User, string, error) {
	var hash string
	u, err := scanUser(d.db.QueryRowContext(ctx, d.q(`SELECT `+userCols+`, hash FROM callout_users WHERE name = ?`), name), &hash)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return User{}, "", fmt.Errorf("user %.130q: %w", name, ErrNotFound)
	case err != nil:
		return User{}, "", fmt.Errorf("read user %.130q: %w", name, err)
	}
	return u, hash, nil
}

// Authenticate checks a user's password. It fails wrapping ErrNotFound,
// ErrDisabled or ErrBadPassword; an unknown user costs the same hashing
// time as a known one, so timing does not reveal which names exist.
func (d *DB) Authenticate(ctx context.Context, name, password string) (User, error) {
	u, hash, err := d.get(ctx, name)
	if errors.Is(err, ErrNotFound) {
		_, _ = checkPassword(d.dummy, password)
		return User{}, err
	}
	if err != nil {
		return User{}, err
	}
	ok, err := checkPassword(hash, password)
	if err != nil {
		return User{}, fmt.Errorf("user %s: stored hash: %w", name, err)
	}
	if !ok {
		return User{}, fmt.Errorf("user %s: %w", name, ErrBadPassword)
	}
	if u.Disabled {
		return User{}, fmt.Errorf("user %s: %w", name, ErrDisabled)
	}
	return u, nil
}

// WriteUsers writes password users for people — a table of name, state,
// groups and last change — or, with asJSON, as indented JSON.
func WriteUsers(w io.Writer, users []User, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(users)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "NAME\tSTATE\tGROUPS\tCHANGED\n")
	for _, u := range users {
		state := "enabled"
		if u.Disabled {
			state = "disabled"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.Name, state, strings.Join(u.Groups, ","), u.UpdatedAt.UTC().Format("2006-01-02 15:04:05"))
	}
	return tw.Flush()
}
