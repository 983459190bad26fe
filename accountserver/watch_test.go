package accountserver_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/natsauth/natsauth/accountserver"
	"github.com/natsauth/natsauth/store"
)

// sse reads data lines of a watch stream.
type sse struct {
	t      *testing.T
	lines  chan string
	cancel context.CancelFunc
}

func openWatch(t *testing.T, e *env) *sse {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.ts.URL+"/jwt/v1/watch", nil)
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" || resp.Header.Get("Cache-Control") != "no-cache" {
		cancel()
		t.Fatalf("watch answer %d %v", resp.StatusCode, resp.Header)
	}
	s := &sse{t: t, lines: make(chan string, 64), cancel: cancel}
	go func() {
		defer close(s.lines)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 4<<20)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
	}()
	t.Cleanup(cancel)
	return s
}

// next returns the next data payload, skipping comments and blank lines.
func (s *sse) next() accountserver.WatchEvent {
	s.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case l, ok := <-s.lines:
			if !ok {
				s.t.Fatal("watch stream ended")
			}
			if !strings.HasPrefix(l, "data: ") {
				continue
			}
			var ev accountserver.WatchEvent
			if err := json.Unmarshal([]byte(strings.TrimPrefix(l, "data: ")), &ev); err != nil {
				s.t.Fatalf("bad event %q: %v", l, err)
			}
			return ev
		case <-deadline:
			s.t.Fatal("no watch event within 10s")
		}
	}
}

func TestWatchStream(t *testing.T) {
	e := newEnv(t, func(o *accountserver.Options) { o.Heartbeat = 20 * time.Millisecond })
	w := openWatch(t, e)
	if ev := w.next(); ev.Kind != accountserver.KindReady {
		t.Fatalf("first event = %+v, want ready", ev)
	}
	a := e.op.NewAccount(t, "A", nil)
	// A write through the HTTP API and one straight into the store (as the
	// CLI makes) are both reported.
	if got := e.do(t, request{method: "POST", path: "/jwt/v1/accounts/" + a.Pub, body: strings.NewReader(a.JWT)}); got.status != 200 {
		t.Fatalf("post = %d %s", got.status, got.body)
	}
	if ev := w.next(); ev != (accountserver.WatchEvent{Kind: "put", Account: a.Pub, JWT: a.JWT}) {
		t.Fatalf("event = %+v", ev)
	}
	v2 := a.Reissue(t, time.Now().Unix()+1, nil)
	e.put(t, a, v2)
	if ev := w.next(); ev.Kind != "put" || ev.JWT != v2 {
		t.Fatalf("event = %+v", ev)
	}
	if err := e.st.Delete(t.Context(), a.Pub); err != nil {
		t.Fatal(err)
	}
	if ev := w.next(); ev != (accountserver.WatchEvent{Kind: "delete", Account: a.Pub}) {
		t.Fatalf("event = %+v", ev)
	}
	// Keep-alives arrive while idle.
	for {
		select {
		case l := <-w.lines:
			if l == ": ping" {
				return
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no keep-alive")
		}
	}
}

func TestWatchEndsOnClose(t *testing.T) {
	e := newEnv(t, nil)
	w := openWatch(t, e)
	w.next()
	_ = e.as.Close()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case _, ok := <-w.lines:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("watch stream still open after Close")
		}
	}
}

// recorder is a Notifier that records announcements.
type recorder struct {
	mu   sync.Mutex
	got  []string
	wake chan struct{}
}

func (r *recorder) Announce(_ context.Context, account, jwt string) error {
	r.mu.Lock()
	r.got = append(r.got, account+" "+jwt)
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
	return nil
}

func (r *recorder) waitFor(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		r.mu.Lock()
		got := append([]string(nil), r.got...)
		r.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-r.wake:
		case <-deadline:
			t.Fatalf("announcements = %d, want %d", len(got), n)
		}
	}
}

// Every change is announced, whichever path made it; deletes are not.
func TestAnnouncesEveryChange(t *testing.T) {
	rec := &recorder{wake: make(chan struct{}, 1)}
	e := newEnv(t, func(o *accountserver.Options) { o.Notifier = rec })
	if err := e.as.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	a := e.op.NewAccount(t, "A", nil)
	b := e.op.NewAccount(t, "B", nil)
	if got := e.do(t, request{method: "POST", path: "/jwt/v1/accounts/" + a.Pub, body: strings.NewReader(a.JWT)}); got.status != 200 {
		t.Fatalf("post = %d", got.status)
	}
	e.put(t, b, b.JWT)
	e.put(t, b, b.JWT) // unchanged: not announced
	if err := e.st.Delete(t.Context(), a.Pub); err != nil {
		t.Fatal(err)
	}
	b1 := b.JWT
	b2 := b.Reissue(t, time.Now().Unix()+1, nil)
	e.put(t, b, b2)
	got := rec.waitFor(t, 3)
	want := []string{a.Pub + " " + a.JWT, b.Pub + " " + b1, b.Pub + " " + b2}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("announcements:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if err := e.as.Start(t.Context()); err == nil {
		t.Fatal("second Start succeeded")
	}
}

func TestStartNeedsAWatcher(t *testing.T) {
	as := accountserver.New(storeOnly{}, accountserver.Options{Notifier: &recorder{}})
	if err := as.Start(t.Context()); err == nil || !strings.Contains(err.Error(), "watch") {
		t.Fatalf("start = %v", err)
	}
}

// storeOnly is a store without Watch.
type storeOnly struct{ store.Store }
