package store

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/natsauth/natsauth/audit"
	"github.com/natsauth/natsauth/trust"
)

// Wrap returns the validated Store over a backend. Every key is checked
// before it reaches the backend and every JWT is validated before a write.
func Wrap(b Backend, opts Options) Store {
	return &validated{b: b, policy: opts.Policy, log: opts.Logger}
}

// Unwrap returns the backend under a Store made by Wrap or Open, or nil.
func Unwrap(s Store) Backend {
	if v, ok := s.(*validated); ok {
		return v.b
	}
	return nil
}

type validated struct {
	b      Backend
	policy *trust.Policy
	log    *slog.Logger // audit failures; may be nil
}

var (
	_ Store   = (*validated)(nil)
	_ Watcher = (*validated)(nil)
	_ Scanner = (*validated)(nil)
)

func (v *validated) Get(ctx context.Context, account string) (Record, error) {
	if err := trust.CheckAccountKey(account); err != nil {
		return Record{}, fmt.Errorf("get account: %w", err)
	}
	return v.b.Get(ctx, account)
}

func (v *validated) Put(ctx context.Context, account, token string) (Change, error) {
	if len(token) <= trust.MaxJWTSize {
		// Store the bare JWT, as CheckAccount validates it: a token read
		// from a file may end with a newline.
		token = strings.TrimSpace(token)
	}
	ac, err := v.policy.CheckAccount(account, token)
	if err != nil {
		return Unchanged, fmt.Errorf("put account: %w", err)
	}
	log := v.auditLog()
	if log == nil {
		return v.b.PutIfNewer(ctx, RecordFromClaims(token, ac))
	}
	if aw, ok := v.b.(AuditedWriter); ok {
		return putAudited(ctx, aw, RecordFromClaims(token, ac), Decide, func(old Record, hadOld bool, ch Change) audit.Entry {
			return putEntry(ac, old, hadOld, ch)
		})
	}
	old, hadOld := v.previous(ctx, account)
	ch, err := v.b.PutIfNewer(ctx, RecordFromClaims(token, ac))
	if err == nil && ch != Unchanged {
		v.recordPut(ctx, log, ac, old, hadOld, ch)
	}
	return ch, err
}

// Replace validates token as Put does (trusted issuer, subject, not from
// the future) and stores it even when the stored JWT is newer.
func (v *validated) Replace(ctx context.Context, account, token string) (Change, error) {
	r, ok := v.b.(Replacer)
	if !ok {
		return Unchanged, fmt.Errorf("replace account %s: %w", account, ErrReplaceUnsupported)
	}
	if len(token) <= trust.MaxJWTSize {
		token = strings.TrimSpace(token)
	}
	ac, err := v.policy.CheckAccount(account, token)
	if err != nil {
		return Unchanged, fmt.Errorf("replace account: %w", err)
	}
	if aw, ok := v.b.(AuditedWriter); ok && v.auditLog() != nil {
		ch, err := putAudited(ctx, aw, RecordFromClaims(token, ac), DecideReplace, func(old Record, hadOld bool, _ Change) audit.Entry {
			return replaceEntry(ac, old, hadOld)
		})
		if err != nil {
			return Unchanged, fmt.Errorf("replace account %s: %w", account, err)
		}
		return ch, nil
	}
	old, hadOld := v.previous(ctx, account)
	ch, err := r.Replace(ctx, RecordFromClaims(token, ac))
	if err != nil {
		return Unchanged, fmt.Errorf("replace account %s: %w", account, err)
	}
	if log := v.auditLog(); log != nil && ch != Unchanged {
		v.recordReplace(ctx, log, ac, old, hadOld)
	}
	return ch, nil
}

func (v *validated) Delete(ctx context.Context, account string) error {
	if err := trust.CheckAccountKey(account); err != nil {
		return fmt.Errorf("delete account: %w", err)
	}
	log := v.auditLog()
	if log == nil {
		return v.b.Delete(ctx, account)
	}
	old, hadOld := v.previous(ctx, account)
	if err := v.b.Delete(ctx, account); err != nil {
		return err
	}
	v.recordDelete(ctx, log, account, old, hadOld)
	return nil
}

func (v *validated) List(ctx context.Context) ([]string, error) { return v.b.List(ctx) }

func (v *validated) Close() error { return v.b.Close() }

// Watch reports changes if the backend can; otherwise it returns an error
// wrapping ErrWatchUnsupported.
func (v *validated) Watch(ctx context.Context) (<-chan Event, error) {
	w, ok := v.b.(Watcher)
	if !ok {
		return nil, fmt.Errorf("watch: %w", ErrWatchUnsupported)
	}
	return w.Watch(ctx)
}
