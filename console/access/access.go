// Package access keeps the console's users, their roles, API tokens and
// login sessions, with the home's store: a table in the SQLite or
// PostgreSQL database the store URL names, or a JSON file in the home for
// the other stores (a directory, memory, an account server over HTTP).
//
// Passwords are hashed with argon2id (internal/password); API tokens and
// session ids are random 256-bit secrets kept only as SHA-256 hashes, so a
// copy of the database yields no usable credential. Nothing here logs or
// returns a password, token or session id except the one-time return of a
// new token or session to its creator.
package access

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/natsauth/natsauth/internal/password"
)

// Role is what a console user may see and do.
type Role string

// The roles, like a control plane's.
const (
	// OperatorAdmin sees and changes everything, console users included.
	OperatorAdmin Role = "operator-admin"
	// OperatorObserver sees everything and changes nothing.
	OperatorObserver Role = "operator-observer"
	// AccountAdmin sees and changes one account: its limits, users,
	// revocations and connections.
	AccountAdmin Role = "account-admin"
	// AccountObserver sees one account and changes nothing.
	AccountObserver Role = "account-observer"
)

// Roles lists every role.
var Roles = []Role{OperatorAdmin, OperatorObserver, AccountAdmin, AccountObserver}

// Scoped reports whether the role is bound to one account.
func (r Role) Scoped() bool { return r == AccountAdmin || r == AccountObserver }

// Valid reports whether r is one of Roles.
func (r Role) Valid() bool {
	for _, x := range Roles {
		if r == x {
			return true
		}
	}
	return false
}

// Sentinel errors.
var (
	ErrNotFound     = errors.New("not found")
	ErrExists       = errors.New("already exists")
	ErrInvalid      = errors.New("invalid")
	ErrBadPassword  = errors.New("wrong user name or password")
	ErrUnauthorized = errors.New("not signed in or the session expired")
)

// User is a console user. PasswordHash is never serialized to clients
// (the API has its own view).
type User struct {
	Name         string    `json:"name"`
	Role         Role      `json:"role"`
	Account      string    `json:"account,omitempty"` // the account of a scoped role (name)
	PasswordHash string    `json:"password_hash,omitempty"`
	Created      time.Time `json:"created"`
	Updated      time.Time `json:"updated"`
}

// Label names the user and role for the audit log: "alice (operator-admin)".
func (u *User) Label() string {
	if u.Role.Scoped() {
		return fmt.Sprintf("%s (%s of %s)", u.Name, u.Role, u.Account)
	}
	return fmt.Sprintf("%s (%s)", u.Name, u.Role)
}

// CanRead reports whether the user may see the account (by name); ""
// means operator-wide data (the operator, every account, every failure).
func (u *User) CanRead(account string) bool {
	if !u.Role.Scoped() {
		return true
	}
	return account != "" && account == u.Account
}

// CanChange reports whether the user may change the account (by name);
// "" means operator-wide changes (new accounts, the operator, console
// users).
func (u *User) CanChange(account string) bool {
	switch u.Role {
	case OperatorAdmin:
		return true
	case AccountAdmin:
		return account != "" && account == u.Account
	}
	return false
}

// Token is an API token; its secret is shown once, when it is made.
type Token struct {
	ID       string    `json:"id"`
	User     string    `json:"user"`
	Name     string    `json:"name"`
	Hash     string    `json:"hash,omitempty"` // hex SHA-256 of the secret
	Created  time.Time `json:"created"`
	Expires  time.Time `json:"expires,omitzero"`
	LastUsed time.Time `json:"last_used,omitzero"`
}

// Session is a login session. Its id is kept hashed; CSRF is the token a
// browser must send with every change.
type Session struct {
	User    string    `json:"user"`
	CSRF    string    `json:"csrf"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
}

// Options tune an Access.
type Options struct {
	// Password are the argon2id parameters (default password.Default).
	Password password.Params
	// SessionTTL is how long a session lasts (default 12h).
	SessionTTL time.Duration
}

// Access is the console's users, tokens and sessions over one backend.
type Access struct {
	b     backend
	opts  Options
	dummy string // a hash to verify against for unknown users
	now   func() time.Time
	where string
}

const (
	kindUser    = "user"
	kindToken   = "token"
	kindSession = "session"
)

func newAccess(b backend, where string, opts Options) (*Access, error) {
	if opts.Password.Memory == 0 {
		opts.Password = password.Default
	}
	if opts.SessionTTL <= 0 {
		opts.SessionTTL = 12 * time.Hour
	}
	dummy, err := password.Hash("not a password", opts.Password)
	if err != nil {
		return nil, err
	}
	return &Access{b: b, opts: opts, dummy: dummy, now: time.Now, where: where}, nil
}

// Where says where users are kept (a table of a database, or a file),
// with no password.
func (a *Access) Where() string { return a.where }

// Close releases the backend.
func (a *Access) Close() error { return a.b.close() }

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

// CheckUser reports every problem with a new user's fields at once.
func CheckUser(name string, role Role, account, pw string) []FieldError {
	var errs []FieldError
	if !nameRE.MatchString(name) {
		errs = append(errs, FieldError{"name", "1 to 64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit"})
	}
	if !role.Valid() {
		errs = append(errs, FieldError{"role", "one of operator-admin, operator-observer, account-admin, account-observer"})
	}
	if role.Scoped() && account == "" {
		errs = append(errs, FieldError{"account", "an account role needs the account it is scoped to"})
	}
	if !role.Scoped() && account != "" {
		errs = append(errs, FieldError{"account", "only account roles are scoped to an account"})
	}
	if fe := CheckPassword(pw); fe != nil {
		errs = append(errs, *fe)
	}
	return errs
}

// CheckPassword says what is wrong with a new password, or nil.
func CheckPassword(pw string) *FieldError {
	if len(pw) < 10 || len(pw) > 1024 {
		return &FieldError{"password", "10 to 1024 characters"}
	}
	return nil
}

// FieldError is one problem with one input field.
type FieldError struct {
	Field  string `json:"field"`
	Detail string `json:"detail"`
}

// FieldErrors is a validation error over several fields.
type FieldErrors []FieldError

func (f FieldErrors) Error() string {
	parts := make([]string, len(f))
	for i, e := range f {
		parts[i] = e.Field + ": " + e.Detail
	}
	return strings.Join(parts, "; ")
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (f FieldErrors) Unwrap() error { return ErrInvalid }

// AddUser creates a console user.
func (a *Access) AddUser(ctx context.Context, name string, role Role, account, pw string) (*User, error) {
	if errs := CheckUser(name, role, account, pw); len(errs) > 0 {
		return nil, FieldErrors(errs)
	}
	h, err := password.Hash(pw, a.opts.Password)
	if err != nil {
		return nil, err
	}
	now := a.now().UTC()
	u := &User{Name: name, Role: role, Account: account, PasswordHash: h, Created: now, Updated: now}
	if err := a.put(ctx, kindUser, name, u, true); err != nil {
		return nil, fmt.Errorf("add console user %s: %w", name, err)
	}
	return u, nil
}

// SetPassword changes a user's password and ends its sessions.
func (a *Access) SetPassword(ctx context.Context, name, pw string) error {
	if fe := CheckPassword(pw); fe != nil {
		return FieldErrors{*fe}
	}
	u, err := a.User(ctx, name)
	if err != nil {
		return err
	}
	if u.PasswordHash, err = password.Hash(pw, a.opts.Password); err != nil {
		return err
	}
	u.Updated = a.now().UTC()
	if err := a.put(ctx, kindUser, name, u, false); err != nil {
		return fmt.Errorf("set password of %s: %w", name, err)
	}
	return a.endSessionsOf(ctx, name)
}

// SetRole changes a user's role (and account), ending its sessions.
func (a *Access) SetRole(ctx context.Context, name string, role Role, account string) error {
	if errs := CheckUser(name, role, account, "0123456789"); len(errs) > 0 {
		return FieldErrors(errs)
	}
	u, err := a.User(ctx, name)
	if err != nil {
		return err
	}
	u.Role, u.Account, u.Updated = role, account, a.now().UTC()
	if err := a.put(ctx, kindUser, name, u, false); err != nil {
		return fmt.Errorf("set role of %s: %w", name, err)
	}
	return a.endSessionsOf(ctx, name)
}

// DeleteUser deletes a user with its tokens and sessions.
func (a *Access) DeleteUser(ctx context.Context, name string) error {
	if _, err := a.User(ctx, name); err != nil {
		return err
	}
	toks, err := a.Tokens(ctx, name)
	if err != nil {
		return err
	}
	for _, t := range toks {
		if err := a.b.del(ctx, kindToken, t.ID); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	if err := a.endSessionsOf(ctx, name); err != nil {
		return err
	}
	return a.b.del(ctx, kindUser, name)
}

// User returns one user.
func (a *Access) User(ctx context.Context, name string) (*User, error) {
	var u User
	if err := a.get(ctx, kindUser, name, &u); err != nil {
		return nil, fmt.Errorf("console user %q: %w", name, err)
	}
	return &u, nil
}

// Users lists every user, sorted by name.
func (a *Access) Users(ctx context.Context) ([]User, error) {
	raw, err := a.b.list(ctx, kindUser)
	if err != nil {
		return nil, err
	}
	out := make([]User, 0, len(raw))
	for _, v := range raw {
		var u User
		if json.Unmarshal(v, &u) == nil {
			out = append(out, u)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Authenticate checks a user's password. An unknown user costs the same
// hashing as a known one and yields the same ErrBadPassword.
func (a *Access) Authenticate(ctx context.Context, name, pw string) (*User, error) {
	u, err := a.User(ctx, name)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			_ = password.Verify(pw, a.dummy)
			return nil, ErrBadPassword
		}
		return nil, err
	}
	if err := password.Verify(pw, u.PasswordHash); err != nil {
		if errors.Is(err, password.ErrMismatch) {
			return nil, ErrBadPassword
		}
		return nil, fmt.Errorf("console user %s: stored password: %w", name, err)
	}
	return u, nil
}

// NewSession starts a session for user and returns its id (for the
// cookie; kept only hashed) and the session with its CSRF token.
func (a *Access) NewSession(ctx context.Context, user string) (string, *Session, error) {
	id, err := randomString(32)
	if err != nil {
		return "", nil, err
	}
	csrf, err := randomString(24)
	if err != nil {
		return "", nil, err
	}
	now := a.now().UTC()
	s := &Session{User: user, CSRF: csrf, Created: now, Expires: now.Add(a.opts.SessionTTL)}
	if err := a.put(ctx, kindSession, hashSecret(id), s, true); err != nil {
		return "", nil, fmt.Errorf("start session: %w", err)
	}
	a.pruneSessions(ctx)
	return id, s, nil
}

// Session returns a live session and its user.
func (a *Access) Session(ctx context.Context, id string) (*Session, *User, error) {
	if id == "" || len(id) > 128 {
		return nil, nil, ErrUnauthorized
	}
	var s Session
	if err := a.get(ctx, kindSession, hashSecret(id), &s); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, nil, ErrUnauthorized
		}
		return nil, nil, err
	}
	if !a.now().Before(s.Expires) {
		_ = a.b.del(ctx, kindSession, hashSecret(id))
		return nil, nil, ErrUnauthorized
	}
	u, err := a.User(ctx, s.User)
	if errors.Is(err, ErrNotFound) {
		return nil, nil, ErrUnauthorized
	}
	return &s, u, err
}

// EndSession ends one session.
func (a *Access) EndSession(ctx context.Context, id string) error {
	err := a.b.del(ctx, kindSession, hashSecret(id))
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

func (a *Access) endSessionsOf(ctx context.Context, user string) error {
	raw, err := a.b.list(ctx, kindSession)
	if err != nil {
		return err
	}
	for k, v := range raw {
		var s Session
		if json.Unmarshal(v, &s) == nil && s.User == user {
			if err := a.b.del(ctx, kindSession, k); err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
		}
	}
	return nil
}

// pruneSessions deletes expired sessions (best effort).
func (a *Access) pruneSessions(ctx context.Context) {
	raw, err := a.b.list(ctx, kindSession)
	if err != nil {
		return
	}
	now := a.now()
	for k, v := range raw {
		var s Session
		if json.Unmarshal(v, &s) != nil || !now.Before(s.Expires) {
			_ = a.b.del(ctx, kindSession, k)
		}
	}
}

// tokenPrefix starts every API token, so a leaked one is easy to find.
const tokenPrefix = "natsauth_"

// NewToken makes an API token for user, valid for ttl (0: no expiry), and
// returns its secret — the only time it is shown.
func (a *Access) NewToken(ctx context.Context, user, name string, ttl time.Duration) (string, *Token, error) {
	if _, err := a.User(ctx, user); err != nil {
		return "", nil, err
	}
	if name == "" || len(name) > 100 {
		return "", nil, FieldErrors{{"name", "1 to 100 characters naming what the token is for"}}
	}
	if ttl < 0 {
		return "", nil, FieldErrors{{"ttl", "must not be negative"}}
	}
	idb := make([]byte, 8)
	if _, err := rand.Read(idb); err != nil {
		return "", nil, err
	}
	id := hex.EncodeToString(idb)
	sec, err := randomString(32)
	if err != nil {
		return "", nil, err
	}
	secret := tokenPrefix + id + "_" + sec
	now := a.now().UTC()
	t := &Token{ID: id, User: user, Name: name, Hash: hashSecret(secret), Created: now}
	if ttl > 0 {
		t.Expires = now.Add(ttl)
	}
	if err := a.put(ctx, kindToken, id, t, true); err != nil {
		return "", nil, fmt.Errorf("add token: %w", err)
	}
	return secret, t, nil
}

// TokenUser returns the user of a live API token.
func (a *Access) TokenUser(ctx context.Context, secret string) (*User, *Token, error) {
	rest, ok := strings.CutPrefix(secret, tokenPrefix)
	id, _, ok2 := strings.Cut(rest, "_")
	if !ok || !ok2 || len(secret) > 200 {
		return nil, nil, ErrUnauthorized
	}
	var t Token
	if err := a.get(ctx, kindToken, id, &t); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, nil, ErrUnauthorized
		}
		return nil, nil, err
	}
	if subtle.ConstantTimeCompare([]byte(t.Hash), []byte(hashSecret(secret))) != 1 {
		return nil, nil, ErrUnauthorized
	}
	if !t.Expires.IsZero() && !a.now().Before(t.Expires) {
		return nil, nil, ErrUnauthorized
	}
	u, err := a.User(ctx, t.User)
	if errors.Is(err, ErrNotFound) {
		return nil, nil, ErrUnauthorized
	}
	return u, &t, err
}

// Tokens lists a user's tokens (every user's when user is ""), without
// their hashes.
func (a *Access) Tokens(ctx context.Context, user string) ([]Token, error) {
	raw, err := a.b.list(ctx, kindToken)
	if err != nil {
		return nil, err
	}
	var out []Token
	for _, v := range raw {
		var t Token
		if json.Unmarshal(v, &t) == nil && (user == "" || t.User == user) {
			t.Hash = ""
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out, nil
}

// Token returns one token, without its hash.
func (a *Access) Token(ctx context.Context, id string) (*Token, error) {
	var t Token
	if err := a.get(ctx, kindToken, id, &t); err != nil {
		return nil, fmt.Errorf("token %q: %w", id, err)
	}
	t.Hash = ""
	return &t, nil
}

// DeleteToken deletes a token.
func (a *Access) DeleteToken(ctx context.Context, id string) error {
	if err := a.b.del(ctx, kindToken, id); err != nil {
		return fmt.Errorf("token %q: %w", id, err)
	}
	return nil
}

func (a *Access) get(ctx context.Context, kind, key string, v any) error {
	raw, err := a.b.get(ctx, kind, key)
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, v)
}

func (a *Access) put(ctx context.Context, kind, key string, v any, create bool) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return a.b.put(ctx, kind, key, raw, create)
}

func randomString(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func hashSecret(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
