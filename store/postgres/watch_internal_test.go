package postgres

import (
	"context"
	neturl "net/url"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nkeys"

	"github.com/natsauth/natsauth/internal/pgtest"
	"github.com/natsauth/natsauth/store"
)

// These tests drive the listener's catch-up step directly, so the paths a
// reconnecting watcher takes are exercised deterministically.

func newBackend(t *testing.T, url string) *Store {
	t.Helper()
	u, err := neturl.Parse(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ParseURL(u)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func accountKey(t *testing.T) string {
	t.Helper()
	kp, err := nkeys.CreateAccount()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// put stores a raw record (the backend does not validate).
func put(t *testing.T, s *Store, account string, iat int64) {
	t.Helper()
	rec := store.Record{Account: account, JWT: "jwt-" + strconv.FormatInt(iat, 10), IssuedAt: iat}
	if _, err := s.PutIfNewer(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
}

// drain returns the events published so far.
func drain(ch <-chan store.Event) []store.Event {
	var out []store.Event
	for {
		select {
		case ev := <-ch:
			out = append(out, ev)
		case <-time.After(50 * time.Millisecond):
			return out
		}
	}
}

func subscribe(t *testing.T, s *Store) <-chan store.Event {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ch, err := s.bc.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

func TestCatchUpReportsMissedChangesInOrder(t *testing.T) {
	url := pgtest.Start(t).NewDatabase(t)
	s := newBackend(t, url)
	ch := subscribe(t, s)
	ctx := context.Background()
	conn, err := s.connectListener(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)

	a, b := accountKey(t), accountKey(t)
	put(t, s, a, 1) // before the watcher ever connected: not reported
	st := &listenState{}
	if err := s.catchUp(ctx, conn, st); err != nil {
		t.Fatal(err)
	}
	if evs := drain(ch); len(evs) != 0 || !st.known {
		t.Fatalf("first catch-up published %v (known %v), want nothing", evs, st.known)
	}
	// "While disconnected":
	put(t, s, a, 2)
	put(t, s, b, 1)
	if err := s.Delete(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := s.catchUp(ctx, conn, st); err != nil {
		t.Fatal(err)
	}
	want := []store.Event{{Kind: store.EventPut, Account: a}, {Kind: store.EventPut, Account: b}, {Kind: store.EventDelete, Account: a}}
	got := drain(ch)
	if len(got) != len(want) {
		t.Fatalf("caught up %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("event %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	// The notifications for the same changes, arriving later, are not
	// reported twice; a newer one is.
	for seq := st.seq - 2; seq <= st.seq; seq++ {
		s.handle(st, strconv.FormatInt(seq, 10)+" put "+a+" jwt-x")
	}
	s.handle(st, strconv.FormatInt(st.seq+1, 10)+" put "+b+" jwt-y")
	got = drain(ch)
	if len(got) != 1 || got[0] != (store.Event{Kind: store.EventPut, Account: b, JWT: "jwt-y"}) {
		t.Fatalf("after duplicates: %+v, want only the newer put", got)
	}
	// Malformed payloads are ignored.
	s.handle(st, "")
	s.handle(st, "x put "+a)
	s.handle(st, strconv.FormatInt(st.seq+5, 10)+" frobnicate "+a)
	if got := drain(ch); len(got) != 0 {
		t.Fatalf("malformed payloads published %v", got)
	}
}

func TestCatchUpResetsWhenLogTrimmed(t *testing.T) {
	url := pgtest.Start(t).NewDatabase(t)
	s := newBackend(t, url+"&changelog_keep=3")
	ch := subscribe(t, s)
	ctx := context.Background()
	conn, err := s.connectListener(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	st := &listenState{}
	if err := s.catchUp(ctx, conn, st); err != nil {
		t.Fatal(err)
	}
	a := accountKey(t)
	for i := range 12 {
		put(t, s, a, int64(i+1))
	}
	var left int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM account_jwt_changes").Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left > 3+1 {
		t.Fatalf("change log holds %d entries with changelog_keep=3", left)
	}
	if err := s.catchUp(ctx, conn, st); err != nil {
		t.Fatal(err)
	}
	got := drain(ch)
	if len(got) != 1 || got[0].Kind != store.EventReset {
		t.Fatalf("catch-up past a trimmed log published %v, want one reset", got)
	}
	// Then it goes on from the newest change.
	put(t, s, a, 100)
	if err := s.catchUp(ctx, conn, st); err != nil {
		t.Fatal(err)
	}
	if got := drain(ch); len(got) != 1 || got[0].Kind != store.EventPut {
		t.Fatalf("after reset: %v, want one put", got)
	}
}

func TestCatchUpResetsAfterFailedFirstConnect(t *testing.T) {
	url := pgtest.Start(t).NewDatabase(t)
	s := newBackend(t, url)
	ch := subscribe(t, s)
	ctx := context.Background()
	conn, err := s.connectListener(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	st := &listenState{missed: true}
	if err := s.catchUp(ctx, conn, st); err != nil {
		t.Fatal(err)
	}
	if got := drain(ch); len(got) != 1 || got[0].Kind != store.EventReset {
		t.Fatalf("got %v, want one reset", got)
	}
	if st.missed || !st.known {
		t.Fatalf("state after reset: %+v", st)
	}
}

// Parts of a large JWT make it only when every part came, in order, for
// the change whose notification follows.
func TestLargeJWTParts(t *testing.T) {
	feed := func(st *listenState, payloads ...string) {
		for _, p := range payloads {
			st.addPart(p)
		}
	}
	st := &listenState{}
	feed(st, "7 1 3 ab", "7 2 3 cd", "7 3 3 e f")
	if got := st.largeJWT(7); got != "abcde f" {
		t.Errorf("all parts: %q", got)
	}
	if got := st.largeJWT(7); got != "" {
		t.Errorf("parts are used once: %q", got)
	}
	for name, payloads := range map[string][]string{
		"a part missing":      {"8 1 3 ab", "8 3 3 ef"},
		"the last missing":    {"8 1 3 ab", "8 2 3 cd"},
		"the first missing":   {"8 2 3 cd", "8 3 3 ef"},
		"another change's":    {"8 1 2 ab", "9 2 2 cd"},
		"a count that shifts": {"8 1 2 ab", "8 2 3 cd"},
		"malformed":           {"8 1 ab", "x 1 1 ab"},
		"a part out of range": {"8 2 1 ab"},
	} {
		st := &listenState{}
		feed(st, payloads...)
		if got := st.largeJWT(8); got != "" {
			t.Errorf("%s: %q", name, got)
		}
	}
	st = &listenState{}
	feed(st, "8 1 2 ab", "8 2 2 cd")
	if got := st.largeJWT(9); got != "" {
		t.Errorf("parts of change 8 used for change 9: %q", got)
	}
}
