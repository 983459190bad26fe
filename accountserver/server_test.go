package accountserver_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"

	"github.com/natsauth/natsauth/accountserver"
	"github.com/natsauth/natsauth/internal/testkit"
	"github.com/natsauth/natsauth/store"
	"github.com/natsauth/natsauth/store/mem"
)

// env is a real account server over a mem store on an httptest server.
type env struct {
	op  *testkit.Operator
	st  store.Store
	as  *accountserver.Server
	ts  *httptest.Server
	now time.Time // the server's clock
}

func newEnv(t testing.TB, mod func(*accountserver.Options)) *env {
	t.Helper()
	op := testkit.NewOperator(t)
	e := &env{op: op, now: time.Now().Add(2 * time.Hour)}
	e.st = store.Wrap(mem.New(), store.Options{Policy: op.Policy()})
	opts := accountserver.Options{
		OperatorJWT: op.JWT,
		Policy:      op.Policy(),
		Now:         func() time.Time { return e.now },
	}
	if mod != nil {
		mod(&opts)
	}
	e.as = accountserver.New(e.st, opts)
	e.ts = httptest.NewServer(e.as)
	t.Cleanup(func() {
		_ = e.as.Close()
		e.ts.Close()
		_ = e.st.Close()
	})
	return e
}

func (e *env) put(t testing.TB, acc *testkit.Account, token string) {
	t.Helper()
	if _, err := e.st.Put(context.Background(), acc.Pub, token); err != nil {
		t.Fatalf("put %s: %v", acc.Claims.Name, err)
	}
}

// stored returns the JWT stored for pub, "" if none.
func (e *env) stored(t testing.TB, pub string) string {
	t.Helper()
	rec, err := e.st.Get(context.Background(), pub)
	if errors.Is(err, store.ErrNotFound) {
		return ""
	}
	if err != nil {
		t.Fatalf("get %s: %v", pub, err)
	}
	return rec.JWT
}

// request is one HTTP exchange of a table case.
type request struct {
	method  string
	path    string // sent verbatim (escapes included)
	header  map[string]string
	body    io.Reader
	chunked bool // no Content-Length
}

type response struct {
	status int
	header http.Header
	body   string
}

func (e *env) do(t testing.TB, r request) response {
	t.Helper()
	method := r.method
	if method == "" {
		method = http.MethodGet
	}
	req, err := http.NewRequest(method, e.ts.URL+r.path, r.body)
	if err != nil {
		t.Fatalf("new request %s: %v", r.path, err)
	}
	if r.chunked {
		req.ContentLength = -1
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, r.path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// errorOf decodes a JSON error answer.
func errorOf(t testing.TB, r response) string {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("error answer has Content-Type %q, want application/json; body %q", ct, r.body)
	}
	var e struct {
		Status int    `json:"status"`
		Error  string `json:"error"`
	}
	if err := json.Unmarshal([]byte(r.body), &e); err != nil {
		t.Fatalf("error answer is not JSON: %q", r.body)
	}
	if e.Status != r.status || e.Error == "" {
		t.Fatalf("error answer = %+v for status %d", e, r.status)
	}
	return e.Error
}

func TestGet(t *testing.T) {
	e := newEnv(t, nil)
	a := e.op.NewAccount(t, "A", nil)
	e.put(t, a, a.JWT)
	// X expires one hour from now (real time, so the store accepts it); the
	// server's clock is two hours ahead, so ?check=true finds it expired.
	x := e.op.NewAccount(t, "X", func(ac *jwt.AccountClaims) { ac.Expires = time.Now().Add(time.Hour).Unix() })
	e.put(t, x, x.JWT)
	unknown := e.op.NewAccount(t, "U", nil)
	seedUser := a.NewUser(t, "u", nil)
	seed, _ := seedUser.KP.Seed()
	etag := `"` + a.Claims.ID + `"`

	type want struct {
		status  int
		header  map[string]string // exact values; "" means absent
		body    string            // exact, unless contains is set
		contain string            // the body (or error) contains this
	}
	jwtHeaders := map[string]string{"Content-Type": "application/jwt", "ETag": etag, "Cache-Control": "no-cache"}
	tests := []struct {
		name string
		req  request
		want want
	}{
		{"resolver probe", request{path: "/jwt/v1/accounts/"}, want{status: 200, body: ""}},
		{"probe without slash", request{path: "/jwt/v1/accounts"}, want{status: 200, body: ""}},
		{"probe short alias", request{path: "/accounts/"}, want{status: 200, body: ""}},
		{"jwt", request{path: "/jwt/v1/accounts/" + a.Pub}, want{status: 200, header: jwtHeaders, body: a.JWT}},
		{"jwt short alias", request{path: "/accounts/" + a.Pub}, want{status: 200, header: jwtHeaders, body: a.JWT}},
		{"head", request{method: "HEAD", path: "/jwt/v1/accounts/" + a.Pub}, want{status: 200, header: jwtHeaders, body: ""}},
		{"if-none-match matches", request{path: "/jwt/v1/accounts/" + a.Pub, header: map[string]string{"If-None-Match": etag}},
			want{status: 304, header: map[string]string{"ETag": etag, "Content-Type": ""}, body: ""}},
		{"if-none-match in a list, weak", request{path: "/jwt/v1/accounts/" + a.Pub, header: map[string]string{"If-None-Match": `"x", W/` + etag}},
			want{status: 304, body: ""}},
		{"if-none-match star", request{path: "/jwt/v1/accounts/" + a.Pub, header: map[string]string{"If-None-Match": "*"}},
			want{status: 304, body: ""}},
		{"if-none-match other", request{path: "/jwt/v1/accounts/" + a.Pub, header: map[string]string{"If-None-Match": `"old"`}},
			want{status: 200, header: jwtHeaders, body: a.JWT}},
		{"text", request{path: "/jwt/v1/accounts/" + a.Pub + "?text=true"},
			want{status: 200, header: map[string]string{"Content-Type": "text/plain; charset=utf-8"}, body: a.JWT}},
		{"check, not expired", request{path: "/jwt/v1/accounts/" + a.Pub + "?check=true"}, want{status: 200, body: a.JWT}},
		{"check, expired", request{path: "/jwt/v1/accounts/" + x.Pub + "?check=true"}, want{status: 404, contain: "expired"}},
		{"expired without check", request{path: "/jwt/v1/accounts/" + x.Pub}, want{status: 200, body: x.JWT}},
		{"unknown", request{path: "/jwt/v1/accounts/" + unknown.Pub}, want{status: 404, contain: "account not found"}},
		{"not a key", request{path: "/jwt/v1/accounts/nope"}, want{status: 400, contain: "not an account public key"}},
		{"user key", request{path: "/jwt/v1/accounts/" + seedUser.Pub}, want{status: 400, contain: "not an account public key"}},
		{"operator key", request{path: "/jwt/v1/accounts/" + e.op.Pub}, want{status: 400, contain: "not an account public key"}},
		{"traversal escaped", request{path: "/jwt/v1/accounts/..%2f..%2fetc%2fpasswd"}, want{status: 400, contain: "not an account public key"}},
		{"traversal dots", request{path: "/jwt/v1/accounts/../../etc/passwd"}, want{status: 400, contain: "not an account public key"}},
		{"traversal short alias", request{path: "/accounts/%2e%2e/%2e%2e/etc/passwd"}, want{status: 400, contain: "not an account public key"}},
		{"traversal below key", request{path: "/jwt/v1/accounts/" + a.Pub + "/../" + a.Pub}, want{status: 400, contain: "not an account public key"}},
		{"sql metacharacters", request{path: "/jwt/v1/accounts/A%27%3B%20DROP%20TABLE%20account_jwts%3B--"}, want{status: 400, contain: "not an account public key"}},
		{"sql or-true", request{path: "/jwt/v1/accounts/%27%20OR%20%271%27%3D%271"}, want{status: 400, contain: "not an account public key"}},
		{"seed in path is not echoed", request{path: "/jwt/v1/accounts/" + string(seed)}, want{status: 400, contain: "redacted seed"}},
		{"operator", request{path: "/jwt/v1/operator"},
			want{status: 200, header: map[string]string{"Content-Type": "application/jwt"}, body: e.op.JWT}},
		{"healthz", request{path: "/healthz"},
			want{status: 200, header: map[string]string{"Content-Type": "application/json"}, contain: `"status": "ok"`}},
		{"healthz reports the trusted operator", request{path: "/healthz"}, want{status: 200, contain: e.op.Pub}},
		{"help", request{path: "/jwt/v1/help"}, want{status: 200, contain: "POST /jwt/v1/accounts/<pubkey>"}},
		{"unknown path", request{path: "/jwt/v2/accounts/" + a.Pub}, want{status: 404, contain: "no such path"}},
		{"delete not allowed", request{method: "DELETE", path: "/jwt/v1/accounts/" + a.Pub},
			want{status: 405, header: map[string]string{"Allow": "GET, HEAD, POST"}, contain: "not allowed"}},
		{"post operator not allowed", request{method: "POST", path: "/jwt/v1/operator", body: strings.NewReader("x")},
			want{status: 405, header: map[string]string{"Allow": "GET, HEAD"}, contain: "not allowed"}},
		{"post probe not allowed", request{method: "POST", path: "/jwt/v1/accounts/", body: strings.NewReader("x")},
			want{status: 405, contain: "not allowed"}},
		{"put healthz not allowed", request{method: "PUT", path: "/healthz"}, want{status: 405, contain: "not allowed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := e.do(t, tt.req)
			if got.status != tt.want.status {
				t.Fatalf("status = %d, want %d; body %q", got.status, tt.want.status, got.body)
			}
			for k, v := range tt.want.header {
				if g := got.header.Get(k); g != v {
					t.Errorf("header %s = %q, want %q", k, g, v)
				}
			}
			body := got.body
			if got.status >= 400 {
				body = errorOf(t, got)
			}
			switch {
			case tt.want.contain != "":
				if !strings.Contains(body, tt.want.contain) {
					t.Errorf("body %q does not contain %q", body, tt.want.contain)
				}
			case body != tt.want.body:
				t.Errorf("body = %.80q, want %.80q", body, tt.want.body)
			}
			if strings.Contains(got.body, string(seed)) || strings.Contains(got.body, string(seed[:20])) {
				t.Errorf("answer echoes a seed: %q", got.body)
			}
		})
	}
}

func TestList(t *testing.T) {
	e := newEnv(t, nil)
	empty := e.do(t, request{path: "/jwt/v1/accounts/?list=true"})
	if empty.status != 200 || strings.TrimSpace(empty.body) != "[]" {
		t.Fatalf("empty list = %d %q", empty.status, empty.body)
	}
	var want []string
	for _, n := range []string{"A", "B", "C"} {
		acc := e.op.NewAccount(t, n, nil)
		e.put(t, acc, acc.JWT)
		want = append(want, acc.Pub)
	}
	got := e.do(t, request{path: "/jwt/v1/accounts/?list=true"})
	var keys []string
	if err := json.Unmarshal([]byte(got.body), &keys); err != nil || got.status != 200 {
		t.Fatalf("list = %d %q: %v", got.status, got.body, err)
	}
	if fmt.Sprint(sorted(keys)) != fmt.Sprint(sorted(want)) {
		t.Fatalf("list = %v, want %v", keys, want)
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestDecode(t *testing.T) {
	e := newEnv(t, nil)
	a := e.op.NewAccount(t, "A", func(ac *jwt.AccountClaims) { ac.Limits.Conn = 7 })
	e.put(t, a, a.JWT)
	got := e.do(t, request{path: "/jwt/v1/accounts/" + a.Pub + "?decode=true"})
	if got.status != 200 || got.header.Get("Content-Type") != "application/json" {
		t.Fatalf("decode = %d %s %q", got.status, got.header.Get("Content-Type"), got.body)
	}
	var d struct {
		Header struct {
			Type string `json:"typ"`
			Alg  string `json:"alg"`
		} `json:"header"`
		Claims struct {
			Subject string `json:"sub"`
			Issuer  string `json:"iss"`
			ID      string `json:"jti"`
			Name    string `json:"name"`
			Nats    struct {
				Type   string `json:"type"`
				Limits struct {
					Conn int64 `json:"conn"`
				} `json:"limits"`
			} `json:"nats"`
		} `json:"claims"`
	}
	if err := json.Unmarshal([]byte(got.body), &d); err != nil {
		t.Fatalf("decode answer: %v\n%s", err, got.body)
	}
	c := d.Claims
	if d.Header.Type != "JWT" || d.Header.Alg != "ed25519-nkey" || c.Subject != a.Pub || c.Issuer != a.Claims.Issuer ||
		c.ID != a.Claims.ID || c.Name != "A" || c.Nats.Type != "account" || c.Nats.Limits.Conn != 7 {
		t.Fatalf("decoded = %+v", d)
	}
}

func TestOperatorNotConfigured(t *testing.T) {
	e := newEnv(t, func(o *accountserver.Options) { o.OperatorJWT = "" })
	got := e.do(t, request{path: "/jwt/v1/operator"})
	if got.status != 404 || !strings.Contains(errorOf(t, got), "no operator jwt") {
		t.Fatalf("operator = %d %q", got.status, got.body)
	}
}

// down is a backend whose database cannot be reached.
type down struct{}

var errDown = fmt.Errorf("dial tcp 127.0.0.1:5432: connection refused: %w", store.ErrUnavailable)

func (down) Get(context.Context, string) (store.Record, error) { return store.Record{}, errDown }
func (down) PutIfNewer(context.Context, store.Record) (store.Change, error) {
	return store.Unchanged, errDown
}
func (down) Delete(context.Context, string) error              { return errDown }
func (down) List(context.Context) ([]string, error)            { return nil, errDown }
func (down) Close() error                                      { return nil }
func (down) Watch(context.Context) (<-chan store.Event, error) { return nil, errDown }

func TestStoreUnavailable(t *testing.T) {
	op := testkit.NewOperator(t)
	a := op.NewAccount(t, "A", nil)
	as := accountserver.New(store.Wrap(down{}, store.Options{Policy: op.Policy()}), accountserver.Options{})
	ts := httptest.NewServer(as)
	t.Cleanup(func() { _ = as.Close(); ts.Close() })
	e := &env{op: op, ts: ts}
	for _, r := range []request{
		{path: "/jwt/v1/accounts/" + a.Pub},
		{path: "/jwt/v1/accounts/?list=true"},
		{method: "POST", path: "/jwt/v1/accounts/" + a.Pub, body: strings.NewReader(a.JWT)},
		{path: "/jwt/v1/watch"},
	} {
		got := e.do(t, r)
		if got.status != 503 {
			t.Fatalf("%s %s = %d %q, want 503", r.method, r.path, got.status, got.body)
		}
		msg := errorOf(t, got)
		if !strings.Contains(msg, "unavailable") || strings.Contains(msg, "5432") {
			t.Fatalf("503 message %q: want a clear reason without backend details", msg)
		}
	}
	got := e.do(t, request{path: "/healthz"})
	if got.status != 503 || !strings.Contains(got.body, `"status": "unavailable"`) {
		t.Fatalf("healthz = %d %q", got.status, got.body)
	}
}

// A closed store answers 503 too, and never 500.
func TestStoreClosed(t *testing.T) {
	e := newEnv(t, nil)
	a := e.op.NewAccount(t, "A", nil)
	_ = e.st.Close()
	if got := e.do(t, request{path: "/jwt/v1/accounts/" + a.Pub}); got.status != 503 {
		t.Fatalf("get on closed store = %d", got.status)
	}
	if got := e.do(t, request{path: "/healthz"}); got.status != 503 {
		t.Fatalf("healthz on closed store = %d", got.status)
	}
}
