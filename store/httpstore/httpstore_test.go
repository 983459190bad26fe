package httpstore_test

import (
	"context"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/natsauth/natsauth/accountserver"
	"github.com/natsauth/natsauth/internal/testkit"
	"github.com/natsauth/natsauth/store"
	"github.com/natsauth/natsauth/store/httpstore"
	"github.com/natsauth/natsauth/store/mem"
	"github.com/natsauth/natsauth/store/storetest"
)

// nopClose keeps a shared backend open when one of its wrappers closes.
type nopClose struct{ *mem.Store }

func (nopClose) Close() error { return nil }

// backend is a real account server over a mem store on an httptest server.
type backend struct {
	mem *mem.Store
	as  *accountserver.Server
	ts  *httptest.Server
	// reqs records each request's path, query and If-None-Match.
	mu   sync.Mutex
	reqs []string
}

func newBackend(t testing.TB, wrap func(http.Handler) http.Handler) *backend {
	t.Helper()
	b := &backend{mem: mem.New()}
	b.as = accountserver.New(store.Wrap(nopClose{b.mem}, store.Options{}), accountserver.Options{})
	var h http.Handler = b.as
	if wrap != nil {
		h = wrap(h)
	}
	rec := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		b.reqs = append(b.reqs, r.URL.RequestURI()+" inm="+r.Header.Get("If-None-Match"))
		b.mu.Unlock()
		h.ServeHTTP(w, r)
	})
	b.ts = httptest.NewServer(rec)
	t.Cleanup(func() {
		_ = b.as.Close() // ends watch streams so the server can close
		b.ts.Close()
		_ = b.mem.Close()
	})
	return b
}

func (b *backend) url() string { return b.ts.URL + "/jwt/v1/accounts/" }

// writer is a validated writable store on the backend's mem store.
func (b *backend) writer(opts store.Options) store.Store { return store.Wrap(nopClose{b.mem}, opts) }

func (b *backend) requests() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.reqs...)
}

func TestConformance(t *testing.T) {
	var last *backend
	storetest.Run(t, storetest.Backend{
		Name: "http",
		New: func(t testing.TB) func(testing.TB, store.Options) store.Store {
			last = newBackend(t, nil)
			return storetest.Opener(last.url())
		},
		Persistent: true,
		Shared:     true,
		ReadOnly:   true,
		Writer: func(_ testing.TB, opts store.Options) store.Store {
			return last.writer(opts)
		},
	})
}

func open(t testing.TB, rawURL string, opts store.Options) store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), rawURL, opts)
	if err != nil {
		t.Fatalf("open %s: %v", rawURL, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestGetUsesETag(t *testing.T) {
	op := testkit.NewOperator(t)
	b := newBackend(t, nil)
	w := b.writer(store.Options{Policy: op.Policy()})
	acc := op.NewAccount(t, "A", nil)
	if _, err := w.Put(t.Context(), acc.Pub, acc.JWT); err != nil {
		t.Fatal(err)
	}
	s := open(t, b.url(), store.Options{})
	for i := range 2 {
		rec, err := s.Get(t.Context(), acc.Pub)
		if err != nil {
			t.Fatalf("get %d: %v", i, err)
		}
		if rec.JWT != acc.JWT || rec.ID != acc.Claims.ID || rec.Account != acc.Pub {
			t.Fatalf("get %d: record = %+v", i, rec)
		}
	}
	reqs := b.requests()
	want := []string{
		"/jwt/v1/accounts/" + acc.Pub + " inm=",
		"/jwt/v1/accounts/" + acc.Pub + ` inm="` + acc.Claims.ID + `"`,
	}
	if strings.Join(reqs, "\n") != strings.Join(want, "\n") {
		t.Fatalf("requests:\n%s\nwant:\n%s", strings.Join(reqs, "\n"), strings.Join(want, "\n"))
	}
	// A newer JWT replaces the cached one despite the stale If-None-Match.
	v2 := acc.Reissue(t, time.Now().Unix()+10, nil)
	if _, err := w.Put(t.Context(), acc.Pub, v2); err != nil {
		t.Fatal(err)
	}
	if rec, err := s.Get(t.Context(), acc.Pub); err != nil || rec.JWT != v2 {
		t.Fatalf("get after update: %v", err)
	}
}

func TestErrors(t *testing.T) {
	op := testkit.NewOperator(t)
	acc := op.NewAccount(t, "A", nil)
	other := op.NewAccount(t, "B", nil)
	block := make(chan struct{})
	t.Cleanup(func() { close(block) })
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/slow/"+acc.Pub):
			select {
			case <-block:
			case <-r.Context().Done():
			}
		case strings.HasPrefix(r.URL.Path, "/down/"):
			http.Error(w, "backend down", http.StatusBadGateway)
		case strings.HasPrefix(r.URL.Path, "/swap/"):
			_, _ = w.Write([]byte(other.JWT)) // answers with another account's JWT
		case strings.HasPrefix(r.URL.Path, "/junk/"):
			_, _ = w.Write([]byte("<html>not a jwt</html>"))
		case strings.HasPrefix(r.URL.Path, "/bad/"):
			http.Error(w, `{"error":"nope"}`, http.StatusForbidden)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(ts.Close)
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()

	tests := []struct {
		name, url string
		want      error
		text      string
	}{
		{"not found", ts.URL + "/nf/", store.ErrNotFound, "account not found"},
		{"5xx", ts.URL + "/down/", store.ErrUnavailable, "502"},
		{"timeout", ts.URL + "/slow/?timeout=50ms", store.ErrUnavailable, "unavailable"},
		{"connection refused", deadURL + "/jwt/v1/accounts/", store.ErrUnavailable, "unavailable"},
		{"wrong account answered", ts.URL + "/swap/", nil, "answered with the jwt of account " + other.Pub},
		{"not a jwt", ts.URL + "/junk/", nil, "not an account jwt"},
		{"403", ts.URL + "/bad/", nil, "403 Forbidden: nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t, tt.url, store.Options{})
			_, err := s.Get(t.Context(), acc.Pub)
			if err == nil {
				t.Fatal("get succeeded")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if tt.want == nil && (errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrUnavailable)) {
				t.Fatalf("err = %v: a wrong answer is neither not-found nor unavailable", err)
			}
			if !strings.Contains(err.Error(), tt.text) {
				t.Fatalf("err = %q, want it to mention %q", err, tt.text)
			}
		})
	}
}

func TestOpenRefusesBadURLs(t *testing.T) {
	for _, u := range []string{
		"http:///jwt/v1/accounts/",
		"http://h/jwt/v1/accounts/?timeout=soon",
		"http://h/jwt/v1/accounts/?timeout=-1s",
		"http://h/jwt/v1/accounts/?cache=many",
		"https://h/jwt/v1/accounts/?ca=/nonexistent/ca.pem",
	} {
		if s, err := store.Open(t.Context(), u, store.Options{}); err == nil {
			_ = s.Close()
			t.Errorf("open %s succeeded", u)
		}
	}
	notPEM := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := store.Open(t.Context(), "https://h/jwt/v1/accounts/?ca="+notPEM, store.Options{})
	if err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Fatalf("open with a non-PEM ca: %v", err)
	}
}

func TestHTTPSWithCAFile(t *testing.T) {
	op := testkit.NewOperator(t)
	acc := op.NewAccount(t, "A", nil)
	mb := mem.New()
	t.Cleanup(func() { _ = mb.Close() })
	w := store.Wrap(nopClose{mb}, store.Options{Policy: op.Policy()})
	if _, err := w.Put(t.Context(), acc.Pub, acc.JWT); err != nil {
		t.Fatal(err)
	}
	as := accountserver.New(w, accountserver.Options{})
	ts := httptest.NewTLSServer(as)
	t.Cleanup(func() { _ = as.Close(); ts.Close() })

	// Without the CA the server's certificate is not trusted.
	s := open(t, ts.URL+"/jwt/v1/accounts/", store.Options{})
	if _, err := s.Get(t.Context(), acc.Pub); err == nil || !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("get without ca: %v", err)
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw})
	if err := os.WriteFile(ca, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	s = open(t, ts.URL+"/jwt/v1/accounts/?ca="+ca, store.Options{})
	rec, err := s.Get(t.Context(), acc.Pub)
	if err != nil || rec.JWT != acc.JWT {
		t.Fatalf("get with ca: %v", err)
	}
	keys, err := s.List(t.Context())
	if err != nil || len(keys) != 1 || keys[0] != acc.Pub {
		t.Fatalf("list = %v, %v", keys, err)
	}
}

func TestShortAliasBase(t *testing.T) {
	op := testkit.NewOperator(t)
	acc := op.NewAccount(t, "A", nil)
	b := newBackend(t, nil)
	w := b.writer(store.Options{Policy: op.Policy()})
	s := open(t, b.ts.URL+"/accounts", store.Options{}) // no trailing slash, short alias
	ch, err := s.(store.Watcher).Watch(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Put(t.Context(), acc.Pub, acc.JWT); err != nil {
		t.Fatal(err)
	}
	ev := next(t, ch)
	if ev.Kind != store.EventPut || ev.Account != acc.Pub || ev.JWT != acc.JWT {
		t.Fatalf("event = %+v", ev)
	}
	if rec, err := s.Get(t.Context(), acc.Pub); err != nil || rec.JWT != acc.JWT {
		t.Fatalf("get: %v", err)
	}
}

func next(t *testing.T, ch <-chan store.Event) store.Event {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("watch channel closed")
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no watch event within 10s")
	}
	return store.Event{}
}

func TestWatchReconnectsWithReset(t *testing.T) {
	op := testkit.NewOperator(t)
	b := newBackend(t, nil)
	w := b.writer(store.Options{Policy: op.Policy()})
	s := open(t, b.url(), store.Options{})
	ch, err := s.(store.Watcher).Watch(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// Break the stream: the store reconnects and reports that changes may
	// have been missed.
	b.ts.CloseClientConnections()
	if ev := next(t, ch); ev.Kind != store.EventReset {
		t.Fatalf("event after reconnect = %+v, want reset", ev)
	}
	acc := op.NewAccount(t, "A", nil)
	if _, err := w.Put(t.Context(), acc.Pub, acc.JWT); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, ch); ev.Kind != store.EventPut || ev.Account != acc.Pub {
		t.Fatalf("event = %+v, want put %s", ev, acc.Pub)
	}
}

func TestWatchStartsWhenServerComesUp(t *testing.T) {
	op := testkit.NewOperator(t)
	var mu sync.Mutex
	down := true
	gate := newBackend(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			mu.Lock()
			d := down
			mu.Unlock()
			if d {
				http.Error(rw, "starting", http.StatusServiceUnavailable)
				return
			}
			h.ServeHTTP(rw, r)
		})
	})
	w := gate.writer(store.Options{Policy: op.Policy()})
	s := open(t, gate.url(), store.Options{})
	ch, err := s.(store.Watcher).Watch(t.Context())
	if err != nil {
		t.Fatalf("watch while the server is down: %v", err)
	}
	mu.Lock()
	down = false
	mu.Unlock()
	if ev := next(t, ch); ev.Kind != store.EventReset {
		t.Fatalf("first event = %+v, want reset", ev)
	}
	acc := op.NewAccount(t, "A", nil)
	if _, err := w.Put(t.Context(), acc.Pub, acc.JWT); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, ch); ev.Kind != store.EventPut || ev.Account != acc.Pub {
		t.Fatalf("event = %+v, want put %s", ev, acc.Pub)
	}
}

// A nats-account-server has neither the watch stream nor listing.
func TestStockAccountServerExtensionsMissing(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/jwt/v1/accounts/" {
			w.WriteHeader(http.StatusOK) // the probe answer, empty
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(ts.Close)
	s := open(t, ts.URL+"/jwt/v1/accounts/", store.Options{})
	if _, err := s.(store.Watcher).Watch(t.Context()); !errors.Is(err, store.ErrWatchUnsupported) {
		t.Fatalf("watch: err = %v, want ErrWatchUnsupported", err)
	}
	if _, err := s.List(t.Context()); err == nil || !strings.Contains(err.Error(), "cannot list") {
		t.Fatalf("list: %v", err)
	}
}

func TestOpenDirect(t *testing.T) {
	b := newBackend(t, nil)
	u := b.url()
	cfg, err := httpstore.ParseURL(mustParse(t, u))
	if err != nil {
		t.Fatal(err)
	}
	s, err := httpstore.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.URL() != u {
		t.Fatalf("URL() = %s, want %s", s.URL(), u)
	}
}

func mustParse(t testing.TB, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
