package sidedb

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOpenSQLiteMakesAPrivateFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new")
	path := filepath.Join(dir, "accounts.db")
	d, err := Open("sqlite://"+path, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.PG || d.Where != path {
		t.Errorf("PG %v, Where %q; want SQLite at %s", d.PG, d.Where, path)
	}
	if _, err := d.Exec(`CREATE TABLE t (v TEXT)`); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{dir: 0o700, path: 0o600} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s: mode %o, want %o", p, got, want)
		}
	}
}

func TestOpenRefusals(t *testing.T) {
	for _, u := range []string{"dir:///tmp/x", "mem://", "http://127.0.0.1:1/jwt/v1/accounts/"} {
		if _, err := Open(u, 1); !errors.Is(err, ErrUnsupported) {
			t.Errorf("Open(%s) = %v, want ErrUnsupported", u, err)
		}
	}
	for _, u := range []string{"sqlite://relative.db", "sqlite://host/abs.db", "postgres://u:s3cret@[::1"} {
		_, err := Open(u, 1)
		if err == nil || errors.Is(err, ErrUnsupported) {
			t.Errorf("Open(%s) = %v, want an error about the URL", u, err)
		} else if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("Open(%s): the error shows the password: %v", u, err)
		}
	}
}

func TestRebind(t *testing.T) {
	const q = `SELECT a FROM t WHERE b = ? AND c = ?`
	if got := Rebind(false, q); got != q {
		t.Errorf("SQLite: %q", got)
	}
	if got, want := Rebind(true, q), `SELECT a FROM t WHERE b = $1 AND c = $2`; got != want {
		t.Errorf("PostgreSQL: %q, want %q", got, want)
	}
}
