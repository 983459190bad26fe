// Package audit records who changed what in a natsauth authority and in its
// account-JWT stores: every authority change (init, accounts, users,
// revocations, signing keys, rotations) and every store write (put or
// delete, by any path: the CLI, an HTTP POST to the account server, a push
// over NATS, a store copy). An Entry says who (OS user, the path the change
// came by, the key that signed it), what, when, which account or user, and
// the old and new JWT ids (jti).
//
// Entries are appended to a Log kept with the store: a table in SQLite and
// PostgreSQL, an append-only JSON-lines file beside a directory store
// (File), memory for the in-memory store (Memory). A Log never holds a seed
// or a JWT, only JWT ids.
//
// JWT ids are nats-io/jwt's: a hash of the standard claims (subject,
// issuer, name, iat, exp, ...), not of the whole JWT, so two JWTs of one
// account issued within the same second share a jti; such an entry shows
// the same old and new jti although the JWT changed.
//
// The actor of a change travels in the context: each write path sets it
// with WithActor (the CLI its command, the account server the remote
// address, the claims responder "nats"); without one, Local describes this
// process.
package audit

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/user"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/natsauth/natsauth/internal/jsondiff"
)

// Actions recorded by natsauth. Other actions may be recorded too: Action
// is free text, and these are the ones natsauth itself writes.
const (
	ActionInit             = "init"
	ActionEditOperator     = "edit operator"
	ActionAddAccount       = "add account"
	ActionEditAccount      = "edit account"
	ActionDeleteAccount    = "delete account"
	ActionAddUser          = "add user"
	ActionEditUser         = "edit user"
	ActionDeleteUser       = "delete user"
	ActionRevokeUser       = "revoke user"
	ActionUnrevokeUser     = "unrevoke user"
	ActionPullAccount      = "pull account" // a newer JWT fetched from servers into the home
	ActionAddSigningKey    = "add signing key"
	ActionRemoveSigningKey = "remove signing key"
	ActionEditSigningKey   = "edit signing key"
	ActionEditAuthCallout  = "edit authcallout"
	ActionRotate           = "rotate signing key"
	ActionAddExport        = "add export"
	ActionEditExport       = "edit export"
	ActionDeleteExport     = "delete export"
	ActionAddImport        = "add import"
	ActionDeleteImport     = "delete import"
	// ActionGenerateActivation records an activation token signed for
	// another account: it changes no JWT of the home, but grants access.
	ActionGenerateActivation = "generate activation"
	ActionRevokeActivation   = "revoke activation"
	ActionUnrevokeActivation = "unrevoke activation"
	ActionGrantConsumer      = "grant consumer"  // cross-account JetStream consumer access
	ActionRevokeConsumer     = "revoke consumer" // its removal
	ActionStorePut           = "store put"
	ActionStoreDelete        = "store delete"
	ActionStoreReplace       = "store replace"
	// ActionUnreadable marks a line of a log that could not be read back
	// (a torn write or tampering); Detail says where.
	ActionUnreadable = "unreadable"
)

// The paths a change comes by (Actor.Via).
const (
	ViaCLI   = "cli"   // a natsauth command
	ViaHTTP  = "http"  // POST to the account server
	ViaNATS  = "nats"  // $SYS claims request (nsc push, natsauth over NATS)
	ViaServe = "serve" // natsauth serve itself (publishing the home at start)
	ViaLocal = "local" // this process, no more specific path known
	// ViaConsole is the HTTP API and web console (natsauth console); the
	// entry's Principal names the console user.
	ViaConsole = "console"
)

// Entry is one audited change. Public keys identify accounts and users;
// names are given when known. Entries never carry a seed or a JWT.
type Entry struct {
	Time   time.Time `json:"time"`
	Action string    `json:"action"`

	// Who.
	OSUser  string `json:"os_user,omitempty"` // the OS user of the process that made the change
	Via     string `json:"via,omitempty"`     // cli, http, nats, serve, local
	Command string `json:"command,omitempty"` // the CLI command, e.g. "natsauth add account"
	Remote  string `json:"remote,omitempty"`  // the remote address of an HTTP or NATS client
	Signer  string `json:"signer,omitempty"`  // public key of the key that signed the new JWT
	// Principal is the user a front door authenticated (a console user
	// with its role, e.g. "alice (operator-admin)").
	Principal string `json:"principal,omitempty"`

	// What.
	Account     string `json:"account,omitempty"`      // account public key
	AccountName string `json:"account_name,omitempty"` // account name
	User        string `json:"user,omitempty"`         // user public key
	UserName    string `json:"user_name,omitempty"`    // user name
	OldJTI      string `json:"old_jti,omitempty"`      // id of the JWT replaced (empty when created)
	NewJTI      string `json:"new_jti,omitempty"`      // id of the JWT written (empty when deleted)
	Detail      string `json:"detail,omitempty"`       // free text: what changed
	// Changes are the claims that changed, field by field (iat, jti and
	// the like left out). Claims are public; no seed or JWT is here.
	Changes []jsondiff.Change `json:"changes,omitempty"`
}

// String renders an entry on one line for people.
func (e Entry) String() string {
	var b strings.Builder
	b.WriteString(e.Time.Local().Format("2006-01-02 15:04:05"))
	b.WriteString("  ")
	b.WriteString(e.Action)
	if obj := e.object(); obj != "" {
		b.WriteString(" ")
		b.WriteString(obj)
	}
	if e.Detail != "" {
		fmt.Fprintf(&b, " (%s)", e.Detail)
	}
	if len(e.Changes) > 0 {
		parts := make([]string, len(e.Changes))
		for i, c := range e.Changes {
			parts[i] = c.String()
		}
		fmt.Fprintf(&b, " [%s]", strings.Join(parts, "; "))
	}
	if e.OldJTI != "" || e.NewJTI != "" {
		fmt.Fprintf(&b, " jti %s→%s", dash(e.OldJTI), dash(e.NewJTI))
	}
	var who []string
	if e.Principal != "" {
		who = append(who, "as "+e.Principal)
	}
	if e.OSUser != "" {
		who = append(who, "by "+e.OSUser)
	}
	if e.Via != "" {
		via := "via " + e.Via
		if e.Command != "" {
			via += " (" + e.Command + ")"
		}
		who = append(who, via)
	}
	if e.Remote != "" {
		who = append(who, "from "+e.Remote)
	}
	if e.Signer != "" {
		who = append(who, "signed by "+e.Signer)
	}
	if len(who) > 0 {
		b.WriteString(" — ")
		b.WriteString(strings.Join(who, ", "))
	}
	return b.String()
}

// object names the account and user of an entry, without repeating the
// action's own noun: "add account A AKEY", "revoke user bob UKEY in
// account A AKEY".
func (e Entry) object() string {
	acc, usr := named(e.AccountName, e.Account), named(e.UserName, e.User)
	switch {
	case usr != "" && strings.HasSuffix(e.Action, " user"):
		if acc != "" {
			return usr + " in account " + acc
		}
		return usr
	case acc != "" && strings.HasSuffix(e.Action, " account"):
		if usr != "" {
			return acc + " user " + usr
		}
		return acc
	}
	var parts []string
	if acc != "" {
		parts = append(parts, "account "+acc)
	}
	if usr != "" {
		parts = append(parts, "user "+usr)
	}
	return strings.Join(parts, " ")
}

func named(name, key string) string {
	switch {
	case name == "":
		return key
	case key == "":
		return name
	}
	return name + " " + key
}

func dash(s string) string { return cmp.Or(s, "-") }

// Actor is who makes a change: it fills the "who" fields of an Entry.
type Actor struct {
	OSUser  string
	Via     string
	Command string
	Remote  string
	// Principal is the user a front door authenticated (Entry.Principal).
	Principal string
	// Signer, when set, is the key known to sign this change (a
	// self-signed delete request, say); an Entry's own Signer wins.
	Signer string
}

type actorKey struct{}

// WithActor returns a context whose writes are attributed to a. Fields of
// a left empty are taken from Local.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the actor set with WithActor, completed from Local.
func ActorFrom(ctx context.Context) Actor {
	a, _ := ctx.Value(actorKey{}).(Actor)
	l := Local()
	a.OSUser = cmp.Or(a.OSUser, l.OSUser)
	a.Via = cmp.Or(a.Via, l.Via)
	return a
}

// Local describes this process: its OS user, Via "local".
func Local() Actor { return Actor{OSUser: osUser(), Via: ViaLocal} }

var osUser = sync.OnceValue(func() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	if n := cmp.Or(os.Getenv("USER"), os.Getenv("LOGNAME")); n != "" {
		return n
	}
	return "uid " + strconv.Itoa(os.Getuid())
})

// Attribute fills e's who-fields from the actor of ctx (fields already set
// in e are kept) and its time, when zero, with now.
func Attribute(ctx context.Context, e Entry) Entry {
	a := ActorFrom(ctx)
	e.OSUser = cmp.Or(e.OSUser, a.OSUser)
	e.Via = cmp.Or(e.Via, a.Via)
	e.Command = cmp.Or(e.Command, a.Command)
	e.Remote = cmp.Or(e.Remote, a.Remote)
	e.Signer = cmp.Or(e.Signer, a.Signer)
	e.Principal = cmp.Or(e.Principal, a.Principal)
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	e.Time = e.Time.UTC()
	return e
}

// Query selects entries of a Log.
type Query struct {
	// Since keeps entries at or after this time (zero: all).
	Since time.Time
	// Account keeps entries of this account, by public key or name.
	Account string
}

// Match reports whether e is selected by q. Unreadable-line markers are
// always selected: they say the log itself has a problem.
func (q Query) Match(e Entry) bool {
	if e.Action == ActionUnreadable {
		return true
	}
	if !q.Since.IsZero() && e.Time.Before(q.Since) {
		return false
	}
	if q.Account != "" && e.Account != q.Account && e.AccountName != q.Account {
		return false
	}
	return true
}

// Log is an append-only audit log.
type Log interface {
	// Append records one entry.
	Append(ctx context.Context, e Entry) error
	// Read returns the entries q selects, oldest first.
	Read(ctx context.Context, q Query) ([]Entry, error)
}

// Batcher is a Log that records several entries at once, all or none (one
// transaction of a database, one write of a file).
type Batcher interface {
	AppendAll(ctx context.Context, entries []Entry) error
}

// AppendAll records entries in order: in one batch when l is a Batcher,
// else one by one, stopping at the first error.
func AppendAll(ctx context.Context, l Log, entries []Entry) error {
	if b, ok := l.(Batcher); ok && len(entries) > 1 {
		return b.AppendAll(ctx, entries)
	}
	for _, e := range entries {
		if err := l.Append(ctx, e); err != nil {
			return err
		}
	}
	return nil
}

// Write writes entries to w one a line: as JSON objects (asJSON), what
// scripts read, or as their String, for people.
func Write(w io.Writer, entries []Entry, asJSON bool) {
	for _, e := range entries {
		if asJSON {
			b, _ := json.Marshal(e)
			fmt.Fprintf(w, "%s\n", b)
			continue
		}
		fmt.Fprintln(w, e.String())
	}
}
