package storetest

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/jwt/v2"

	"github.com/natsauth/natsauth/store"
)

// watcher reads one Watch channel with deadlines.
type watcher struct {
	e  *env
	ch <-chan store.Event
}

// watch starts watching s until the case ends.
func (e *env) watch(s store.Store) *watcher {
	e.t.Helper()
	wt, ok := s.(store.Watcher)
	if !ok {
		e.t.Fatalf("%s: store does not implement store.Watcher", e.b.Name)
	}
	ch, err := wt.Watch(e.ctx)
	if err != nil {
		e.t.Fatalf("watch: %v", err)
	}
	return &watcher{e: e, ch: ch}
}

// next returns the next event; a Reset, a closed channel or a timeout fails
// the test.
func (w *watcher) next() store.Event {
	w.e.t.Helper()
	timer := time.NewTimer(w.e.watchTimeout())
	defer timer.Stop()
	select {
	case ev, ok := <-w.ch:
		if !ok {
			w.e.t.Fatal("watch channel closed early")
		}
		if ev.Kind == store.EventReset {
			w.e.t.Fatal("watch reported a reset: changes were missed")
		}
		return ev
	case <-timer.C:
		w.e.t.Fatalf("no watch event within %v", w.e.watchTimeout())
	}
	return store.Event{}
}

// expect checks that the next event is kind for account with token (when
// the event carries a JWT).
func (w *watcher) expect(kind store.EventKind, account, token string) {
	w.e.t.Helper()
	ev := w.next()
	if ev.Kind != kind || ev.Account != account {
		w.e.t.Fatalf("event = %v %s, want %v %s", ev.Kind, ev.Account, kind, account)
	}
	if kind == store.EventPut && ev.JWT != "" && ev.JWT != token {
		w.e.t.Fatalf("put event for %s carries another jwt (iat order broken?)", account)
	}
	if kind == store.EventDelete && ev.JWT != "" {
		w.e.t.Fatalf("delete event carries a jwt")
	}
}

// closed waits for the channel to be closed, draining events.
func (w *watcher) closed() {
	w.e.t.Helper()
	timer := time.NewTimer(w.e.watchTimeout())
	defer timer.Stop()
	for {
		select {
		case _, ok := <-w.ch:
			if !ok {
				return
			}
		case <-timer.C:
			w.e.t.Fatalf("watch channel still open %v after the end", w.e.watchTimeout())
		}
	}
}

// testWatchUnsupported checks that a NoWatch backend says so clearly.
func testWatchUnsupported(e *env) {
	wt, ok := e.r.(store.Watcher)
	if !ok {
		return // the store does not even offer Watch
	}
	if _, err := wt.Watch(e.ctx); !errors.Is(err, store.ErrWatchUnsupported) {
		e.t.Fatalf("NoWatch backend: Watch err = %v, want ErrWatchUnsupported", err)
	}
}

func testWatchInOrder(e *env) {
	if e.b.ReadOnly {
		// Writes arrive from elsewhere; check them one at a time.
		stepwise(e, e.w, e.watch(e.r))
		return
	}
	w := e.watch(e.r)
	a := e.op.NewAccount(e.t, "A", nil)
	b := e.op.NewAccount(e.t, "B", nil)
	v1 := a.Reissue(e.t, 1000, nil)
	v2 := a.Reissue(e.t, 2000, func(ac *jwt.AccountClaims) { ac.Limits.Conn = 3 })
	e.put(a, v1)
	e.put(a, v2)
	e.put(b, b.JWT)
	if err := e.w.Delete(e.ctx, a.Pub); err != nil {
		e.t.Fatal(err)
	}
	v3 := a.Reissue(e.t, 500, nil)
	e.put(a, v3)
	w.expect(store.EventPut, a.Pub, v1)
	w.expect(store.EventPut, a.Pub, v2)
	w.expect(store.EventPut, b.Pub, b.JWT)
	w.expect(store.EventDelete, a.Pub, "")
	w.expect(store.EventPut, a.Pub, v3)
	// Refused writes and failed deletes report nothing.
	if _, err := e.w.Put(e.ctx, a.Pub, a.Reissue(e.t, 100, nil)); !errors.Is(err, store.ErrStale) {
		e.t.Fatalf("stale put: %v", err)
	}
	if err := e.w.Delete(e.ctx, b.Pub); err != nil {
		e.t.Fatal(err)
	}
	if err := e.w.Delete(e.ctx, b.Pub); !errors.Is(err, store.ErrNotFound) {
		e.t.Fatalf("delete missing: %v", err)
	}
	w.expect(store.EventDelete, b.Pub, "")
	marker := e.op.NewAccount(e.t, "M", nil)
	e.put(marker, marker.JWT)
	w.expect(store.EventPut, marker.Pub, marker.JWT)
}

// stepwise makes changes through s one at a time and checks that w reports
// each before the next is made, with no extra events.
func stepwise(e *env, s store.Store, w *watcher) {
	e.t.Helper()
	a := e.op.NewAccount(e.t, "A", nil)
	v1 := a.Reissue(e.t, 1000, nil)
	v2 := a.Reissue(e.t, 2000, func(ac *jwt.AccountClaims) { ac.Limits.Conn = 3 })
	put := func(token string) {
		e.t.Helper()
		if _, err := s.Put(e.ctx, a.Pub, token); err != nil {
			e.t.Fatalf("put: %v", err)
		}
	}
	put(v1)
	w.expect(store.EventPut, a.Pub, v1)
	put(v2)
	w.expect(store.EventPut, a.Pub, v2)
	put(v2) // unchanged: no event
	if err := s.Delete(e.ctx, a.Pub); err != nil {
		e.t.Fatalf("delete: %v", err)
	}
	w.expect(store.EventDelete, a.Pub, "")
	b := e.op.NewAccount(e.t, "B", nil)
	if _, err := s.Put(e.ctx, b.Pub, b.JWT); err != nil {
		e.t.Fatal(err)
	}
	w.expect(store.EventPut, b.Pub, b.JWT)
	// The watched store reads what the event announced.
	if rec, err := e.r.Get(e.ctx, b.Pub); err != nil || rec.JWT != b.JWT {
		e.t.Fatalf("get after event: %v", err)
	}
}

func testWatchOtherInstance(e *env) {
	w := e.watch(e.r)
	stepwise(e, e.writer(e.t), w)
	// The watched instance's own writes are reported too, after the others'.
	c := e.op.NewAccount(e.t, "C", nil)
	if !e.b.ReadOnly {
		e.put(c, c.JWT)
		w.expect(store.EventPut, c.Pub, c.JWT)
	}
}

func testWatchEndsOnClose(e *env) {
	s := e.openStore(e.t)
	w := e.watch(s)
	w2 := e.watch(s)
	if err := s.Close(); err != nil {
		e.t.Fatalf("close: %v", err)
	}
	w.closed()
	w2.closed()
	if _, err := s.(store.Watcher).Watch(e.ctx); err == nil {
		e.t.Fatal("watch on a closed store succeeded")
	}
}

func testWatchEndsOnContext(e *env) {
	ctx, cancel := context.WithCancel(e.ctx)
	ch, err := e.r.(store.Watcher).Watch(ctx)
	if err != nil {
		e.t.Fatalf("watch: %v", err)
	}
	other := e.watch(e.r)
	cancel()
	(&watcher{e: e, ch: ch}).closed()
	// Other watchers go on.
	acc := e.op.NewAccount(e.t, "A", nil)
	e.put(acc, acc.JWT)
	other.expect(store.EventPut, acc.Pub, acc.JWT)
}
