package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"

	"github.com/natsauth/natsauth/audit"
	"github.com/natsauth/natsauth/store"
)

var (
	_ store.Auditor       = (*Store)(nil)
	_ store.AuditedWriter = (*Store)(nil)
	_ audit.Batcher       = auditLog{}
)

// AuditLog returns the store's audit log: the table audit_log(seq, at (unix
// ms), action, account, account_name, entry (the JSON entry)) in the same
// database.
func (s *Store) AuditLog() audit.Log { return auditLog{s} }

type auditLog struct{ s *Store }

// Append inserts one entry.
func (l auditLog) Append(ctx context.Context, e audit.Entry) error {
	if l.s.closed.Load() {
		return fmt.Errorf("audit log: %w", store.ErrClosed)
	}
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("audit log: encode entry: %w", err)
	}
	_, err = l.s.db.ExecContext(ctx, insertAuditSQL, e.Time.UnixMilli(), e.Action, e.Account, e.AccountName, string(b))
	if err != nil {
		return fmt.Errorf("audit log: append: %w", unavailable(err))
	}
	return nil
}

// AppendAll inserts entries in one transaction (one commit, one sync,
// where Append commits each): all or none.
func (l auditLog) AppendAll(ctx context.Context, entries []audit.Entry) error {
	l.s.wmu.Lock()
	defer l.s.wmu.Unlock()
	if l.s.closed.Load() {
		return fmt.Errorf("audit log: %w", store.ErrClosed)
	}
	tx, err := l.s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("audit log: append: %w", unavailable(err))
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it does nothing
	stmt, err := tx.PrepareContext(ctx, insertAuditSQL)
	if err != nil {
		return fmt.Errorf("audit log: append: %w", unavailable(err))
	}
	defer stmt.Close()
	for _, e := range entries {
		b, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("audit log: encode entry: %w", err)
		}
		if _, err := stmt.ExecContext(ctx, e.Time.UnixMilli(), e.Action, e.Account, e.AccountName, string(b)); err != nil {
			return fmt.Errorf("audit log: append: %w", unavailable(err))
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("audit log: append: %w", unavailable(err))
	}
	return nil
}

const insertAuditSQL = `INSERT INTO audit_log (at, action, account, account_name, entry) VALUES (?, ?, ?, ?, ?)`

// insertAudit appends e within tx (the write it records).
func insertAudit(ctx context.Context, tx *sql.Tx, e audit.Entry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("audit log: encode entry: %w", err)
	}
	_, err = tx.ExecContext(ctx, insertAuditSQL, e.Time.UnixMilli(), e.Action, e.Account, e.AccountName, string(b))
	return err
}

// Read returns the entries q selects, oldest first.
func (l auditLog) Read(ctx context.Context, q audit.Query) ([]audit.Entry, error) {
	if l.s.closed.Load() {
		return nil, fmt.Errorf("audit log: %w", store.ErrClosed)
	}
	since := int64(math.MinInt64)
	if !q.Since.IsZero() {
		since = q.Since.UnixMilli()
	}
	rows, err := l.s.db.QueryContext(ctx, `SELECT seq, entry FROM audit_log
		WHERE at >= ? AND (? = '' OR account = ? OR account_name = ?) ORDER BY at, seq`,
		since, q.Account, q.Account, q.Account)
	if err != nil {
		return nil, fmt.Errorf("audit log: read: %w", unavailable(err))
	}
	defer rows.Close()
	var out []audit.Entry
	for rows.Next() {
		var seq int64
		var raw string
		if err := rows.Scan(&seq, &raw); err != nil {
			return nil, fmt.Errorf("audit log: read: %w", unavailable(err))
		}
		var e audit.Entry
		if json.Unmarshal([]byte(raw), &e) != nil || e.Action == "" {
			e = audit.Entry{Action: audit.ActionUnreadable, Detail: fmt.Sprintf("audit_log row %d: not an audit entry", seq)}
		}
		if q.Match(e) {
			out = append(out, e)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit log: read: %w", unavailable(err))
	}
	return out, nil
}
