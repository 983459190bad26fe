package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// migrations are applied in order; migrations[i] brings the schema from
// version i to i+1. Never edit one that has shipped: append.
var migrations = []string{
	// 1: account JWTs, the change log watchers poll, and store metadata.
	`CREATE TABLE account_jwts (
		account_id TEXT PRIMARY KEY NOT NULL,
		jwt        TEXT NOT NULL,
		issued_at  INTEGER NOT NULL,
		jti        TEXT NOT NULL DEFAULT '',
		issuer     TEXT NOT NULL DEFAULT '',
		expires    INTEGER NOT NULL DEFAULT 0,
		created_at INTEGER NOT NULL,
		updated_at INTEGER NOT NULL
	);
	CREATE TABLE account_changes (
		seq        INTEGER PRIMARY KEY AUTOINCREMENT,
		account_id TEXT NOT NULL,
		kind       TEXT NOT NULL CHECK (kind IN ('put', 'delete')),
		jwt        TEXT,
		changed_at INTEGER NOT NULL
	);
	CREATE TABLE store_meta (
		name  TEXT PRIMARY KEY NOT NULL,
		value INTEGER NOT NULL
	);
	INSERT INTO store_meta (name, value) VALUES ('trimmed_seq', 0);`,
	// 2: the audit log (package audit): one JSON entry per row.
	`CREATE TABLE audit_log (
		seq          INTEGER PRIMARY KEY AUTOINCREMENT,
		at           INTEGER NOT NULL,
		action       TEXT NOT NULL,
		account      TEXT NOT NULL DEFAULT '',
		account_name TEXT NOT NULL DEFAULT '',
		entry        TEXT NOT NULL
	);
	CREATE INDEX audit_log_at ON audit_log (at);`,
}

// SchemaVersion is the schema version this code writes.
var SchemaVersion = len(migrations)

// migrate brings the schema up to date inside one BEGIN IMMEDIATE
// transaction, so processes opening the same new file at once agree.
func (s *Store) migrate(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var version int
	err = tx.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&version)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (0)`); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
	case err != nil:
		return fmt.Errorf("migrate: read schema version: %w", err)
	}
	if version > len(migrations) {
		return fmt.Errorf("database schema version %d is newer than this natsauth knows (%d): upgrade natsauth",
			version, len(migrations))
	}
	if version == len(migrations) {
		return nil // nothing to write: keep the transaction empty
	}
	for v := version; v < len(migrations); v++ {
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			return fmt.Errorf("migrate to schema version %d: %w", v+1, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE schema_version SET version = ?`, len(migrations)); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate: commit: %w", err)
	}
	if version > 0 {
		s.log.Info("migrated database schema", "from", version, "to", len(migrations))
	}
	return nil
}
