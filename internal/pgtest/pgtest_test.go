package pgtest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { Main(m) }

func query(t *testing.T, url, sql string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return "", err
	}
	defer conn.Close(context.Background())
	var s string
	err = conn.QueryRow(ctx, sql).Scan(&s)
	return s, err
}

func TestSharedDatabasesAreIsolated(t *testing.T) {
	s := Start(t)
	if Start(t) != s {
		t.Fatal("Start returned a second server")
	}
	a, b := s.NewDatabase(t), s.NewDatabase(t)
	if a == b {
		t.Fatalf("NewDatabase returned %s twice", a)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE only_in_a(x int)"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	got, err := query(t, b, "SELECT count(*)::text FROM pg_tables WHERE tablename = 'only_in_a'")
	if err != nil || got != "0" {
		t.Fatalf("table of database a seen in b: got %q, %v", got, err)
	}
	got, err = query(t, a, "SELECT current_database()")
	if err != nil || !strings.HasPrefix(got, "t_testshareddatabasesareisolated") {
		t.Fatalf("current_database() = %q, %v", got, err)
	}
}

func TestStopRestartKeepsAddressAndData(t *testing.T) {
	s := StartPrivate(t)
	if s.External() {
		t.Fatal("private server is external")
	}
	url := s.NewDatabase(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE kept(v text); INSERT INTO kept VALUES ('before')"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)

	s.Stop(t)
	if _, err := query(t, url, "SELECT 'x'"); err == nil {
		t.Fatal("query succeeded while the server was stopped")
	}
	s.Restart(t)
	got, err := query(t, url, "SELECT v FROM kept")
	if err != nil || got != "before" {
		t.Fatalf("after restart: got %q, %v; want \"before\"", got, err)
	}
	// Restart of a running server works too.
	s.Restart(t)
	if _, err := query(t, url, "SELECT v FROM kept"); err != nil {
		t.Fatalf("after second restart: %v", err)
	}
}

func TestDBNameIsSafe(t *testing.T) {
	n := dbName(`Test/With "Quotes"; DROP DATABASE x--and a very long name indeed`)
	for _, r := range n {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			t.Fatalf("dbName produced %q with %q", n, r)
		}
	}
	if len(n) > 63 {
		t.Fatalf("dbName %q longer than PostgreSQL's 63", n)
	}
}

func TestMissingBinariesSayWhatToDo(t *testing.T) {
	t.Setenv(EnvBinDir, t.TempDir())
	_, err := startCluster()
	if !errors.Is(err, errNotInstalled) {
		t.Fatalf("startCluster without binaries: err = %v", err)
	}
	for _, want := range []string{"PostgreSQL not installed", "./scripts/test", EnvURL} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}
