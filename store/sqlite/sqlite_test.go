package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/natsauth/natsauth/internal/testkit"
	"github.com/natsauth/natsauth/store"
	"github.com/natsauth/natsauth/store/sqlite"
	"github.com/natsauth/natsauth/store/storetest"
)

var backend = storetest.Backend{
	Name: "sqlite",
	New: func(t testing.TB) func(testing.TB, store.Options) store.Store {
		return storetest.Opener("sqlite://" + filepath.Join(t.TempDir(), "db", "accounts.db") + "?poll=20ms")
	},
	Persistent: true,
	Shared:     true,
}

func TestConformance(t *testing.T) { storetest.Run(t, backend) }

func BenchmarkGet(b *testing.B) { storetest.BenchGet(b, backend, 1000) }

func TestFileModes(t *testing.T) {
	op := testkit.NewOperator(t)
	d := filepath.Join(t.TempDir(), "home")
	p := filepath.Join(d, "accounts.db")
	s, err := store.Open(t.Context(), "sqlite://"+p, store.Options{Policy: op.Policy()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	acc := op.NewAccount(t, "A", nil)
	if _, err := s.Put(t.Context(), acc.Pub, acc.JWT); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(d)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o700 {
		t.Errorf("directory mode = %o, want 700", got)
	}
	for _, f := range []string{p, p + "-wal", p + "-shm"} {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != 0o600 {
			t.Errorf("%s mode = %o, want 600", filepath.Base(f), got)
		}
	}
}

func TestSchemaAndWAL(t *testing.T) {
	p := filepath.Join(t.TempDir(), "a.db")
	s, err := sqlite.New(t.Context(), sqlite.Config{Path: p})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var mode string
	if err := s.DB().QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q, %v; want wal", mode, err)
	}
	var version int
	if err := s.DB().QueryRow(`SELECT version FROM schema_version`).Scan(&version); err != nil || version != sqlite.SchemaVersion {
		t.Fatalf("schema version = %d, %v; want %d", version, err, sqlite.SchemaVersion)
	}
	for _, table := range []string{"account_jwts", "account_changes", "store_meta"} {
		var n int
		if err := s.DB().QueryRow(`SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, table).Scan(&n); err != nil || n != 1 {
			t.Fatalf("table %s missing: %v", table, err)
		}
	}
	// Reopening an up-to-date database changes nothing.
	s2, err := sqlite.New(t.Context(), sqlite.Config{Path: p})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	s2.Close()
}

func TestRefusesNewerSchema(t *testing.T) {
	p := filepath.Join(t.TempDir(), "a.db")
	s, err := sqlite.New(t.Context(), sqlite.Config{Path: p})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().Exec(`UPDATE schema_version SET version = 999`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err = sqlite.New(t.Context(), sqlite.Config{Path: p})
	if err == nil || !strings.Contains(err.Error(), "999") {
		t.Fatalf("open of a newer schema: err = %v, want one naming version 999", err)
	}
}

func TestSQLMetacharactersStayData(t *testing.T) {
	op := testkit.NewOperator(t)
	p := filepath.Join(t.TempDir(), "a.db")
	s, err := sqlite.New(t.Context(), sqlite.Config{Path: p})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	acc := op.NewAccount(t, "x'); DROP TABLE account_jwts;--", nil)
	w := store.Wrap(s, store.Options{Policy: op.Policy()})
	if _, err := w.Put(t.Context(), acc.Pub, acc.JWT); err != nil {
		t.Fatal(err)
	}
	// Straight to the backend, past the validated wrapper.
	for _, key := range []string{"A'; DROP TABLE account_jwts;--", "' OR '1'='1"} {
		if _, err := s.Get(t.Context(), key); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("backend Get(%q) = %v, want ErrInvalid", key, err)
		}
		if err := s.Delete(t.Context(), key); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("backend Delete(%q) = %v, want ErrInvalid", key, err)
		}
	}
	if rec, err := w.Get(t.Context(), acc.Pub); err != nil || rec.JWT != acc.JWT {
		t.Fatalf("get: %v", err)
	}
}

func TestURL(t *testing.T) {
	for _, bad := range []string{"sqlite://relative.db", "sqlite:rel.db", "sqlite:///x.db?poll=1ns",
		"sqlite:///x.db?synchronous=off", "sqlite:///x.db?bogus=1", "sqlite:///x.db?keep=1"} {
		if _, err := store.Open(context.Background(), bad, store.Options{}); err == nil {
			t.Errorf("Open(%q) succeeded", bad)
		}
	}
}

// A watcher that falls behind the trimmed change log is told to reload.
func TestWatcherBehindTrimmedLogGetsReset(t *testing.T) {
	op := testkit.NewOperator(t)
	p := filepath.Join(t.TempDir(), "a.db")
	opts := store.Options{Policy: op.Policy()}
	// The watched instance polls hourly: only its own writes wake it.
	a, err := store.Open(t.Context(), "sqlite://"+p+"?poll=1h&keep=100", opts)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := store.Open(t.Context(), "sqlite://"+p+"?keep=100", opts)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ch, err := a.(store.Watcher).Watch(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	acc := op.NewAccount(t, "A", nil)
	for i := range 300 {
		if _, err := b.Put(t.Context(), acc.Pub, acc.Reissue(t, int64(1000+i), nil)); err != nil {
			t.Fatal(err)
		}
	}
	last := op.NewAccount(t, "B", nil)
	if _, err := a.Put(t.Context(), last.Pub, last.JWT); err != nil {
		t.Fatal(err)
	}
	ev := <-ch
	if ev.Kind != store.EventReset {
		t.Fatalf("first event = %v, want reset", ev.Kind)
	}
	// Then the changes still in the log, ending with a's own write.
	n := 0
	for ev := range ch {
		n++
		if ev.Account == last.Pub {
			break
		}
	}
	if n != 301-(256-100) {
		t.Fatalf("got %d events after the reset, want %d", n, 301-(256-100))
	}
}

// BenchmarkOpen100k opens a database that holds 100,000 accounts and reads
// one: opening is lazy, so this costs the same as on an empty database.
func BenchmarkOpen100k(b *testing.B) {
	p := filepath.Join(b.TempDir(), "big.db")
	s, err := sqlite.New(context.Background(), sqlite.Config{Path: p, SyncNormal: true})
	if err != nil {
		b.Fatal(err)
	}
	op := testkit.NewOperator(b)
	acc := op.NewAccount(b, "A", nil)
	tx, err := s.DB().Begin()
	if err != nil {
		b.Fatal(err)
	}
	for i := range 100_000 {
		// Filler rows: only the one account read below must be real.
		if _, err := tx.Exec(`INSERT INTO account_jwts VALUES (?, ?, 0, '', '', 0, 0, 0)`,
			fmt.Sprintf("FILL%06d", i), strings.Repeat("x", 600)); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	w := store.Wrap(s, store.Options{Policy: op.Policy()})
	if _, err := w.Put(context.Background(), acc.Pub, acc.JWT); err != nil {
		b.Fatal(err)
	}
	s.Close()
	b.ResetTimer()
	for range b.N {
		st, err := store.Open(context.Background(), "sqlite://"+p, store.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := st.Get(context.Background(), acc.Pub); err != nil {
			b.Fatal(err)
		}
		st.Close()
	}
}

func TestNewerOnlyAcrossProcesses(t *testing.T) {
	d := t.TempDir() // unused in the child processes
	storetest.CrossProcess(t, "TestNewerOnlyAcrossProcesses", "sqlite://"+filepath.Join(d, "a.db"), 3, 80)
}
