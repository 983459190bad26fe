package resolver_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"

	"github.com/natsauth/natsauth/internal/testkit"
	"github.com/natsauth/natsauth/resolver"
	"github.com/natsauth/natsauth/store"
)

// feedStore is a real store whose watch the test feeds by hand: Send
// delivers an event as the store's watch would.
type feedStore struct {
	store.Store
	ch chan store.Event
}

func newFeedStore(t *testing.T, op *testkit.Operator) *feedStore {
	f := &feedStore{Store: memStore(t, op), ch: make(chan store.Event, 16)}
	return f
}

func (f *feedStore) Watch(ctx context.Context) (<-chan store.Event, error) {
	out := make(chan store.Event)
	go func() {
		defer close(out)
		for {
			select {
			case <-ctx.Done():
				return
			case ev := <-f.ch:
				select {
				case out <- ev:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, nil
}

// backendPut writes rec straight to the backend under the validated store,
// as another tool writing the database would, without the newer-only rule
// (store.Replace) and without an event.
func backendPut(t *testing.T, st store.Store, token string) {
	t.Helper()
	ac, err := jwt.DecodeAccountClaims(token)
	if err != nil {
		t.Fatal(err)
	}
	r, ok := store.Unwrap(st).(store.Replacer)
	if !ok {
		t.Fatal("backend cannot replace")
	}
	if _, err := r.Replace(context.Background(), store.RecordFromClaims(token, ac)); err != nil {
		t.Fatal(err)
	}
}

// After a reset, every loaded account is brought up to date with the
// store, but never moved back to an older JWT than the one it runs: a
// store restored from an older backup (or a lagging replica) must not
// undo a revocation that is already enforced.
func TestResetKeepsTheNewerRunningJWT(t *testing.T) {
	op := testkit.NewOperator(t)
	st := newFeedStore(t, op)
	a := op.NewAccount(t, "A", nil)
	older := a.Reissue(t, time.Now().Add(-time.Hour).Unix(), nil)
	mustPut(t, st, a)
	n := startNode(t, op, st, resolver.Options{TTL: resolver.NoExpiry})
	victim := a.NewUser(t, "victim", nil)
	_, closed := n.connect(t, victim)

	revoked := a.Reissue(t, time.Now().Unix(), func(ac *jwt.AccountClaims) { ac.Revoke(victim.Pub) })
	mustPut(t, st, a)
	st.ch <- store.Event{Kind: store.EventPut, Account: a.Pub, JWT: revoked}
	waitClosed(t, closed, "revoked user")

	// The store goes back to the JWT from before the revocation; a reset
	// makes the resolver re-read every loaded account.
	backendPut(t, st.Store, older)
	st.ch <- store.Event{Kind: store.EventReset}
	// The reset is handled in order: an event after it is applied after it.
	marker := op.NewAccount(t, "M", nil)
	mustPut(t, st, marker)
	mu := marker.NewUser(t, "m", nil)
	n.connect(t, mu) // loads M
	markerNext := marker.Reissue(t, time.Now().Unix(), func(ac *jwt.AccountClaims) { ac.Revoke(mu.Pub) })
	mustPut(t, st, marker)
	st.ch <- store.Event{Kind: store.EventPut, Account: marker.Pub, JWT: markerNext}
	eventually(t, "event after the reset applied", func() bool { return n.connectErr(t, mu) != nil })

	if err := n.connectErr(t, victim); err == nil {
		t.Fatal("after a reset to an older stored JWT, the revoked user connects again")
	}
}

// The system account stays loaded when it is deleted from the store: the
// server cannot run without it, and the claims responder and every system
// user depend on it.
func TestDeletedSystemAccountStaysLoaded(t *testing.T) {
	op := testkit.NewOperator(t)
	st := memStore(t, op)
	n := startNode(t, op, st, resolver.Options{})
	sysConn, sysClosed := n.connect(t, n.sys)
	if err := st.Delete(context.Background(), op.System.Pub); err != nil {
		t.Fatal(err)
	}
	// The deletion is applied in order: once an account deleted after it is
	// disabled, the system account's deletion has been handled.
	a := op.NewAccount(t, "A", nil)
	mustPut(t, st, a)
	u := a.NewUser(t, "u", nil)
	_, uClosed := n.connect(t, u)
	if err := st.Delete(context.Background(), a.Pub); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, uClosed, "user of a deleted account")

	select {
	case <-sysClosed:
		t.Fatal("the system user's connection was closed when the system account was deleted")
	default:
	}
	assertOpen(t, sysConn, "system user after the system account's deletion")
	if err := n.connectErr(t, op.System.NewUser(t, "sys2", nil)); err != nil {
		t.Fatalf("new system user after the system account's deletion: %v", err)
	}
}

// A forced replace (store.Replace) of a JWT from the future — stored before
// such JWTs were refused — is applied live: the running account leaves the
// poisoned JWT for the older, good one.
func TestForcedReplaceOfFutureJWTAppliesLive(t *testing.T) {
	op := testkit.NewOperator(t)
	st := memStore(t, op)
	a := op.NewAccount(t, "A", nil)
	poisoned := a.Reissue(t, time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC).Unix(), nil)
	backendPut(t, st, poisoned)
	n := startNode(t, op, st, resolver.Options{})
	victim := a.NewUser(t, "victim", nil)
	_, closed := n.connect(t, victim)

	good := a.Reissue(t, time.Now().Unix(), func(ac *jwt.AccountClaims) { ac.Revoke(victim.Pub) })
	if _, err := st.Put(context.Background(), a.Pub, good); err == nil {
		t.Fatal("newer-only put over the poisoned JWT succeeded; the test needs it to be stale")
	}
	if c, err := store.Replace(context.Background(), st, a.Pub, good); err != nil || c != store.Updated {
		t.Fatalf("replace = %v, %v", c, err)
	}
	waitClosed(t, closed, "user revoked by the JWT that replaced the poisoned one")
}

// A JWT from the future pushed over NATS ($SYS.REQ.CLAIMS.UPDATE, what
// `nsc push` sends) is refused and stored nowhere: accepted, it would block
// every later change of the account.
func TestClaimsUpdateRefusesJWTFromTheFuture(t *testing.T) {
	op := testkit.NewOperator(t)
	a := op.NewAccount(t, "A", nil)
	st := memStore(t, op)
	mustPut(t, st, a)
	n := startNode(t, op, st, resolver.Options{})
	sys := n.sysConn(t)
	future := a.Reissue(t, time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC).Unix(), nil)
	wantErr(t, claimsRequest(t, sys, resolver.SubjectClaimsUpdate, []byte(future)), a.Pub,
		"jwt validation failed", "in the future")
	before := a.JWT
	rec, err := st.Get(context.Background(), a.Pub)
	if err != nil {
		t.Fatal(err)
	}
	if rec.IssuedAt > time.Now().Unix()+60 {
		t.Fatalf("the JWT from the future was stored (store holds %s..., had %s...)", rec.JWT[:20], before[:20])
	}
	// A later ordinary change still goes through.
	next := a.Reissue(t, time.Now().Unix(), func(ac *jwt.AccountClaims) { ac.Limits.Conn = 2 })
	wantOK(t, claimsRequest(t, sys, resolver.SubjectClaimsUpdate, []byte(next)), a.Pub, "jwt updated")
}
