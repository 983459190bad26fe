package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/natsauth/natsauth/audit"
	"github.com/natsauth/natsauth/internal/jwtpeek"
	"github.com/natsauth/natsauth/store"
	"github.com/natsauth/natsauth/trust"
)

// Get returns the stored record for account.
func (s *Store) Get(ctx context.Context, account string) (store.Record, error) {
	op := "get account " + account
	if s.isClosed() {
		return store.Record{}, fmt.Errorf("%s: %w", op, store.ErrClosed)
	}
	rec, err := s.get(ctx, s.pool, account, false)
	for i := 0; i < retries && retryable(ctx, err); i++ {
		rec, err = s.get(ctx, s.pool, account, false)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Record{}, fmt.Errorf("%s: %w", op, store.ErrNotFound)
	}
	if err != nil {
		return store.Record{}, s.wrapErr(op, err)
	}
	return rec, nil
}

// querier is a pool or a transaction.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// get reads one row; forUpdate locks it for the enclosing transaction.
func (s *Store) get(ctx context.Context, q querier, account string, forUpdate bool) (store.Record, error) {
	sql := selectRecordSQL
	if forUpdate {
		sql += " FOR UPDATE"
	}
	return scanRecord(q.QueryRow(ctx, sql, account), account)
}

const selectRecordSQL = `SELECT jwt, issued_at, jti, issuer, expires, updated_at FROM account_jwts WHERE account_id = $1`

// scanRecord reads one row of selectRecordSQL.
func scanRecord(row pgx.Row, account string) (store.Record, error) {
	var (
		rec      = store.Record{Account: account}
		iat, exp *int64
		jti, iss *string
		updated  *time.Time
	)
	if err := row.Scan(&rec.JWT, &iat, &jti, &iss, &exp, &updated); err != nil {
		return store.Record{}, err
	}
	// Rows written by other tools may lack the claim columns, or carry
	// stale ones: the JWT itself is the truth when it can be read.
	if c, ok := peekClaims(rec.JWT); ok {
		rec.IssuedAt, rec.ID, rec.Issuer, rec.Expires = c.IssuedAt, c.ID, c.Issuer, c.Expires
	} else {
		rec.IssuedAt, rec.ID, rec.Issuer, rec.Expires = deref(iat), deref(jti), deref(iss), deref(exp)
	}
	if updated != nil {
		rec.UpdatedAt = *updated
	}
	return rec, nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// PutIfNewer stores rec unless the stored JWT is newer (store.ErrStale) or
// the same (store.Unchanged). Writers serialize on one advisory lock, so
// two writers never lose an update.
func (s *Store) PutIfNewer(ctx context.Context, rec store.Record) (store.Change, error) {
	return s.put(ctx, "put account ", rec, store.Decide, nil)
}

// Replace stores rec even when the stored JWT is newer (store.Replacer),
// under the same advisory lock as PutIfNewer.
func (s *Store) Replace(ctx context.Context, rec store.Record) (store.Change, error) {
	return s.put(ctx, "replace account ", rec, store.DecideReplace, nil)
}

// PutAudited stores rec as decide rules and inserts the audit entry of the
// change in the same transaction (store.AuditedWriter): one commit.
func (s *Store) PutAudited(ctx context.Context, rec store.Record, decide store.DecideFunc,
	entry func(store.Record, bool, store.Change) audit.Entry) (store.Change, error) {
	return s.put(ctx, "put account ", rec, decide, entry)
}

type decideFunc = store.DecideFunc

// auditEntry makes the audit entry of a change; nil for none.
type auditEntry = func(store.Record, bool, store.Change) audit.Entry

func (s *Store) put(ctx context.Context, verb string, rec store.Record, decide decideFunc, entry auditEntry) (store.Change, error) {
	op := verb + rec.Account
	if s.isClosed() {
		return store.Unchanged, fmt.Errorf("%s: %w", op, store.ErrClosed)
	}
	change, err := s.putTx(ctx, rec, decide, entry)
	for i := 0; i < retries && retryable(ctx, err); i++ {
		// The connection broke. If the first attempt committed after all,
		// this one finds the same JWT and reports Unchanged.
		change, err = s.putTx(ctx, rec, decide, entry)
	}
	if errors.Is(err, store.ErrStale) {
		return store.Unchanged, err
	}
	if err != nil {
		return store.Unchanged, s.wrapErr(op, err)
	}
	if change != store.Unchanged {
		s.wrote(ctx)
	}
	return change, nil
}

// putTx runs one write in two round trips and one commit: BEGIN, the
// write lock and the row read go in one batch; the decision is made here;
// the write, its audit entry and COMMIT go in a second batch. Writers
// serialize on one advisory lock, so none loses an update.
func (s *Store) putTx(ctx context.Context, rec store.Record, decide decideFunc, entry auditEntry) (change store.Change, err error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return store.Unchanged, err
	}
	defer conn.Release()
	open := false // a transaction is open on conn
	defer func() {
		if err != nil && open {
			// Roll back even when ctx ended; a broken connection is
			// dropped by the pool on release.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), DefaultConnectTimeout)
			_, _ = conn.Exec(rctx, "ROLLBACK")
			cancel()
		}
	}()
	first := &pgx.Batch{}
	first.Queue("BEGIN")
	first.Queue("SELECT pg_advisory_xact_lock($1)", writeLockKey)
	first.Queue(selectRecordSQL+" FOR UPDATE", rec.Account)
	br := conn.SendBatch(ctx, first)
	_, err = br.Exec()
	open = err == nil
	if err == nil {
		_, err = br.Exec()
	}
	var (
		old    store.Record
		exists bool
	)
	if err == nil {
		old, err = scanRecord(br.QueryRow(), rec.Account)
		exists = err == nil
		if errors.Is(err, pgx.ErrNoRows) {
			err = nil
		}
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return store.Unchanged, err
	}
	change, err = decide(old, exists, rec)
	if err != nil || change == store.Unchanged {
		if err == nil {
			_, err = conn.Exec(ctx, "ROLLBACK")
			open = err != nil
		}
		return change, err
	}
	second := &pgx.Batch{}
	if exists {
		second.Queue(`UPDATE account_jwts
SET jwt = $2, issued_at = $3, jti = $4, issuer = $5, expires = $6, updated_at = now()
WHERE account_id = $1`, rec.Account, rec.JWT, rec.IssuedAt, rec.ID, rec.Issuer, rec.Expires)
	} else {
		second.Queue(`INSERT INTO account_jwts
(account_id, jwt, issued_at, jti, issuer, expires, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, now(), now())`, rec.Account, rec.JWT, rec.IssuedAt, rec.ID, rec.Issuer, rec.Expires)
	}
	if entry != nil {
		e := entry(old, exists, change)
		b, err := json.Marshal(e)
		if err != nil {
			return store.Unchanged, fmt.Errorf("audit log: encode entry: %w", err)
		}
		second.Queue(insertAuditSQL, e.Time, e.Action, e.Account, e.AccountName, string(b))
	}
	second.Queue("COMMIT")
	if err := conn.SendBatch(ctx, second).Close(); err != nil {
		return store.Unchanged, err
	}
	open = false
	return change, nil
}

// Delete removes account's JWT.
func (s *Store) Delete(ctx context.Context, account string) error {
	op := "delete account " + account
	if s.isClosed() {
		return fmt.Errorf("%s: %w", op, store.ErrClosed)
	}
	tag, err := s.pool.Exec(ctx, "DELETE FROM account_jwts WHERE account_id = $1", account)
	for i := 0; i < retries && retryable(ctx, err); i++ {
		// Not sent or rolled back with the broken connection; if it did
		// commit, the retry reports not found.
		tag, err = s.pool.Exec(ctx, "DELETE FROM account_jwts WHERE account_id = $1", account)
	}
	if err != nil {
		return s.wrapErr(op, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%s: %w", op, store.ErrNotFound)
	}
	s.wrote(ctx)
	return nil
}

// List returns every stored account key, sorted.
func (s *Store) List(ctx context.Context) ([]string, error) {
	if s.isClosed() {
		return nil, fmt.Errorf("list accounts: %w", store.ErrClosed)
	}
	keys, err := s.list(ctx)
	for i := 0; i < retries && retryable(ctx, err); i++ {
		keys, err = s.list(ctx)
	}
	if err != nil {
		return nil, s.wrapErr("list accounts", err)
	}
	return keys, nil
}

func (s *Store) list(ctx context.Context) ([]string, error) {
	rows, err := s.pool.Query(ctx, "SELECT account_id FROM account_jwts ORDER BY account_id COLLATE \"C\"")
	if err != nil {
		return nil, err
	}
	keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if keys == nil && err == nil {
		keys = []string{}
	}
	return keys, err
}

// wrote counts a write and now and then trims the change log.
func (s *Store) wrote(ctx context.Context) {
	every := min(256, max(1, s.keep/4))
	if s.writes.Add(1)%every != 0 {
		return
	}
	// Not bound to the caller's context: the write is done, the trim is ours.
	tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := s.trim(tctx); err != nil {
		s.log.Warn("trim change log", "err", err)
	}
}

// trim removes all but the newest keep entries of the change log and
// records how far it removed, so that watchers behind it reset.
func (s *Store) trim(ctx context.Context) error {
	_, err := s.pool.Exec(ctx, `WITH gone AS (
    DELETE FROM account_jwt_changes
    WHERE seq <= (SELECT max(seq) FROM account_jwt_changes) - $1
    RETURNING seq
)
UPDATE account_jwt_changes_trimmed
SET through = GREATEST(through, (SELECT max(seq) FROM gone))
WHERE EXISTS (SELECT 1 FROM gone)`, s.keep)
	return s.wrapErr("trim change log", err)
}

// claims are the fields of a JWT payload that the store indexes.
type claims struct {
	IssuedAt int64  `json:"iat"`
	ID       string `json:"jti"`
	Issuer   string `json:"iss"`
	Expires  int64  `json:"exp"`
}

// peekClaims reads a JWT's payload without checking its signature: only
// for indexing what is already stored.
func peekClaims(token string) (claims, bool) {
	h, ok := jwtpeek.Claims(token)
	return claims{IssuedAt: h.IssuedAt, ID: h.ID, Issuer: h.Issuer, Expires: h.Expires}, ok
}

// Scan calls fn for every stored record in one query (store.Scanner). A
// row whose key is not an account public key (written by another tool) is
// skipped.
func (s *Store) Scan(ctx context.Context, fn func(store.Record) error) error {
	if s.isClosed() {
		return fmt.Errorf("scan accounts: %w", store.ErrClosed)
	}
	rows, err := s.pool.Query(ctx, `SELECT account_id, jwt, issued_at, jti, issuer, expires, updated_at FROM account_jwts`)
	if err != nil {
		return s.wrapErr("scan accounts", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			rec      store.Record
			iat, exp *int64
			jti, iss *string
			updated  *time.Time
		)
		if err := rows.Scan(&rec.Account, &rec.JWT, &iat, &jti, &iss, &exp, &updated); err != nil {
			return s.wrapErr("scan accounts", err)
		}
		if trust.CheckAccountKey(rec.Account) != nil {
			continue
		}
		if c, ok := peekClaims(rec.JWT); ok {
			rec.IssuedAt, rec.ID, rec.Issuer, rec.Expires = c.IssuedAt, c.ID, c.Issuer, c.Expires
		} else {
			rec.IssuedAt, rec.ID, rec.Issuer, rec.Expires = deref(iat), deref(jti), deref(iss), deref(exp)
		}
		if updated != nil {
			rec.UpdatedAt = *updated
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return s.wrapErr("scan accounts", err)
	}
	return nil
}
