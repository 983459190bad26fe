package resolver_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"

	"github.com/natsauth/natsauth/internal/pgtest"
	"github.com/natsauth/natsauth/internal/testkit"
	"github.com/natsauth/natsauth/resolver"
	"github.com/natsauth/natsauth/resolver/dbresolver"
	"github.com/natsauth/natsauth/store"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func newDB(t *testing.T, url string, opts ...resolver.Options) *dbresolver.DBResolver {
	t.Helper()
	dr, err := dbresolver.New(url, opts...)
	if err != nil {
		t.Fatalf("new database resolver: %v", err)
	}
	t.Cleanup(dr.Close)
	return dr
}

func TestDBResolver(t *testing.T) {
	url := pgtest.Start(t).NewDatabase(t)
	op := testkit.NewOperator(t)
	a := op.NewAccount(t, "A", nil)
	dr := newDB(t, url, resolver.Options{Policy: op.Policy()})

	// The walkthrough's Store / Fetch / Delete / List.
	for _, acc := range []*testkit.Account{op.System, a} {
		if err := dr.Store(acc.Pub, acc.JWT); err != nil {
			t.Fatalf("store %s: %v", acc.Claims.Name, err)
		}
	}
	if got, err := dr.Fetch(a.Pub); err != nil || got != a.JWT {
		t.Fatalf("fetch: %v", err)
	}
	ids, err := dr.List()
	if err != nil || len(ids) != 2 || !slices.Contains(ids, a.Pub) {
		t.Fatalf("list = %v, %v", ids, err)
	}
	gone := op.NewAccount(t, "GONE", nil)
	if err := dr.Store(gone.Pub, gone.JWT); err != nil {
		t.Fatal(err)
	}
	if err := dr.Delete(gone.Pub); err != nil {
		t.Fatal(err)
	}
	if _, err := dr.Fetch(gone.Pub); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("fetch after delete: %v, want ErrNotFound", err)
	}
	if err := dr.Delete(gone.Pub); err != nil {
		t.Fatalf("delete of a missing account: %v", err)
	}
	// Only JWTs signed by the trusted operator are stored.
	other := testkit.NewOperator(t)
	if err := dr.Store(gone.Pub, gone.SignWith(t, other.SigningKP)); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("store a foreign-signed jwt: %v, want ErrInvalid", err)
	}
	if err := newDB(t, url).Store(gone.Pub, gone.JWT); !errors.Is(err, store.ErrInvalid) ||
		!strings.Contains(err.Error(), "no trusted operator") {
		t.Fatalf("store without a policy: %v, want a refusal naming the missing operator", err)
	}

	// As server.Options.AccountResolver; a change written by another
	// process sharing the database is enforced live.
	srv := embedded(t, op, dr)
	u := a.NewUser(t, "alice", nil)
	n := &node{op: op, srv: srv}
	_, closed := n.connect(t, u)
	writer := newDB(t, url, resolver.Options{Policy: op.Policy()})
	a.Reissue(t, 0, func(ac *jwt.AccountClaims) { ac.RevokeAt(u.Pub, time.Now().Add(time.Second)) })
	if err := writer.Store(a.Pub, a.JWT); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, closed, "user revoked by another process")
}

func TestDBResolverSurvivesPostgresOutage(t *testing.T) {
	pg := pgtest.StartPrivate(t)
	url := pg.NewDatabase(t)
	op := testkit.NewOperator(t)
	known := op.NewAccount(t, "KNOWN", nil)
	unseen := op.NewAccount(t, "UNSEEN", nil)
	clk := newFakeClock()
	var logs logBuffer
	dr := newDB(t, url, resolver.Options{Policy: op.Policy(), TTL: time.Minute, Clock: clk, Logger: logs.logger()})
	for _, acc := range []*testkit.Account{op.System, known} {
		if err := dr.Store(acc.Pub, acc.JWT); err != nil {
			t.Fatal(err)
		}
	}
	srv := embedded(t, op, dr)
	n := &node{op: op, srv: srv}
	if _, err := dr.Fetch(known.Pub); err != nil { // seen
		t.Fatal(err)
	}

	pg.Stop(t)
	clk.Advance(time.Hour)
	k := known.NewUser(t, "k", nil)
	kc, kClosed := n.connect(t, k)
	if _, _, err := n.tryConnect(t, unseen.NewUser(t, "u", nil)); err == nil {
		t.Fatal("never-seen account admitted while PostgreSQL is down")
	}
	if !strings.Contains(logs.String(), "account store unavailable") {
		t.Fatalf("no clear log line about the outage:\n%s", logs.String())
	}
	assertOpen(t, kc, "known account during the outage")

	pg.Restart(t)
	clk.Advance(2 * time.Second)
	writer := newDB(t, url, resolver.Options{Policy: op.Policy()})
	known.Reissue(t, 0, func(ac *jwt.AccountClaims) { ac.RevokeAt(k.Pub, time.Now().Add(time.Second)) })
	for _, acc := range []*testkit.Account{known, unseen} {
		if err := writer.Store(acc.Pub, acc.JWT); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-kClosed:
	case <-time.After(20 * time.Second):
		t.Fatal("a change made after PostgreSQL returned was not applied")
	}
	if _, _, err := n.tryConnect(t, unseen.NewUser(t, "u2", nil)); err != nil {
		t.Fatalf("connect to the unseen account after recovery: %v", err)
	}
}
