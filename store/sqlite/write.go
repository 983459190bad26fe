package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/natsauth/natsauth/audit"
	"github.com/natsauth/natsauth/store"
	"github.com/natsauth/natsauth/trust"
)

// trimEvery is how many changes pass between trims of the change log.
const trimEvery = 256

// PutIfNewer stores rec unless the stored JWT is newer or the same; the
// read, the comparison and the write share one BEGIN IMMEDIATE transaction.
func (s *Store) PutIfNewer(ctx context.Context, rec store.Record) (store.Change, error) {
	return s.put(ctx, rec, store.Decide, nil)
}

// Replace stores rec even when the stored JWT is newer (store.Replacer).
func (s *Store) Replace(ctx context.Context, rec store.Record) (store.Change, error) {
	return s.put(ctx, rec, store.DecideReplace, nil)
}

// PutAudited stores rec as decide rules and appends the audit entry of the
// change in the same transaction (store.AuditedWriter): one commit.
func (s *Store) PutAudited(ctx context.Context, rec store.Record, decide store.DecideFunc,
	entry func(store.Record, bool, store.Change) audit.Entry) (store.Change, error) {
	return s.put(ctx, rec, decide, entry)
}

func (s *Store) put(ctx context.Context, rec store.Record, decide store.DecideFunc,
	entry func(store.Record, bool, store.Change) audit.Entry) (store.Change, error) {
	if err := trust.CheckAccountKey(rec.Account); err != nil {
		return store.Unchanged, fmt.Errorf("put account: %w", err)
	}
	var change store.Change
	err := s.write(ctx, func(tx *sql.Tx, now int64) (bool, error) {
		var stored store.Record
		err := tx.QueryRowContext(ctx, `SELECT jwt, issued_at, jti FROM account_jwts WHERE account_id = ?`,
			rec.Account).Scan(&stored.JWT, &stored.IssuedAt, &stored.ID)
		exists := err == nil
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return false, err
		}
		change, err = decide(stored, exists, rec)
		if err != nil || change == store.Unchanged {
			return false, err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO account_jwts
			(account_id, jwt, issued_at, jti, issuer, expires, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (account_id) DO UPDATE SET jwt = excluded.jwt, issued_at = excluded.issued_at,
				jti = excluded.jti, issuer = excluded.issuer, expires = excluded.expires,
				updated_at = excluded.updated_at`,
			rec.Account, rec.JWT, rec.IssuedAt, rec.ID, rec.Issuer, rec.Expires, now, now); err != nil {
			return false, err
		}
		if err := s.logChange(ctx, tx, rec.Account, "put", rec.JWT, now); err != nil {
			return false, err
		}
		if entry != nil {
			return true, insertAudit(ctx, tx, entry(stored, exists, change))
		}
		return true, nil
	})
	if err != nil {
		if errors.Is(err, store.ErrStale) {
			return store.Unchanged, err
		}
		return store.Unchanged, fmt.Errorf("put account %s: %w", rec.Account, err)
	}
	return change, nil
}

// Delete removes the account's JWT.
func (s *Store) Delete(ctx context.Context, account string) error {
	if err := trust.CheckAccountKey(account); err != nil {
		return fmt.Errorf("delete account: %w", err)
	}
	err := s.write(ctx, func(tx *sql.Tx, now int64) (bool, error) {
		res, err := tx.ExecContext(ctx, `DELETE FROM account_jwts WHERE account_id = ?`, account)
		if err != nil {
			return false, err
		}
		if n, err := res.RowsAffected(); err != nil {
			return false, err
		} else if n == 0 {
			return false, store.ErrNotFound
		}
		return true, s.logChange(ctx, tx, account, "delete", nil, now)
	})
	if err != nil {
		return fmt.Errorf("delete account %s: %w", account, err)
	}
	return nil
}

// logChange appends to the change log and, now and then, trims it to the
// latest Keep rows, recording how far it trimmed so that a watcher that
// fell further behind knows it missed changes.
func (s *Store) logChange(ctx context.Context, tx *sql.Tx, account, kind string, token any, now int64) error {
	res, err := tx.ExecContext(ctx,
		`INSERT INTO account_changes (account_id, kind, jwt, changed_at) VALUES (?, ?, ?, ?)`,
		account, kind, token, now)
	if err != nil {
		return err
	}
	seq, err := res.LastInsertId()
	if err != nil {
		return err
	}
	if seq%trimEvery != 0 || seq <= int64(s.cfg.Keep) {
		return nil
	}
	cut := seq - int64(s.cfg.Keep)
	if _, err := tx.ExecContext(ctx, `DELETE FROM account_changes WHERE seq <= ?`, cut); err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `UPDATE store_meta SET value = max(value, ?) WHERE name = 'trimmed_seq'`, cut)
	return err
}

// write runs f in a BEGIN IMMEDIATE transaction and commits if f reports a
// change; then it wakes this instance's watcher.
func (s *Store) write(ctx context.Context, f func(tx *sql.Tx, now int64) (bool, error)) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed.Load() {
		return store.ErrClosed
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return unavailable(err)
	}
	changed, err := f(tx, time.Now().UnixMilli())
	if err != nil || !changed {
		_ = tx.Rollback()
		if err != nil && !errors.Is(err, store.ErrStale) && !errors.Is(err, store.ErrNotFound) {
			return unavailable(err)
		}
		return err
	}
	if err := tx.Commit(); err != nil {
		return unavailable(err)
	}
	s.wake()
	return nil
}
