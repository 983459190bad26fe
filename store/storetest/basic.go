package storetest

import (
	"errors"
	"slices"
	"time"

	"github.com/nats-io/jwt/v2"

	"github.com/natsauth/natsauth/store"
)

func testRoundTrip(e *env) {
	exp := time.Now().Add(time.Hour).Unix()
	acc := e.op.NewAccount(e.t, "A", func(ac *jwt.AccountClaims) { ac.Expires = exp })
	if got, want := e.put(acc, acc.JWT), store.Created; got != want {
		e.t.Fatalf("first put = %v, want %v", got, want)
	}
	rec := e.mustGet(acc.Pub)
	if rec.JWT != acc.JWT {
		e.t.Fatalf("get returned a different jwt:\n got %q\nwant %q", rec.JWT, acc.JWT)
	}
	claims, err := jwt.DecodeAccountClaims(acc.JWT)
	if err != nil {
		e.t.Fatal(err)
	}
	want := store.Record{Account: acc.Pub, JWT: acc.JWT, IssuedAt: claims.IssuedAt,
		ID: claims.ID, Issuer: claims.Issuer, Expires: exp}
	got := rec
	got.UpdatedAt = time.Time{}
	if got != want {
		e.t.Fatalf("record = %+v\nwant %+v", got, want)
	}
	// A JWT offered with surrounding whitespace (as read from a file) is
	// stored as the bare JWT.
	next := acc.Reissue(e.t, claims.IssuedAt+1, nil)
	if _, err := e.w.Put(e.ctx, acc.Pub, "\n "+next+"\n"); err != nil {
		e.t.Fatalf("put with whitespace: %v", err)
	}
	e.wantJWT(acc.Pub, next)
}

func testNotFound(e *env) {
	acc := e.op.NewAccount(e.t, "A", nil)
	e.wantNotFound(acc.Pub)
	// Another account being stored does not make this one found.
	other := e.op.NewAccount(e.t, "B", nil)
	e.put(other, other.JWT)
	e.wantNotFound(acc.Pub)
}

func testDelete(e *env) {
	acc := e.op.NewAccount(e.t, "A", nil)
	keep := e.op.NewAccount(e.t, "B", nil)
	e.put(acc, acc.JWT)
	e.put(keep, keep.JWT)
	if err := e.w.Delete(e.ctx, acc.Pub); err != nil {
		e.t.Fatalf("delete: %v", err)
	}
	e.wantNotFound(acc.Pub)
	e.wantJWT(keep.Pub, keep.JWT)
	if err := e.w.Delete(e.ctx, acc.Pub); !errors.Is(err, store.ErrNotFound) {
		e.t.Fatalf("second delete: err = %v, want ErrNotFound", err)
	}
	// After a delete the account can be stored again, even with an older JWT.
	old := acc.Reissue(e.t, 1000, nil)
	if c := e.put(acc, old); c != store.Created {
		e.t.Fatalf("put after delete = %v, want created", c)
	}
	e.wantJWT(acc.Pub, old)
}

func testList(e *env) {
	keys, err := e.r.List(e.ctx)
	if err != nil {
		e.t.Fatalf("list empty: %v", err)
	}
	if len(keys) != 0 {
		e.t.Fatalf("empty store lists %v", keys)
	}
	var want []string
	for _, name := range []string{"A", "B", "C", "D"} {
		acc := e.op.NewAccount(e.t, name, nil)
		e.put(acc, acc.JWT)
		want = append(want, acc.Pub)
	}
	if err := e.w.Delete(e.ctx, want[3]); err != nil {
		e.t.Fatalf("delete: %v", err)
	}
	want = want[:3]
	keys, err = e.r.List(e.ctx)
	if err != nil {
		e.t.Fatalf("list: %v", err)
	}
	slices.Sort(keys)
	slices.Sort(want)
	if !slices.Equal(keys, want) {
		e.t.Fatalf("list = %v\nwant %v", keys, want)
	}
}

func testReopen(e *env) {
	acc := e.op.NewAccount(e.t, "A", nil)
	gone := e.op.NewAccount(e.t, "B", nil)
	e.put(acc, acc.JWT)
	e.put(gone, gone.JWT)
	if err := e.w.Delete(e.ctx, gone.Pub); err != nil {
		e.t.Fatal(err)
	}
	if err := e.r.Close(); err != nil {
		e.t.Fatalf("close: %v", err)
	}
	if e.w != e.r {
		if err := e.w.Close(); err != nil {
			e.t.Fatalf("close writer: %v", err)
		}
	}
	e.r = e.openStore(e.t)
	e.wantJWT(acc.Pub, acc.JWT)
	e.wantNotFound(gone.Pub)
	keys, err := e.r.List(e.ctx)
	if err != nil || !slices.Equal(keys, []string{acc.Pub}) {
		e.t.Fatalf("list after reopen = %v, %v; want [%s]", keys, err, acc.Pub)
	}
	// The reopened store still enforces newer-only against what it found.
	e.w = e.r
	if e.b.ReadOnly {
		e.w = e.writer(e.t)
	}
	old := acc.Reissue(e.t, 1000, nil)
	if _, err := e.w.Put(e.ctx, acc.Pub, old); !errors.Is(err, store.ErrStale) {
		e.t.Fatalf("stale put after reopen: err = %v, want ErrStale", err)
	}
}

func testClosedRefuses(e *env) {
	acc := e.op.NewAccount(e.t, "A", nil)
	e.put(acc, acc.JWT)
	s := e.openStore(e.t)
	if err := s.Close(); err != nil {
		e.t.Fatalf("close: %v", err)
	}
	if _, err := s.Get(e.ctx, acc.Pub); err == nil {
		e.t.Fatal("get on a closed store succeeded")
	}
	if _, err := s.Put(e.ctx, acc.Pub, acc.JWT); err == nil {
		e.t.Fatal("put on a closed store succeeded")
	}
	// Closing twice is harmless, and other instances are unaffected.
	_ = s.Close()
	e.wantJWT(acc.Pub, acc.JWT)
}

// testScan: store.Scan reads every stored record, with its claims, once;
// deleted accounts are not seen.
func testScan(e *env) {
	want := map[string]string{}
	for _, name := range []string{"A", "B", "C"} {
		acc := e.op.NewAccount(e.t, name, nil)
		e.put(acc, acc.JWT)
		want[acc.Pub] = acc.JWT
	}
	gone := e.op.NewAccount(e.t, "D", nil)
	e.put(gone, gone.JWT)
	if err := e.w.Delete(e.ctx, gone.Pub); err != nil {
		e.t.Fatalf("delete: %v", err)
	}
	got := map[string]store.Record{}
	err := store.Scan(e.ctx, e.r, func(rec store.Record) error {
		if _, dup := got[rec.Account]; dup {
			e.t.Errorf("scan reported %s twice", rec.Account)
		}
		got[rec.Account] = rec
		return nil
	})
	if err != nil {
		e.t.Fatalf("scan: %v", err)
	}
	if len(got) != len(want) {
		e.t.Fatalf("scan saw %d accounts, want %d", len(got), len(want))
	}
	for pub, tok := range want {
		rec := got[pub]
		ac, err := jwt.DecodeAccountClaims(tok)
		if err != nil {
			e.t.Fatal(err)
		}
		if rec.JWT != tok || rec.IssuedAt != ac.IssuedAt || rec.ID != ac.ID {
			e.t.Errorf("scan record of %s = %+v, want the stored jwt with iat %d jti %s", pub, rec, ac.IssuedAt, ac.ID)
		}
	}
	stop := errors.New("stop")
	n := 0
	if err := store.Scan(e.ctx, e.r, func(store.Record) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		e.t.Errorf("scan after fn's error: err %v after %d calls, want stop after 1", err, n)
	}
}
