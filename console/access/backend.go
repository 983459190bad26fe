package access

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sync"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx" for a PostgreSQL store
	"github.com/natsauth/natsauth/internal/sidedb"
	_ "modernc.org/sqlite" // database/sql driver "sqlite" (the store's own)
)

// backend keeps JSON values by kind and key.
type backend interface {
	get(ctx context.Context, kind, key string) ([]byte, error)
	// put writes a value; with create it fails with ErrExists when the
	// key is taken, without it with ErrNotFound when it is not.
	put(ctx context.Context, kind, key string, val []byte, create bool) error
	del(ctx context.Context, kind, key string) error
	list(ctx context.Context, kind string) (map[string][]byte, error)
	close() error
}

// FileName is the file in the home that keeps console users when the
// store is neither SQLite nor PostgreSQL.
const FileName = "console-users.json"

// Open opens the console users kept with the store storeURL of the home
// in homeDir: the table console_access in the same SQLite file or
// PostgreSQL database, else HOME/console-users.json (0600).
func Open(ctx context.Context, homeDir, storeURL string, opts Options) (*Access, error) {
	sdb, err := sidedb.Open(storeURL, 4)
	switch {
	case errors.Is(err, sidedb.ErrUnsupported):
		p := filepath.Join(homeDir, FileName)
		return newAccess(&fileBackend{path: p}, p, opts)
	case err != nil:
		return nil, fmt.Errorf("console users: %w", err)
	}
	if _, err := sdb.ExecContext(ctx, schema); err != nil {
		sdb.Close()
		return nil, fmt.Errorf("console users: create table console_access: %w", scrub(err))
	}
	return newAccess(&sqlBackend{db: sdb.DB, pg: sdb.PG}, "table console_access in "+sdb.Where, opts)
}

// OpenMemory keeps console users in memory (tests, examples).
func OpenMemory(opts Options) (*Access, error) {
	return newAccess(&memBackend{m: map[string]map[string][]byte{}}, "memory", opts)
}

// sqlBackend is one table in the store's database.
type sqlBackend struct {
	db *sql.DB
	pg bool
}

const schema = `CREATE TABLE IF NOT EXISTS console_access (
	kind  TEXT NOT NULL,
	key   TEXT NOT NULL,
	value TEXT NOT NULL,
	PRIMARY KEY (kind, key)
)`

// scrub keeps a connection string (and its password) out of an error.
func scrub(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return errors.New("bad database URL")
	}
	return err
}

// q turns ? placeholders into PostgreSQL's $n.
func (b *sqlBackend) q(s string) string { return sidedb.Rebind(b.pg, s) }

func (b *sqlBackend) get(ctx context.Context, kind, key string) ([]byte, error) {
	var v string
	err := b.db.QueryRowContext(ctx, b.q(`SELECT value FROM console_access WHERE kind = ? AND key = ?`), kind, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("console users: read: %w", err)
	}
	return []byte(v), nil
}

func (b *sqlBackend) put(ctx context.Context, kind, key string, val []byte, create bool) error {
	var res sql.Result
	var err error
	if create {
		res, err = b.db.ExecContext(ctx, b.q(`INSERT INTO console_access (kind, key, value) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`),
			kind, key, string(val))
	} else {
		res, err = b.db.ExecContext(ctx, b.q(`UPDATE console_access SET value = ? WHERE kind = ? AND key = ?`), string(val), kind, key)
	}
	if err != nil {
		return fmt.Errorf("console users: write: %w", err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		if create {
			return ErrExists
		}
		return ErrNotFound
	}
	return nil
}

func (b *sqlBackend) del(ctx context.Context, kind, key string) error {
	res, err := b.db.ExecContext(ctx, b.q(`DELETE FROM console_access WHERE kind = ? AND key = ?`), kind, key)
	if err != nil {
		return fmt.Errorf("console users: delete: %w", err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return ErrNotFound
	}
	return nil
}

func (b *sqlBackend) list(ctx context.Context, kind string) (map[string][]byte, error) {
	rows, err := b.db.QueryContext(ctx, b.q(`SELECT key, value FROM console_access WHERE kind = ?`), kind)
	if err != nil {
		return nil, fmt.Errorf("console users: list: %w", err)
	}
	defer rows.Close()
	out := map[string][]byte{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, fmt.Errorf("console users: list: %w", err)
		}
		out[k] = []byte(v)
	}
	return out, rows.Err()
}

func (b *sqlBackend) close() error { return b.db.Close() }

// fileBackend is one JSON file, rewritten atomically under an flock so
// that the CLI and a running console can both change it.
type fileBackend struct {
	path string
	mu   sync.Mutex
}

type fileData map[string]map[string]json.RawMessage

func (b *fileBackend) load() (fileData, error) {
	raw, err := os.ReadFile(b.path)
	if errors.Is(err, fs.ErrNotExist) {
		return fileData{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("console users: %w", err)
	}
	d := fileData{}
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, fmt.Errorf("console users: %s: %w", b.path, err)
	}
	return d, nil
}

func (b *fileBackend) save(d fileData) error {
	raw, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(b.path), ".console-users-*")
	if err != nil {
		return fmt.Errorf("console users: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(raw); err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o600)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), b.path)
	}
	if err != nil {
		return fmt.Errorf("console users: write %s: %w", b.path, err)
	}
	return nil
}

// locked runs fn with the file's lock held (in this process and across
// processes).
func (b *fileBackend) locked(exclusive bool, fn func() error) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	unlock, err := lockFile(b.path+".lock", exclusive)
	if err != nil {
		return fmt.Errorf("console users: lock: %w", err)
	}
	defer unlock()
	return fn()
}

func (b *fileBackend) get(_ context.Context, kind, key string) (out []byte, err error) {
	err = b.locked(false, func() error {
		d, err := b.load()
		if err != nil {
			return err
		}
		v, ok := d[kind][key]
		if !ok {
			return ErrNotFound
		}
		out = v
		return nil
	})
	return out, err
}

func (b *fileBackend) put(_ context.Context, kind, key string, val []byte, create bool) error {
	return b.locked(true, func() error {
		d, err := b.load()
		if err != nil {
			return err
		}
		_, ok := d[kind][key]
		switch {
		case create && ok:
			return ErrExists
		case !create && !ok:
			return ErrNotFound
		}
		if d[kind] == nil {
			d[kind] = map[string]json.RawMessage{}
		}
		d[kind][key] = val
		return b.save(d)
	})
}

func (b *fileBackend) del(_ context.Context, kind, key string) error {
	return b.locked(true, func() error {
		d, err := b.load()
		if err != nil {
			return err
		}
		if _, ok := d[kind][key]; !ok {
			return ErrNotFound
		}
		delete(d[kind], key)
		return b.save(d)
	})
}

func (b *fileBackend) list(_ context.Context, kind string) (out map[string][]byte, err error) {
	err = b.locked(false, func() error {
		d, err := b.load()
		if err != nil {
			return err
		}
		out = map[string][]byte{}
		for k, v := range d[kind] {
			out[k] = v
		}
		return nil
	})
	return out, err
}

func (b *fileBackend) close() error { return nil }

// memBackend keeps everything in memory.
type memBackend struct {
	mu sync.Mutex
	m  map[string]map[string][]byte
}

func (b *memBackend) get(_ context.Context, kind, key string) ([]byte, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	v, ok := b.m[kind][key]
	if !ok {
		return nil, ErrNotFound
	}
	return v, nil
}

func (b *memBackend) put(_ context.Context, kind, key string, val []byte, create bool) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, ok := b.m[kind][key]
	switch {
	case create && ok:
		return ErrExists
	case !create && !ok:
		return ErrNotFound
	}
	if b.m[kind] == nil {
		b.m[kind] = map[string][]byte{}
	}
	b.m[kind][key] = val
	return nil
}

func (b *memBackend) del(_ context.Context, kind, key string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.m[kind][key]; !ok {
		return ErrNotFound
	}
	delete(b.m[kind], key)
	return nil
}

func (b *memBackend) list(_ context.Context, kind string) (map[string][]byte, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := map[string][]byte{}
	for k, v := range b.m[kind] {
		out[k] = v
	}
	return out, nil
}

func (b *memBackend) close() error { return nil }
