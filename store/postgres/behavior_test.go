package postgres_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/jwt/v2"

	"github.com/natsauth/natsauth/internal/pgtest"
	"github.com/natsauth/natsauth/internal/testkit"
	"github.com/natsauth/natsauth/store"
	"github.com/natsauth/natsauth/store/postgres"
)

const eventWait = 15 * time.Second

// events reads a watch channel with deadlines.
type events struct {
	t  *testing.T
	ch <-chan store.Event
}

func watch(t *testing.T, s store.Store) *events {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ch, err := s.(store.Watcher).Watch(ctx)
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	return &events{t: t, ch: ch}
}

func (e *events) next() store.Event {
	e.t.Helper()
	select {
	case ev, ok := <-e.ch:
		if !ok {
			e.t.Fatal("watch channel closed")
		}
		return ev
	case <-time.After(eventWait):
		e.t.Fatalf("no event within %v", eventWait)
	}
	return store.Event{}
}

func (e *events) expect(kind store.EventKind, account string) store.Event {
	e.t.Helper()
	ev := e.next()
	if ev.Kind != kind || ev.Account != account {
		e.t.Fatalf("event = %v %q, want %v %q", ev.Kind, ev.Account, kind, account)
	}
	return ev
}

// testLog writes log lines to the test log.
type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func exec(t *testing.T, url, sql string, args ...any) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("exec %q: %v", sql, err)
	}
}

func count(t *testing.T, url, sql string, args ...any) int {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
		t.Fatalf("%q: %v", sql, err)
	}
	return n
}

// The pool and the watcher recover by themselves after PostgreSQL restarts;
// while it is down every operation fails with ErrUnavailable, naming the
// server; changes made while the watcher was disconnected are reported.
func TestOutageAndRecovery(t *testing.T) {
	srv := pgtest.StartPrivate(t)
	url := srv.NewDatabase(t)
	op := testkit.NewOperator(t)
	opts := store.Options{Policy: op.Policy(), Logger: slog.New(slog.NewTextHandler(testLog{t}, nil))}
	s := open(t, url, opts)
	other := open(t, url, opts)
	w := watch(t, s)
	ctx := context.Background()

	a := op.NewAccount(t, "A", nil)
	b := op.NewAccount(t, "B", nil)
	v1 := a.Reissue(t, 1000, nil)
	if _, err := s.Put(ctx, a.Pub, v1); err != nil {
		t.Fatal(err)
	}
	w.expect(store.EventPut, a.Pub)

	srv.Stop(t)
	down := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, store.ErrUnavailable) {
			t.Fatalf("%s while stopped: err = %v, want ErrUnavailable", what, err)
		}
		if want := "postgres at " + srv.Addr() + " unreachable"; !strings.Contains(err.Error(), want) {
			t.Fatalf("%s while stopped: error %q does not say %q", what, err, want)
		}
	}
	octx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	_, err := s.Get(octx, a.Pub)
	down("get", err)
	_, err = s.Put(octx, b.Pub, b.JWT)
	down("put", err)
	down("delete", s.Delete(octx, a.Pub))
	_, err = s.List(octx)
	down("list", err)

	srv.Restart(t)
	// The same Store works again without reopening.
	rec, err := s.Get(ctx, a.Pub)
	if err != nil || rec.JWT != v1 {
		t.Fatalf("get after restart: %v", err)
	}
	// Changes made by another instance right after the restart reach the
	// watcher: caught up from the change log if it was still reconnecting,
	// live otherwise. Either way, no reset: nothing was lost.
	v2 := a.Reissue(t, 2000, nil)
	if _, err := other.Put(ctx, a.Pub, v2); err != nil {
		t.Fatalf("put after restart: %v", err)
	}
	if _, err := other.Put(ctx, b.Pub, b.JWT); err != nil {
		t.Fatal(err)
	}
	if err := other.Delete(ctx, a.Pub); err != nil {
		t.Fatal(err)
	}
	w.expect(store.EventPut, a.Pub)
	w.expect(store.EventPut, b.Pub)
	w.expect(store.EventDelete, a.Pub)
	if _, err := s.Put(ctx, a.Pub, v2); err != nil {
		t.Fatalf("put through the recovered store: %v", err)
	}
	w.expect(store.EventPut, a.Pub)

	// A watch started while the server is down cannot know what it missed
	// until it connects: then it reports a reset, and changes after that.
	srv.Stop(t)
	w2 := watch(t, other)
	srv.Restart(t)
	if ev := w2.next(); ev.Kind != store.EventReset {
		t.Fatalf("first event of a watch started during the outage: %v %q, want reset", ev.Kind, ev.Account)
	}
	if err := s.Delete(ctx, b.Pub); err != nil {
		t.Fatal(err)
	}
	w2.expect(store.EventDelete, b.Pub)
}

// A server that is not there fails fast with ErrUnavailable and a message
// naming it, never the password.
func TestUnreachableHidesPassword(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	const secret = "s3cr3t-Passw0rd"
	url := "postgres://natsauth:" + secret + "@" + addr + "/accounts?sslmode=disable"
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err = store.Open(ctx, url, store.Options{})
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("open: err = %v, want ErrUnavailable", err)
	}
	if strings.Contains(err.Error(), secret) {
		t.Fatalf("error leaks the password: %v", err)
	}
	if want := "postgres at " + addr + " unreachable"; !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not say %q", err, want)
	}
	t.Logf("unreachable: %v", err)
	_, err = postgres.New(ctx, postgres.Config{ConnString: "postgres://natsauth:" + secret + "@" + addr + "/x?sslmode=bogus"})
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Fatalf("bad sslmode: err = %v (must fail without the password)", err)
	}
	_, err = store.Open(ctx, "postgres://h/db?changelog_keep=zero", store.Options{})
	if err == nil || !strings.Contains(err.Error(), "changelog_keep") {
		t.Fatalf("bad changelog_keep: err = %v", err)
	}
}

// Keys with SQL metacharacters are refused before any query, and even the
// bare backend (parameterized queries) treats them as plain strings.
func TestSQLMetacharactersInKeys(t *testing.T) {
	url := pgtest.Start(t).NewDatabase(t)
	op := testkit.NewOperator(t)
	s := open(t, url, store.Options{Policy: op.Policy()})
	ctx := context.Background()
	a := op.NewAccount(t, "A", nil)
	if _, err := s.Put(ctx, a.Pub, a.JWT); err != nil {
		t.Fatal(err)
	}
	bad := []string{
		`'; DROP TABLE account_jwts; --`,
		`' OR '1'='1`,
		a.Pub + `' OR '1'='1`,
		`A"; DELETE FROM account_jwts; --`,
		`$1`, `\x00`, "A\x00B",
	}
	for _, k := range bad {
		if _, err := s.Get(ctx, k); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("get %q: err = %v, want ErrInvalid", k, err)
		}
		if _, err := s.Put(ctx, k, a.JWT); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("put %q: err = %v, want ErrInvalid", k, err)
		}
		if err := s.Delete(ctx, k); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("delete %q: err = %v, want ErrInvalid", k, err)
		}
	}
	b, err := postgres.New(ctx, postgres.Config{ConnString: url})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, k := range bad[:4] {
		if _, err := b.Get(ctx, k); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("backend get %q: err = %v, want ErrNotFound", k, err)
		}
		if err := b.Delete(ctx, k); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("backend delete %q: err = %v, want ErrNotFound", k, err)
		}
	}
	keys, err := s.List(ctx)
	if err != nil || !slices.Equal(keys, []string{a.Pub}) {
		t.Fatalf("list = %v, %v; want only %s", keys, err, a.Pub)
	}
	if rec, err := s.Get(ctx, a.Pub); err != nil || rec.JWT != a.JWT {
		t.Fatalf("stored jwt changed: %v", err)
	}
}

// Processes opening a fresh database at once migrate it exactly once.
func TestConcurrentOpenMigratesOnce(t *testing.T) {
	url := pgtest.Start(t).NewDatabase(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := store.Open(context.Background(), url, store.Options{})
			if err != nil {
				errs <- err
				return
			}
			s.Close()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent open: %v", err)
	}
	if n := count(t, url, "SELECT count(*) FROM schema_migrations"); n != postgres.SchemaVersion {
		t.Fatalf("schema_migrations has %d rows, want %d", n, postgres.SchemaVersion)
	}
	exec(t, url, "INSERT INTO schema_migrations (version, name) VALUES (999, 'from the future')")
	_, err := store.Open(context.Background(), url, store.Options{})
	if err == nil || !strings.Contains(err.Error(), "newer than this natsauth knows") {
		t.Fatalf("open at schema 999: err = %v", err)
	}
}

// An account_jwts table made by other tools (the walkthrough's resolver)
// is adopted in place, and rows they write are judged by their JWT.
func TestAdoptsExistingTableAndForeignWriters(t *testing.T) {
	url := pgtest.Start(t).NewDatabase(t)
	op := testkit.NewOperator(t)
	a := op.NewAccount(t, "A", nil)
	v2 := a.Reissue(t, 2000, nil)
	exec(t, url, `CREATE TABLE account_jwts (
    account_id VARCHAR(255) PRIMARY KEY,
    jwt TEXT NOT NULL,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP)`)
	// The walkthrough's Store.
	foreignStore := func(account, token string) {
		exec(t, url, `INSERT INTO account_jwts (account_id, jwt) VALUES ($1, $2)
ON CONFLICT (account_id) DO UPDATE SET jwt = $2, updated_at = CURRENT_TIMESTAMP`, account, token)
	}
	foreignStore(a.Pub, v2)

	s := open(t, url, store.Options{Policy: op.Policy()})
	ctx := context.Background()
	rec, err := s.Get(ctx, a.Pub)
	if err != nil || rec.JWT != v2 || rec.IssuedAt != 2000 {
		t.Fatalf("get adopted row = iat %d, %v; want iat 2000", rec.IssuedAt, err)
	}
	if _, err := s.Put(ctx, a.Pub, a.Reissue(t, 1000, nil)); !errors.Is(err, store.ErrStale) {
		t.Fatalf("older than adopted row: err = %v, want ErrStale", err)
	}
	w := watch(t, s)
	if c, err := s.Put(ctx, a.Pub, a.Reissue(t, 3000, nil)); err != nil || c != store.Updated {
		t.Fatalf("newer: %v, %v", c, err)
	}
	w.expect(store.EventPut, a.Pub)

	// A foreign writer replaces the JWT without touching issued_at: the
	// JWT, not the stale column, decides what is newer, and watchers hear.
	v4 := a.Reissue(t, 4000, nil)
	foreignStore(a.Pub, v4)
	if ev := w.expect(store.EventPut, a.Pub); ev.JWT != v4 {
		t.Fatalf("foreign write event carries %.40q, want v4", ev.JWT)
	}
	if rec, _ := s.Get(ctx, a.Pub); rec.IssuedAt != 4000 {
		t.Fatalf("iat after foreign write = %d, want 4000", rec.IssuedAt)
	}
	if _, err := s.Put(ctx, a.Pub, a.Reissue(t, 3500, nil)); !errors.Is(err, store.ErrStale) {
		t.Fatalf("older than foreign write: err = %v, want ErrStale", err)
	}
	exec(t, url, "DELETE FROM account_jwts WHERE account_id = $1", a.Pub)
	w.expect(store.EventDelete, a.Pub)
	exec(t, url, "INSERT INTO account_jwts (account_id, jwt) VALUES ('not-a-key', 'x')")
	exec(t, url, "TRUNCATE account_jwts")
	if ev := w.next(); ev.Kind != store.EventReset {
		t.Fatalf("after a foreign row with a bad key and TRUNCATE: event %v %q, want only a reset", ev.Kind, ev.Account)
	}
}

// A JWT too big for one NOTIFY payload is announced in parts that the
// watch puts back together, so nodes apply it without reading it back;
// a watcher of an earlier version (listening on the change channel only)
// still gets the change without the JWT; a JWT beyond the parts' limit
// is announced without it.
func TestLargeJWTAnnouncedInParts(t *testing.T) {
	url := pgtest.Start(t).NewDatabase(t)
	op := testkit.NewOperator(t)
	s := open(t, url, store.Options{Policy: op.Policy()})
	w := watch(t, s)
	ctx := context.Background()
	legacy, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer legacy.Close(ctx)
	if _, err := legacy.Exec(ctx, "LISTEN "+postgres.Channel); err != nil {
		t.Fatal(err)
	}
	tagged := func(a *testkit.Account, iat int64, n int) string {
		return a.Reissue(t, iat, func(ac *jwt.AccountClaims) {
			for i := range n {
				ac.Tags.Add("tag-" + strconv.Itoa(i) + "-padding-padding")
			}
		})
	}
	a := op.NewAccount(t, "Big", nil)
	for _, n := range []int{400, 1200} { // two parts, and five
		big := tagged(a, int64(1000+n), n)
		if len(big) < 9000 {
			t.Fatalf("test jwt only %d bytes", len(big))
		}
		if _, err := s.Put(ctx, a.Pub, big); err != nil {
			t.Fatal(err)
		}
		if ev := w.expect(store.EventPut, a.Pub); ev.JWT != big {
			t.Fatalf("%d-byte jwt: the event carries %d bytes", len(big), len(ev.JWT))
		}
		lctx, cancel := context.WithTimeout(ctx, eventWait)
		note, err := legacy.WaitForNotification(lctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if f := strings.Fields(note.Payload); len(f) != 3 || f[1] != "put" || f[2] != a.Pub {
			t.Fatalf("legacy watcher got %.80q, want \"seq put account\"", note.Payload)
		}
	}
	// Past the store's limit only another client of the database can go.
	huge := op.NewAccount(t, "Huge", nil)
	exec(t, url, "INSERT INTO account_jwts (account_id, jwt) VALUES ($1, $2)", huge.Pub, strings.Repeat("x", 1<<20+1))
	if ev := w.expect(store.EventPut, huge.Pub); ev.JWT != "" {
		t.Fatalf("event carries a %d-byte jwt beyond the limit", len(ev.JWT))
	}
	small := op.NewAccount(t, "Small", nil)
	if _, err := s.Put(ctx, small.Pub, small.JWT); err != nil {
		t.Fatal(err)
	}
	if ev := w.expect(store.EventPut, small.Pub); ev.JWT != small.JWT {
		t.Fatal("small jwt not carried in its event")
	}
}

// Two stores writing versions of one account concurrently never lose the
// newest: every process's writes serialize in the database.
func TestTwoProcessesNewestWins(t *testing.T) {
	url := pgtest.Start(t).NewDatabase(t)
	op := testkit.NewOperator(t)
	opts := store.Options{Policy: op.Policy()}
	stores := []store.Store{open(t, url, opts), open(t, url, opts)}
	a := op.NewAccount(t, "A", nil)
	const n = 40
	vers := make([]string, n)
	for i := range vers {
		vers[i] = a.Reissue(t, int64(1000+i), nil)
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	var mu sync.Mutex
	created := 0
	for i := n - 1; i >= 0; i-- {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := stores[i%2].Put(ctx, a.Pub, vers[i])
			if err != nil && !errors.Is(err, store.ErrStale) {
				t.Errorf("put v%d: %v", i, err)
			}
			if c == store.Created {
				mu.Lock()
				created++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if created != 1 {
		t.Fatalf("%d puts reported Created, want 1", created)
	}
	for i, s := range stores {
		rec, err := s.Get(ctx, a.Pub)
		if err != nil || rec.JWT != vers[n-1] {
			t.Fatalf("store %d holds iat %d (%v), want the newest %d", i, rec.IssuedAt, err, 1000+n-1)
		}
	}
	if got := count(t, url, "SELECT count(*) FROM account_jwt_changes WHERE account_id = $1", a.Pub); got < 1 || got > n {
		t.Fatalf("change log has %d entries for the account", got)
	}
}
