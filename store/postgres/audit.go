package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/natsauth/natsauth/audit"
	"github.com/natsauth/natsauth/store"
)

var (
	_ store.Auditor = (*Store)(nil)
	_ audit.Batcher = auditLog{}
)

// AuditLog returns the store's audit log: the table natsauth_audit_log(seq,
// at, action, account, account_name, entry jsonb) in the same database.
func (s *Store) AuditLog() audit.Log { return auditLog{s} }

type auditLog struct{ s *Store }

// Append inserts one entry.
func (l auditLog) Append(ctx context.Context, e audit.Entry) error {
	const op = "audit log: append"
	if l.s.isClosed() {
		return fmt.Errorf("%s: %w", op, store.ErrClosed)
	}
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("audit log: encode entry: %w", err)
	}
	insert := func() error {
		_, err := l.s.pool.Exec(ctx, insertAuditSQL, e.Time, e.Action, e.Account, e.AccountName, string(b))
		return err
	}
	err = insert()
	for i := 0; i < retries && retryable(ctx, err); i++ {
		err = insert()
	}
	if err != nil {
		return l.s.wrapErr(op, err)
	}
	return nil
}

// AppendAll inserts entries in one transaction, sent as one batch: all or
// none.
func (l auditLog) AppendAll(ctx context.Context, entries []audit.Entry) error {
	const op = "audit log: append"
	if l.s.isClosed() {
		return fmt.Errorf("%s: %w", op, store.ErrClosed)
	}
	raw := make([]string, len(entries))
	for i, e := range entries {
		b, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("audit log: encode entry: %w", err)
		}
		raw[i] = string(b)
	}
	insert := func() error {
		return pgx.BeginFunc(ctx, l.s.pool, func(tx pgx.Tx) error {
			batch := &pgx.Batch{}
			for i, e := range entries {
				batch.Queue(insertAuditSQL, e.Time, e.Action, e.Account, e.AccountName, raw[i])
			}
			return tx.SendBatch(ctx, batch).Close()
		})
	}
	err := insert()
	for i := 0; i < retries && retryable(ctx, err); i++ {
		err = insert()
	}
	if err != nil {
		return l.s.wrapErr(op, err)
	}
	return nil
}

const insertAuditSQL = `INSERT INTO natsauth_audit_log (at, action, account, account_name, entry)
			VALUES ($1, $2, $3, $4, $5)`

// Read returns the entries q selects, oldest first.
func (l auditLog) Read(ctx context.Context, q audit.Query) ([]audit.Entry, error) {
	const op = "audit log: read"
	if l.s.isClosed() {
		return nil, fmt.Errorf("%s: %w", op, store.ErrClosed)
	}
	since := q.Since
	if since.IsZero() {
		since = time.Unix(0, 0)
	}
	type row struct {
		seq int64
		raw []byte
	}
	read := func() ([]row, error) {
		rows, err := l.s.pool.Query(ctx, `SELECT seq, entry::text FROM natsauth_audit_log
			WHERE at >= $1 AND ($2 = '' OR account = $2 OR account_name = $2) ORDER BY at, seq`, since, q.Account)
		if err != nil {
			return nil, err
		}
		return pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
			var x row
			err := r.Scan(&x.seq, &x.raw)
			return x, err
		})
	}
	rows, err := read()
	for i := 0; i < retries && retryable(ctx, err); i++ {
		rows, err = read()
	}
	if err != nil {
		return nil, l.s.wrapErr(op, err)
	}
	var out []audit.Entry
	for _, r := range rows {
		var e audit.Entry
		if json.Unmarshal(r.raw, &e) != nil || e.Action == "" {
			e = audit.Entry{Action: audit.ActionUnreadable, Detail: fmt.Sprintf("natsauth_audit_log row %d: not an audit entry", r.seq)}
		}
		if q.Match(e) {
			out = append(out, e)
		}
	}
	return out, nil
}
