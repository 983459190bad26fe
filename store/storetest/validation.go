package storetest

import (
	"errors"
	"strings"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"

	"github.com/natsauth/natsauth/internal/testkit"
	"github.com/natsauth/natsauth/store"
	"github.com/natsauth/natsauth/trust"
)

// refused checks that putting token under key fails with want on the
// writable handle (and on the store under test, where a read-only store may
// answer ErrReadOnly instead of ErrStale), and that nothing changed: the
// account still holds before ("" for absent) and the listing is the same.
func (e *env) refused(key, token string, want error, before string) {
	e.t.Helper()
	keysBefore, err := e.r.List(e.ctx)
	if err != nil {
		e.t.Fatalf("list: %v", err)
	}
	targets := []store.Store{e.w}
	if e.b.ReadOnly {
		targets = append(targets, e.r)
	}
	for i, s := range targets {
		c, err := s.Put(e.ctx, key, token)
		ok := errors.Is(err, want) || (i == 1 && want == store.ErrStale && errors.Is(err, store.ErrReadOnly))
		if !ok {
			e.t.Fatalf("put %.40q: err = %v, want %v", key, err, want)
		}
		if c != store.Unchanged {
			e.t.Fatalf("refused put reports %v, want unchanged", c)
		}
		if msg := err.Error(); msg == "" || len(msg) > 4096 {
			e.t.Fatalf("refusal message is empty or unbounded (%d bytes)", len(msg))
		}
	}
	e.wantState(key, before)
	keysAfter, err := e.r.List(e.ctx)
	if err != nil {
		e.t.Fatalf("list: %v", err)
	}
	if strings.Join(keysBefore, ",") != strings.Join(keysAfter, ",") {
		e.t.Fatalf("refused put changed the listing: %v -> %v", keysBefore, keysAfter)
	}
}

// wantState checks the stored JWT for key, "" meaning absent. Keys that are
// not account keys are only checked to be refused by Get.
func (e *env) wantState(key, token string) {
	e.t.Helper()
	if !nkeys.IsValidPublicAccountKey(key) {
		return
	}
	if token == "" {
		e.wantNotFound(key)
		return
	}
	e.wantJWT(key, token)
}

func testStaleRefused(e *env) {
	acc := e.op.NewAccount(e.t, "A", nil)
	newer := acc.Reissue(e.t, 2000, nil)
	e.put(acc, newer)
	older := acc.Reissue(e.t, 1000, func(ac *jwt.AccountClaims) { ac.Limits.Conn = 5 })
	e.refused(acc.Pub, older, store.ErrStale, newer)
}

// testFutureRefused: a JWT issued beyond the clock skew in the future is
// refused on every write path, and does not replace the stored one (it
// would make every later write stale).
func testFutureRefused(e *env) {
	acc := e.op.NewAccount(e.t, "A", nil)
	e.put(acc, acc.JWT)
	current := acc.JWT
	future := acc.Reissue(e.t, time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC).Unix(), nil)
	e.refused(acc.Pub, future, store.ErrInvalid, current)
	fresh := e.op.NewAccount(e.t, "F", nil)
	e.refused(fresh.Pub, fresh.Reissue(e.t, time.Now().Add(trust.DefaultClockSkew+time.Hour).Unix(), nil), store.ErrInvalid, "")
}

// testReplace: a forced replace overwrites a newer JWT (the way out for a
// poisoned record), is validated as any write, reports what it did and is
// seen by watchers and other instances; a read-only store refuses it.
func testReplace(e *env) {
	acc := e.op.NewAccount(e.t, "A", nil)
	poisoned := acc.Reissue(e.t, time.Now().Unix()+60, nil) // newer than anything signed below
	e.put(acc, poisoned)
	good := acc.Reissue(e.t, time.Now().Unix()-60, func(ac *jwt.AccountClaims) { ac.Limits.Conn = 3 })
	e.refused(acc.Pub, good, store.ErrStale, poisoned)
	if e.b.ReadOnly {
		if _, err := store.Replace(e.ctx, e.r, acc.Pub, good); !errors.Is(err, store.ErrReplaceUnsupported) {
			e.t.Fatalf("replace on a read-only store: err = %v, want ErrReplaceUnsupported", err)
		}
		return
	}
	c, err := store.Replace(e.ctx, e.w, acc.Pub, good)
	if err != nil || c != store.Updated {
		e.t.Fatalf("replace = %v, %v; want updated", c, err)
	}
	e.wantJWT(acc.Pub, good)
	if c, err := store.Replace(e.ctx, e.w, acc.Pub, good); err != nil || c != store.Unchanged {
		e.t.Fatalf("replace with the same jwt = %v, %v; want unchanged", c, err)
	}
	// Validated like any write: a JWT from the future or another operator
	// is refused, and nothing changes.
	future := acc.Reissue(e.t, time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC).Unix(), nil)
	if _, err := store.Replace(e.ctx, e.w, acc.Pub, future); !errors.Is(err, store.ErrInvalid) {
		e.t.Fatalf("replace with a jwt from the future: err = %v, want ErrInvalid", err)
	}
	other := testkit.NewOperator(e.t)
	stranger := other.NewAccount(e.t, "S", nil)
	if _, err := store.Replace(e.ctx, e.w, stranger.Pub, stranger.JWT); !errors.Is(err, store.ErrInvalid) {
		e.t.Fatalf("replace with an untrusted issuer: err = %v, want ErrInvalid", err)
	}
	e.wantJWT(acc.Pub, good)
	e.wantNotFound(stranger.Pub)
	// After the replace, ordinary newer-only writes work again.
	next := acc.Reissue(e.t, time.Now().Unix(), func(ac *jwt.AccountClaims) { ac.Limits.Conn = 4 })
	if c := e.put(acc, next); c != store.Updated {
		e.t.Fatalf("put after replace = %v, want updated", c)
	}
	fresh := e.op.NewAccount(e.t, "F", nil)
	if c, err := store.Replace(e.ctx, e.w, fresh.Pub, fresh.JWT); err != nil || c != store.Created {
		e.t.Fatalf("replace of an absent account = %v, %v; want created", c, err)
	}
}

func testSameJWTUnchanged(e *env) {
	acc := e.op.NewAccount(e.t, "A", nil)
	if c := e.put(acc, acc.JWT); c != store.Created {
		e.t.Fatalf("first put = %v, want created", c)
	}
	if e.b.NoWatch {
		if c := e.put(acc, acc.JWT); c != store.Unchanged {
			e.t.Fatalf("same jwt again = %v, want unchanged", c)
		}
		return
	}
	w := e.watch(e.r)
	if c := e.put(acc, acc.JWT); c != store.Unchanged {
		e.t.Fatalf("same jwt again = %v, want unchanged", c)
	}
	// A marker write proves the watch is live: the next event must be the
	// marker's, not a second event for the unchanged JWT.
	marker := e.op.NewAccount(e.t, "MARK", nil)
	e.put(marker, marker.JWT)
	ev := w.next()
	if ev.Account != marker.Pub {
		e.t.Fatalf("unchanged put produced an event: %+v", ev)
	}
	e.wantJWT(acc.Pub, acc.JWT)
}

func testEqualIssuedAt(e *env) {
	acc := e.op.NewAccount(e.t, "A", nil)
	first := acc.Reissue(e.t, 5000, nil)
	e.put(acc, first)
	second := acc.Reissue(e.t, 5000, func(ac *jwt.AccountClaims) { ac.Limits.Conn = 7 })
	if first == second {
		e.t.Fatal("test bug: reissued jwt is identical")
	}
	if c := e.put(acc, second); c != store.Updated {
		e.t.Fatalf("equal-iat different jwt = %v, want updated", c)
	}
	e.wantJWT(acc.Pub, second)
}

func testNewerReplaces(e *env) {
	acc := e.op.NewAccount(e.t, "A", nil)
	e.put(acc, acc.Reissue(e.t, 1000, nil))
	newer := acc.Reissue(e.t, 3000, func(ac *jwt.AccountClaims) { ac.Limits.Subs = 10 })
	if c := e.put(acc, newer); c != store.Updated {
		e.t.Fatalf("newer put = %v, want updated", c)
	}
	rec := e.mustGet(acc.Pub)
	if rec.JWT != newer || rec.IssuedAt != 3000 {
		e.t.Fatalf("after newer put: iat %d, jwt changed = %v", rec.IssuedAt, rec.JWT != newer)
	}
}

func testSubjectMismatch(e *env) {
	a := e.op.NewAccount(e.t, "A", nil)
	b := e.op.NewAccount(e.t, "B", nil)
	e.put(b, b.JWT)
	// A's JWT offered under B's key (and under a fresh key): refused.
	e.refused(b.Pub, a.JWT, store.ErrInvalid, b.JWT)
	e.refused(a.Pub, b.JWT, store.ErrInvalid, "")
}

func testUntrustedIssuer(e *env) {
	other := testkit.NewOperator(e.t)
	acc := e.op.NewAccount(e.t, "A", nil)
	e.refused(acc.Pub, acc.SignWith(e.t, other.SigningKP), store.ErrInvalid, "")
	e.refused(acc.Pub, acc.SignWith(e.t, other.KP), store.ErrInvalid, "")
	// An account of another operator entirely.
	foreign := other.NewAccount(e.t, "F", nil)
	e.refused(foreign.Pub, foreign.JWT, store.ErrInvalid, "")
	// A stored account cannot be replaced by a newer JWT from a stranger,
	// nor by a newer JWT whose signature was forged.
	e.put(acc, acc.JWT)
	stranger := testkit.WithIssuedAt(e.t, acc.SignWith(e.t, other.SigningKP), other.SigningKP, 1<<40)
	e.refused(acc.Pub, stranger, store.ErrInvalid, acc.JWT)
	forged := testkit.WithIssuedAt(e.t, acc.JWT, other.SigningKP, 1<<40)
	e.refused(acc.Pub, forged, store.ErrInvalid, acc.JWT)
}

func testSelfSigned(e *env) {
	acc := e.op.NewAccount(e.t, "A", nil)
	e.refused(acc.Pub, acc.SignWith(e.t, acc.KP), store.ErrInvalid, "")
}

func testStrictOperator(e *env) {
	strict := *e.op.Claims
	strict.StrictSigningKeyUsage = true
	loose := e.opts.Policy
	e.opts.Policy = trust.FromOperators(&strict)
	s := e.writer(e.t)
	e.opts.Policy = loose
	acc := e.op.NewAccount(e.t, "A", nil)
	byIdentity := acc.SignWith(e.t, e.op.KP)
	if _, err := s.Put(e.ctx, acc.Pub, byIdentity); !errors.Is(err, store.ErrInvalid) {
		e.t.Fatalf("strict operator: identity-signed put err = %v, want ErrInvalid", err)
	}
	if _, err := s.Get(e.ctx, acc.Pub); !errors.Is(err, store.ErrNotFound) {
		e.t.Fatalf("refused put was stored: get err = %v", err)
	}
	// The signing key is still accepted.
	if _, err := s.Put(e.ctx, acc.Pub, acc.JWT); err != nil {
		e.t.Fatalf("strict operator: signing-key put: %v", err)
	}
	if rec, err := s.Get(e.ctx, acc.Pub); err != nil || rec.JWT != acc.JWT {
		e.t.Fatalf("strict operator: get after put = %v", err)
	}
	// And the non-strict policy accepts the identity key.
	other := e.op.NewAccount(e.t, "B", nil)
	if _, err := e.w.Put(e.ctx, other.Pub, other.SignWith(e.t, e.op.KP)); err != nil {
		e.t.Fatalf("non-strict operator refused its identity key: %v", err)
	}
}

// badKeys are keys that must never reach a backend.
func badKeys(e *env) []string {
	user := e.op.NewAccount(e.t, "U", nil).NewUser(e.t, "u", nil)
	acc := e.op.NewAccount(e.t, "X", nil)
	return []string{
		"", "../x", "../../etc/passwd", "ACCOUNT123", "A'; DROP TABLE account_jwts;--",
		"' OR '1'='1", acc.Pub + "/../" + acc.Pub, acc.Pub + "\x00", " " + acc.Pub,
		strings.ToLower(acc.Pub), user.Pub, e.op.Pub, acc.Pub[:len(acc.Pub)-1],
		strings.Repeat("A", 4096), "A%2e%2e%2fx", "*", "%",
	}
}

func testInvalidKeys(e *env) {
	acc := e.op.NewAccount(e.t, "A", nil)
	e.put(acc, acc.JWT)
	for _, key := range badKeys(e) {
		if _, err := e.r.Get(e.ctx, key); !errors.Is(err, store.ErrInvalid) {
			e.t.Fatalf("get %.40q: err = %v, want ErrInvalid", key, err)
		}
		e.refused(key, acc.JWT, store.ErrInvalid, "")
		for _, s := range []store.Store{e.w, e.r} {
			if err := s.Delete(e.ctx, key); !errors.Is(err, store.ErrInvalid) {
				e.t.Fatalf("delete %.40q: err = %v, want ErrInvalid", key, err)
			}
		}
	}
	// A 2 MiB JWT under a valid key.
	e.refused(acc.Pub, strings.Repeat("e", 2<<20), store.ErrInvalid, acc.JWT)
	e.wantJWT(acc.Pub, acc.JWT)
	keys, err := e.r.List(e.ctx)
	if err != nil || len(keys) != 1 || keys[0] != acc.Pub {
		e.t.Fatalf("list after refused keys = %v, %v", keys, err)
	}
}

func testGarbageJWT(e *env) {
	acc := e.op.NewAccount(e.t, "A", nil)
	user := acc.NewUser(e.t, "u", nil)
	garbage := []string{
		"", "   ", "garbage", "a.b.c", "eyJ0eXAiOiJKV1QifQ.e30.", acc.JWT[:len(acc.JWT)-10],
		acc.JWT + "x", strings.Replace(acc.JWT, ".", "", 1), user.JWT, e.op.JWT,
		string([]byte{0xff, 0xfe, 0x00}), "'; DELETE FROM account_jwts;--",
	}
	for _, g := range garbage {
		e.refused(acc.Pub, g, store.ErrInvalid, "")
	}
	e.put(acc, acc.JWT)
	for _, g := range garbage {
		e.refused(acc.Pub, g, store.ErrInvalid, acc.JWT)
	}
}

func testReadOnlyRefuses(e *env) {
	acc := e.op.NewAccount(e.t, "A", nil)
	if _, err := e.r.Put(e.ctx, acc.Pub, acc.JWT); !errors.Is(err, store.ErrReadOnly) {
		e.t.Fatalf("put on read-only store: err = %v, want ErrReadOnly", err)
	}
	e.wantNotFound(acc.Pub)
	e.put(acc, acc.JWT)
	if err := e.r.Delete(e.ctx, acc.Pub); !errors.Is(err, store.ErrReadOnly) {
		e.t.Fatalf("delete on read-only store: err = %v, want ErrReadOnly", err)
	}
	e.wantJWT(acc.Pub, acc.JWT)
}
