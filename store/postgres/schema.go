package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Advisory lock keys ("natsauth" in ASCII, and one more).
const (
	writeLockKey   int64 = 0x6e61747361757468 // serializes writes to account_jwts
	migrateLockKey int64 = writeLockKey + 1   // serializes schema migrations
)

// migration is one schema step, applied once in order.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations are never edited once released: add a new one instead.
var migrations = []migration{
	{1, "account_jwts, change log and change triggers", `
CREATE TABLE IF NOT EXISTS account_jwts (
    account_id text PRIMARY KEY,
    jwt        text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
-- Also extends a table of the familiar shape made by other tools.
ALTER TABLE account_jwts
    ADD COLUMN IF NOT EXISTS issued_at bigint,
    ADD COLUMN IF NOT EXISTS jti text,
    ADD COLUMN IF NOT EXISTS issuer text,
    ADD COLUMN IF NOT EXISTS expires bigint;

CREATE TABLE IF NOT EXISTS account_jwt_changes (
    seq        bigserial PRIMARY KEY,
    account_id text NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('put', 'delete', 'reset')),
    changed_at timestamptz NOT NULL DEFAULT now()
);

-- The highest seq removed from the change log: a watcher that saw less
-- than this may have missed changes.
CREATE TABLE IF NOT EXISTS account_jwt_changes_trimmed (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    through   bigint NOT NULL DEFAULT 0
);
INSERT INTO account_jwt_changes_trimmed (singleton, through) VALUES (true, 0)
    ON CONFLICT DO NOTHING;

-- Every statement writing account_jwts takes one lock first, so changes
-- commit in seq order and a watcher catching up by seq misses none.
CREATE OR REPLACE FUNCTION natsauth_account_jwts_lock() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    PERFORM pg_advisory_xact_lock(` + fmt.Sprint(writeLockKey) + `);
    RETURN NULL;
END
$fn$;

-- Record each change in the log and announce it. The payload is
-- "seq kind account [jwt]"; the JWT only when it fits NOTIFY's limit.
CREATE OR REPLACE FUNCTION natsauth_account_jwts_changed() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
    s bigint;
    payload text;
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        INSERT INTO account_jwt_changes (account_id, kind) VALUES ('', 'reset') RETURNING seq INTO s;
        PERFORM pg_notify('` + Channel + `', s || ' reset');
        RETURN NULL;
    END IF;
    IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND OLD.account_id <> NEW.account_id) THEN
        INSERT INTO account_jwt_changes (account_id, kind) VALUES (OLD.account_id, 'delete') RETURNING seq INTO s;
        PERFORM pg_notify('` + Channel + `', left(s || ' delete ' || OLD.account_id, 7900));
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO account_jwt_changes (account_id, kind) VALUES (NEW.account_id, 'put') RETURNING seq INTO s;
        payload := left(s || ' put ' || NEW.account_id, 7900);
        IF octet_length(payload) + octet_length(NEW.jwt) < 7900 THEN
            payload := payload || ' ' || NEW.jwt;
        END IF;
        PERFORM pg_notify('` + Channel + `', payload);
    END IF;
    RETURN NULL;
END
$fn$;

DROP TRIGGER IF EXISTS natsauth_lock ON account_jwts;
CREATE TRIGGER natsauth_lock BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON account_jwts
    FOR EACH STATEMENT EXECUTE FUNCTION natsauth_account_jwts_lock();
DROP TRIGGER IF EXISTS natsauth_changed ON account_jwts;
CREATE TRIGGER natsauth_changed AFTER INSERT OR UPDATE OR DELETE ON account_jwts
    FOR EACH ROW EXECUTE FUNCTION natsauth_account_jwts_changed();
DROP TRIGGER IF EXISTS natsauth_truncated ON account_jwts;
CREATE TRIGGER natsauth_truncated AFTER TRUNCATE ON account_jwts
    FOR EACH STATEMENT EXECUTE FUNCTION natsauth_account_jwts_changed();
`},
	{2, "audit log", `
CREATE TABLE IF NOT EXISTS natsauth_audit_log (
    seq          bigserial PRIMARY KEY,
    at           timestamptz NOT NULL,
    action       text NOT NULL,
    account      text NOT NULL DEFAULT '',
    account_name text NOT NULL DEFAULT '',
    entry        jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS natsauth_audit_log_at ON natsauth_audit_log (at);
`},
	{3, "JWTs too large for one notification are announced in parts", `
-- As in version 1, and a JWT too large for one notification (an account
-- with a few hundred revocations) is sent first in parts on its own
-- channel, "seq part parts text", so that watchers apply it without
-- reading it back; watchers of earlier versions do not listen there and
-- read it back as before.
CREATE OR REPLACE FUNCTION natsauth_account_jwts_changed() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
    s bigint;
    payload text;
    parts int;
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        INSERT INTO account_jwt_changes (account_id, kind) VALUES ('', 'reset') RETURNING seq INTO s;
        PERFORM pg_notify('` + Channel + `', s || ' reset');
        RETURN NULL;
    END IF;
    IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND OLD.account_id <> NEW.account_id) THEN
        INSERT INTO account_jwt_changes (account_id, kind) VALUES (OLD.account_id, 'delete') RETURNING seq INTO s;
        PERFORM pg_notify('` + Channel + `', left(s || ' delete ' || OLD.account_id, 7900));
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO account_jwt_changes (account_id, kind) VALUES (NEW.account_id, 'put') RETURNING seq INTO s;
        payload := left(s || ' put ' || NEW.account_id, 7900);
        IF octet_length(payload) + octet_length(NEW.jwt) < 7900 THEN
            payload := payload || ' ' || NEW.jwt;
        ELSIF octet_length(NEW.jwt) <= ` + fmt.Sprint(maxPartsJWT) + ` THEN
            parts := (octet_length(NEW.jwt) + ` + fmt.Sprint(partSize-1) + `) / ` + fmt.Sprint(partSize) + `;
            FOR i IN 1..parts LOOP
                PERFORM pg_notify('` + PartsChannel + `',
                    s || ' ' || i || ' ' || parts || ' ' || substr(NEW.jwt, (i - 1) * ` + fmt.Sprint(partSize) + ` + 1, ` + fmt.Sprint(partSize) + `));
            END LOOP;
        END IF;
        PERFORM pg_notify('` + Channel + `', payload);
    END IF;
    RETURN NULL;
END
$fn$;
`},
}

// A JWT that does not fit one notification is sent in parts of partSize
// bytes, up to maxPartsJWT bytes (larger ones are read back).
const (
	partSize    = 7800
	maxPartsJWT = 1 << 20
)

// SchemaVersion is the schema version this code migrates to.
var SchemaVersion = migrations[len(migrations)-1].version

// migrate brings the schema up to date in one transaction, holding an
// advisory lock so that processes opening the store at once do not race.
func (s *Store) migrate(ctx context.Context) error {
	err := s.migrateOnce(ctx)
	for i := 0; i < retries && retryable(ctx, err); i++ {
		err = s.migrateOnce(ctx)
	}
	return s.wrapErr("migrate schema", err)
}

func (s *Store) migrateOnce(ctx context.Context) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", migrateLockKey); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		_, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)`)
		if err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		applied := map[int]bool{}
		rows, err := tx.Query(ctx, "SELECT version FROM schema_migrations")
		if err != nil {
			return fmt.Errorf("read schema_migrations: %w", err)
		}
		versions, err := pgx.CollectRows(rows, pgx.RowTo[int32])
		if err != nil {
			return fmt.Errorf("read schema_migrations: %w", err)
		}
		latest := 0
		for _, v := range versions {
			applied[int(v)] = true
			latest = max(latest, int(v))
		}
		if known := migrations[len(migrations)-1].version; latest > known {
			return fmt.Errorf("database is at schema version %d, newer than this natsauth knows (%d): upgrade natsauth", latest, known)
		}
		for _, m := range migrations {
			if applied[m.version] {
				continue
			}
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return fmt.Errorf("to version %d (%s): %w", m.version, m.name, err)
			}
			if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.version, m.name); err != nil {
				return fmt.Errorf("record version: %w", err)
			}
			s.log.Info("schema migrated", "version", m.version, "migration", strings.TrimSpace(m.name))
		}
		return nil
	})
}
