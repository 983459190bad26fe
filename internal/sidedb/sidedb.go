// Package sidedb opens the SQL database of an account store — the SQLite
// file or the PostgreSQL database a sqlite:// or postgres:// store URL
// names — for natsauth's own tables beside the store's (console users,
// the identity gateway's password users).
package sidedb

import (
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	_ "modernc.org/sqlite"             // database/sql driver "sqlite" (the store's own)

	"github.com/natsauth/natsauth/store"
)

// ErrUnsupported is wrapped by Open for a store URL that is neither
// sqlite:// nor postgres://.
var ErrUnsupported = errors.New("not a sqlite:// or postgres:// store")

// DB is a database/sql handle that knows its engine's placeholders.
type DB struct {
	*sql.DB
	// PG is true for PostgreSQL.
	PG bool
	// Where names the database: the file's path, or the URL without its
	// password.
	Where string
}

// Open opens the database of the store at storeURL with at most maxConns
// connections. A SQLite file (and its directory) is created private
// (0600, 0700) when missing; its transactions begin IMMEDIATE and wait up
// to 5 s for a lock. The store's own URL parameters are not passed on to
// PostgreSQL. Errors never hold the URL's password.
func Open(storeURL string, maxConns int) (*DB, error) {
	u, err := url.Parse(storeURL)
	if err != nil {
		// url.Parse's error repeats the URL, password included.
		return nil, fmt.Errorf("%s is not a store URL", store.Redact(storeURL))
	}
	d := &DB{}
	switch strings.ToLower(u.Scheme) {
	case "sqlite":
		if u.Host != "" || !filepath.IsAbs(u.Path) {
			return nil, fmt.Errorf("want sqlite:///absolute/path/file.db, got %s", store.Redact(storeURL))
		}
		path := filepath.Clean(u.Path)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("open %s: %w", path, err)
		}
		if f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600); err == nil {
			f.Close()
		}
		d.Where = path
		d.DB, err = sql.Open("sqlite", "file:"+path+"?_txlock=immediate&_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)")
	case "postgres", "postgresql":
		q := u.Query()
		q.Del("changelog_keep") // the account store's own parameter
		u.RawQuery = q.Encode()
		d.PG = true
		d.Where = u.Redacted()
		d.DB, err = sql.Open("pgx", u.String())
	default:
		return nil, fmt.Errorf("%s://: %w", u.Scheme, ErrUnsupported)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", d.Where, err)
	}
	d.SetMaxOpenConns(maxConns)
	return d, nil
}

// Rebind rewrites the ? placeholders of s to PostgreSQL's $1, $2, ...
// when pg is true.
func Rebind(pg bool, s string) string {
	if !pg {
		return s
	}
	var b strings.Builder
	n := 0
	for _, r := range s {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
