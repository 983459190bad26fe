package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
)

// isBusy tells SQLite's "database is locked" from other errors: a store
// opening a file another process is switching to WAL mode tries again on
// it alone.
func TestIsBusy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "busy.db")
	open := func() *sql.DB {
		db, err := sql.Open("sqlite", path+"?_txlock=immediate&_pragma=busy_timeout(0)")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	ctx := context.Background()
	a, b := open(), open()
	if _, err := a.ExecContext(ctx, "CREATE TABLE t (x INTEGER)"); err != nil {
		t.Fatal(err)
	}
	tx, err := a.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	_, err = b.BeginTx(ctx, nil)
	if !isBusy(err) {
		t.Fatalf("a second writer: %v, want SQLITE_BUSY", err)
	}
	if _, err := a.ExecContext(ctx, "SELEC nothing"); err == nil || isBusy(err) {
		t.Fatalf("a syntax error: %v", err)
	}
	if isBusy(nil) {
		t.Fatal("no error is busy")
	}
}
