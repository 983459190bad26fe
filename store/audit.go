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
	v.record(ctx, log, e)
}

// recordReplace audits a forced replace; the detail says it overrode the
// newer-only rule and which iat it replaced.
func (v *validated) recordReplace(ctx context.Context, log audit.Log, ac *jwt.AccountClaims, old Record, hadOld bool) {
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
	v.record(ctx, log, e)
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
