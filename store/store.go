// Package store defines where account JWTs live: the Store contract that
// every backend (mem, dir, sqlite, postgres, http) meets, its sentinel errors,
// and the URL-scheme registry through which one string picks a backend.
//
// Backends implement the small Backend interface (raw records, atomic
// newer-only writes); Open wraps a Backend so that every write goes through
// trust.Policy validation first. Nothing that fails validation is stored.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/jwt/v2"

	"github.com/natsauth/natsauth/trust"
)

// Sentinel errors. Backends wrap them with the operation and account.
var (
	// ErrNotFound means no JWT is stored for the account.
	ErrNotFound = errors.New("store: account not found")
	// ErrStale means the JWT offered is older (by iat) than the stored one.
	ErrStale = errors.New("store: jwt is older than the stored one")
	// ErrInvalid means the JWT or key failed validation; see trust.ValidationError.
	ErrInvalid = trust.ErrInvalid
	// ErrReadOnly means the store does not accept writes.
	ErrReadOnly = errors.New("store: read-only")
	// ErrClosed means the store was closed.
	ErrClosed = errors.New("store: closed")
	// ErrUnavailable means the backend could not be reached.
	ErrUnavailable = errors.New("store: backend unavailable")
)

// Change says what a Put did.
type Change int

// Outcomes of a Put.
const (
	Unchanged Change = iota // the same JWT was already stored
	Created                 // no JWT was stored for the account before
	Updated                 // an older JWT was replaced
)

func (c Change) String() string {
	switch c {
	case Created:
		return "created"
	case Updated:
		return "updated"
	default:
		return "unchanged"
	}
}

// Record is one stored account JWT with the claims a backend indexes.
type Record struct {
	Account   string    // account public key (the JWT subject)
	JWT       string    // the encoded JWT
	IssuedAt  int64     // iat, unix seconds
	ID        string    // jti
	Issuer    string    // the key that signed the JWT
	Expires   int64     // exp, unix seconds, 0 for never
	UpdatedAt time.Time // when the backend stored it (zero if unknown)
}

// RecordFromClaims builds the record to store for a validated JWT.
func RecordFromClaims(token string, ac *jwt.AccountClaims) Record {
	return Record{
		Account:  ac.Subject,
		JWT:      token,
		IssuedAt: ac.IssuedAt,
		ID:       ac.ID,
		Issuer:   ac.Issuer,
		Expires:  ac.Expires,
	}
}

// Store is the validated account-JWT store that callers use.
type Store interface {
	// Get returns the stored record for account, or ErrNotFound.
	Get(ctx context.Context, account string) (Record, error)
	// Put validates token and stores it under account if it is not older
	// than the stored JWT. The same JWT again is a no-op (Unchanged).
	Put(ctx context.Context, account, token string) (Change, error)
	// Delete removes the account's JWT, or returns ErrNotFound.
	Delete(ctx context.Context, account string) error
	// List returns the public keys of every stored account.
	List(ctx context.Context) ([]string, error)
	// Close releases the store.
	Close() error
}

// Watcher is implemented by stores that report changes. The channel carries
// every change from any writer of the same backend (this process or
// another) and is closed when ctx ends or the store closes. A Reset event
// means changes may have been missed: consumers must drop what they cached.
type Watcher interface {
	Watch(ctx context.Context) (<-chan Event, error)
}

// EventKind says what happened to an account.
type EventKind int

// Kinds of change.
const (
	EventPut    EventKind = iota + 1 // a JWT was created or updated
	EventDelete                      // a JWT was deleted
	EventReset                       // changes may have been missed
)

func (k EventKind) String() string {
	switch k {
	case EventPut:
		return "put"
	case EventDelete:
		return "delete"
	case EventReset:
		return "reset"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is one change reported by a Watcher. JWT is set for EventPut when
// the backend has it at hand; consumers may Get it otherwise.
type Event struct {
	Kind    EventKind
	Account string
	JWT     string
}

// Backend is what a storage backend implements; Open wraps it with
// validation. Keys reaching a Backend are valid account public keys.
type Backend interface {
	Get(ctx context.Context, account string) (Record, error)
	// PutIfNewer atomically stores rec unless the stored JWT for
	// rec.Account has a greater IssuedAt (ErrStale) or is identical
	// (Unchanged).
	PutIfNewer(ctx context.Context, rec Record) (Change, error)
	Delete(ctx context.Context, account string) error
	List(ctx context.Context) ([]string, error)
	Close() error
}

// Decide applies the newer-only rule: what storing next over stored (if
// exists) would do. Backends call it inside their atomic section.
func Decide(stored Record, exists bool, next Record) (Change, error) {
	if !exists {
		return Created, nil
	}
	if stored.JWT == next.JWT {
		return Unchanged, nil
	}
	if stored.IssuedAt > next.IssuedAt {
		return Unchanged, fmt.Errorf("account %s: %w (stored iat %d, offered iat %d)",
			next.Account, ErrStale, stored.IssuedAt, next.IssuedAt)
	}
	return Updated, nil
}

// DecideReplace is Decide for a deliberate, forced replace (Replacer): any
// other JWT replaces the stored one, whatever their iat. It is how an
// operator recovers an account whose stored JWT blocks every later write
// (say one issued in the year 3000 before such JWTs were refused).
func DecideReplace(stored Record, exists bool, next Record) (Change, error) {
	switch {
	case !exists:
		return Created, nil
	case stored.JWT == next.JWT:
		return Unchanged, nil
	}
	return Updated, nil
}

// Replacer is implemented by backends that can overwrite an account's JWT
// regardless of the newer-only rule. Only Replace calls it, and only a
// deliberate operator action (`natsauth store replace`) calls Replace.
type Replacer interface {
	// Replace stores rec even when the stored JWT is newer; the same JWT
	// again is Unchanged. It is atomic as PutIfNewer is.
	Replace(ctx context.Context, rec Record) (Change, error)
}

// ErrReplaceUnsupported means the backend cannot force a replace (a
// read-only store, or one that is not natsauth's).
var ErrReplaceUnsupported = errors.New("store: backend cannot force a replace")

// ErrWatchUnsupported means the backend cannot report changes.
var ErrWatchUnsupported = errors.New("store: backend does not support watch")
