package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/jwt/v2"

	"github.com/natsauth/natsauth/audit"
)

// Auditor is implemented by backends that keep an audit log with the
// account JWTs: SQLite and PostgreSQL in a table, dir in an append-only
// file beside the JWT files, mem in memory. The validated Store records
// every write it makes to such a backend (put or delete, whatever path the
// write came by) in that log, and tools append authority changes to it.
type Auditor interface {
	AuditLog() audit.Log
}

// AuditLog returns the audit log kept with s, or nil when its backend keeps
// none (httpstore: the account server at the other end audits its writes).
func AuditLog(s Store) audit.Log {
	b := Unwrap(s)
	if b == nil {
		if a, ok := s.(Auditor); ok {
			return a.AuditLog()
		}
		return nil
	}
	if a, ok := b.(Auditor); ok {
		return a.AuditLog()
	}
	return nil
}

// DecideFunc is a newer-only rule: Decide, or DecideReplace for a forced
// replace.
type DecideFunc func(stored Record, exists bool, next Record) (Change, error)

// AuditedWriter is implemented by backends that write a change and its
// audit entry in one transaction: one commit instead of two on the write
// path, and the entry exists exactly when the change does. The validated
// Store uses it when the backend has it.
type AuditedWriter interface {
	// PutAudited stores rec as decide rules (Decide for PutIfNewer,
	// DecideReplace for Replacer.Replace) and, when that changes the store,
	// appends entry(what was stored before, whether anything was, the
	// change) to the audit log in the same transaction.
	PutAudited(ctx context.Context, rec Record, decide DecideFunc, entry func(old Record, hadOld bool, ch Change) audit.Entry) (Change, error)
}

// auditLog returns the backend's audit log, or nil.
func (v *validated) auditLog() audit.Log {
	if a, ok := v.b.(Auditor); ok {
		return a.AuditLog()
	}
	return nil
}

// previous reads what is stored for account before a write, for the old
// jti of the audit entry. A concurrent writer may slip in between this
// read and the write: the old jti is then the one before that writer's.
func (v *validated) previous(ctx context.Context, account string) (Record, bool) {
	rec, err := v.b.Get(ctx, account)
	return rec, err == nil
}

// auditTimeout bounds one audit append.
const auditTimeout = 10 * time.Second

// recordPut audits a put that changed the store.
func (v *validated) recordPut(ctx context.Context, log audit.Log, ac *jwt.AccountClaims, old Record, hadOld bool, ch Change) {
	v.record(ctx, log, putEntry(ac, old, hadOld, ch))
}

// putEntry is the audit entry of a put that changed the store.
func putEntry(ac *jwt.AccountClaims, old Record, hadOld bool, ch Change) audit.Entry {
	e := audit.Entry{
		Action:      audit.ActionStorePut,
		Account:     ac.Subject,
		AccountName: ac.Name,
		Signer:      ac.Issuer,
		NewJTI:      ac.ID,
		Detail:      ch.String(),
	}
	if hadOld {
		e.OldJTI = old.ID
	}
	return e
}

// recordReplace audits a forced replace.
func (v *validated) recordReplace(ctx context.Context, log audit.Log, ac *jwt.AccountClaims, old Record, hadOld bool) {
	v.record(ctx, log, replaceEntry(ac, old, hadOld))
}

// replaceEntry is the audit entry of a forced replace; the detail says it
// overrode the newer-only rule and which iat it replaced.
func replaceEntry(ac *jwt.AccountClaims, old Record, hadOld bool) audit.Entry {
	e := audit.Entry{
		Action:      audit.ActionStorePut,
		Account:     ac.Subject,
		AccountName: ac.Name,
		Signer:      ac.Issuer,
		NewJTI:      ac.ID,
		Detail:      "forced replace",
	}
	if hadOld {
		e.OldJTI = old.ID
		e.Detail = fmt.Sprintf("forced replace of the jwt issued at %d", old.IssuedAt)
	}
	return e
}

// putAudited writes rec through an AuditedWriter backend, the entry made
// by mk and attributed from ctx.
func putAudited(ctx context.Context, aw AuditedWriter, rec Record, decide DecideFunc,
	mk func(old Record, hadOld bool, ch Change) audit.Entry) (Change, error) {
	return aw.PutAudited(ctx, rec, decide, func(old Record, hadOld bool, ch Change) audit.Entry {
		return audit.Attribute(ctx, mk(old, hadOld, ch))
	})
}

// recordDelete audits a delete.
func (v *validated) recordDelete(ctx context.Context, log audit.Log, account string, old Record, hadOld bool) {
	e := audit.Entry{Action: audit.ActionStoreDelete, Account: account}
	if hadOld {
		e.OldJTI = old.ID
		if ac, err := jwt.DecodeAccountClaims(old.JWT); err == nil {
			e.AccountName = ac.Name
		}
	}
	v.record(ctx, log, e)
}

// record appends e. The write it describes has happened, so a failure to
// audit it is logged, not returned: the caller must not retry the write.
func (v *validated) record(ctx context.Context, log audit.Log, e audit.Entry) {
	e = audit.Attribute(ctx, e)
	// Audit even when the caller's context ended right after the write.
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), auditTimeout)
	defer cancel()
	if err := log.Append(actx, e); err != nil {
		lg := v.log
		if lg == nil {
			lg = slog.New(slog.DiscardHandler)
		}
		level := slog.LevelError
		if errors.Is(err, ErrClosed) {
			level = slog.LevelWarn
		}
		lg.Log(actx, level, "audit log: a store write was not recorded", "action", e.Action, "account", e.Account, "err", err)
	}
}
