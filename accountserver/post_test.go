package accountserver_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"

	"github.com/natsauth/natsauth/accountserver"
	"github.com/natsauth/natsauth/internal/testkit"
	"github.com/natsauth/natsauth/store"
	"github.com/natsauth/natsauth/store/mem"
)

func TestPost(t *testing.T) {
	type fixture struct {
		t       testing.TB
		e       *env
		a       *testkit.Account // stored before the request
		b       *testkit.Account // not stored
		aStored string           // a's stored JWT
	}
	big := strings.Repeat("x", 2<<20) // 2 MiB
	tests := []struct {
		name    string
		req     func(f *fixture) request
		status  int
		contain string // in the answer's change (200) or error (else)
		// after is the JWT each account must then hold ("" absent);
		// nil means unchanged.
		after func(f *fixture) map[string]string
	}{
		{"create (nsc push)", func(f *fixture) request {
			// nsc push POSTs the raw JWT with Content-Type application/text.
			return request{method: "POST", path: "/jwt/v1/accounts/" + f.b.Pub,
				header: map[string]string{"Content-Type": "application/text"}, body: strings.NewReader(f.b.JWT)}
		}, 200, "created", func(f *fixture) map[string]string { return map[string]string{f.b.Pub: f.b.JWT} }},
		{"create via short alias, trailing newline", func(f *fixture) request {
			return request{method: "POST", path: "/accounts/" + f.b.Pub, body: strings.NewReader(f.b.JWT + "\n")}
		}, 200, "created", func(f *fixture) map[string]string { return map[string]string{f.b.Pub: f.b.JWT} }},
		{"decorated jwt file", func(f *fixture) request {
			d, err := jwt.DecorateJWT(f.b.JWT)
			if err != nil {
				panic(err)
			}
			return request{method: "POST", path: "/jwt/v1/accounts/" + f.b.Pub, body: bytes.NewReader(d)}
		}, 200, "created", func(f *fixture) map[string]string { return map[string]string{f.b.Pub: f.b.JWT} }},
		{"same again", func(f *fixture) request {
			return request{method: "POST", path: "/jwt/v1/accounts/" + f.a.Pub, body: strings.NewReader(f.aStored)}
		}, 200, "unchanged", nil},
		{"newer", func(f *fixture) request {
			return request{method: "POST", path: "/jwt/v1/accounts/" + f.a.Pub, body: strings.NewReader(f.a.Reissue(f.t, time.Now().Unix()+5, nil))}
		}, 200, "updated", func(f *fixture) map[string]string { return map[string]string{f.a.Pub: f.a.JWT} }},
		{"stale", func(f *fixture) request {
			return request{method: "POST", path: "/jwt/v1/accounts/" + f.a.Pub,
				body: strings.NewReader(f.a.Reissue(f.t, 1000, func(ac *jwt.AccountClaims) { ac.Limits.Conn = 1 }))}
		}, 409, "older than the stored one", nil},
		{"garbage", func(f *fixture) request {
			return request{method: "POST", path: "/jwt/v1/accounts/" + f.b.Pub, body: strings.NewReader("hello world")}
		}, 400, "does not decode", nil},
		{"empty body", func(f *fixture) request {
			return request{method: "POST", path: "/jwt/v1/accounts/" + f.b.Pub, body: strings.NewReader("  \n")}
		}, 400, "body is empty", nil},
		{"user jwt", func(f *fixture) request {
			u := f.a.NewUser(f.t, "u", nil)
			return request{method: "POST", path: "/jwt/v1/accounts/" + f.b.Pub, body: strings.NewReader(u.JWT)}
		}, 400, "does not decode as account claims", nil},
		{"path key differs from subject", func(f *fixture) request {
			return request{method: "POST", path: "/jwt/v1/accounts/" + f.b.Pub, body: strings.NewReader(f.a.JWT)}
		}, 400, "does not match key", nil},
		{"self-signed", func(f *fixture) request {
			return request{method: "POST", path: "/jwt/v1/accounts/" + f.b.Pub, body: strings.NewReader(f.b.SignWith(f.t, f.b.KP))}
		}, 400, "self-signed", nil},
		{"foreign operator", func(f *fixture) request {
			foreign := testkit.NewOperator(f.t)
			fa := foreign.NewAccount(f.t, "F", nil)
			return request{method: "POST", path: "/jwt/v1/accounts/" + fa.Pub, body: strings.NewReader(fa.JWT)}
		}, 400, "is not the trusted operator or one of its signing keys", nil},
		{"wrong signer (random operator key)", func(f *fixture) request {
			kp, _ := nkeys.CreateOperator()
			return request{method: "POST", path: "/jwt/v1/accounts/" + f.b.Pub, body: strings.NewReader(f.b.SignWith(f.t, kp))}
		}, 400, "is not the trusted operator", nil},
		{"signed by another account", func(f *fixture) request {
			return request{method: "POST", path: "/jwt/v1/accounts/" + f.b.Pub, body: strings.NewReader(f.b.SignWith(f.t, f.a.KP))}
		}, 400, "not the trusted operator", nil},
		{"expired", func(f *fixture) request {
			tok := f.b.Reissue(f.t, 0, func(ac *jwt.AccountClaims) { ac.Expires = time.Now().Add(-time.Hour).Unix() })
			return request{method: "POST", path: "/jwt/v1/accounts/" + f.b.Pub, body: strings.NewReader(tok)}
		}, 400, "expired", nil},
		{"not a key", func(f *fixture) request {
			return request{method: "POST", path: "/jwt/v1/accounts/nope", body: strings.NewReader(f.b.JWT)}
		}, 400, "not an account public key", nil},
		{"traversal", func(f *fixture) request {
			return request{method: "POST", path: "/jwt/v1/accounts/..%2f..%2fetc%2fpasswd", body: strings.NewReader(f.b.JWT)}
		}, 400, "not an account public key", nil},
		{"sql metacharacters", func(f *fixture) request {
			return request{method: "POST", path: "/jwt/v1/accounts/A%27%3B%20DELETE%20FROM%20account_jwts%3B--", body: strings.NewReader(f.b.JWT)}
		}, 400, "not an account public key", nil},
		{"creds file (seed) refused, not echoed", func(f *fixture) request {
			u := f.a.NewUser(f.t, "u", nil)
			return request{method: "POST", path: "/jwt/v1/accounts/" + f.b.Pub, body: bytes.NewReader(append([]byte(f.b.JWT+"\n"), u.Creds...))}
		}, 400, "contains an nkey seed", nil},
		{"2 MiB with Content-Length", func(f *fixture) request {
			return request{method: "POST", path: "/jwt/v1/accounts/" + f.b.Pub, body: strings.NewReader(big)}
		}, 413, "over the 1048576 byte limit", nil},
		{"2 MiB chunked", func(f *fixture) request {
			return request{method: "POST", path: "/jwt/v1/accounts/" + f.b.Pub, body: strings.NewReader(big), chunked: true}
		}, 413, "over the 1048576 byte limit", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			f := &fixture{t: t, e: e, a: e.op.NewAccount(t, "A", nil), b: e.op.NewAccount(t, "B", nil)}
			f.aStored = f.a.JWT
			e.put(t, f.a, f.a.JWT)
			req := tt.req(f)
			got := e.do(t, req)
			if got.status != tt.status {
				t.Fatalf("status = %d, want %d; body %q", got.status, tt.status, got.body)
			}
			if got.status == 200 {
				var res struct {
					Account, Change, JTI, Message string
				}
				if err := json.Unmarshal([]byte(got.body), &res); err != nil {
					t.Fatalf("answer %q: %v", got.body, err)
				}
				if res.Change != tt.contain || res.Account == "" || res.JTI == "" || res.Message == "" {
					t.Fatalf("answer = %+v, want change %s", res, tt.contain)
				}
			} else if msg := errorOf(t, got); !strings.Contains(msg, tt.contain) {
				t.Fatalf("error %q does not contain %q", msg, tt.contain)
			}
			if strings.Contains(got.body, "SU") && strings.Contains(got.body, "NKEY SEED") {
				t.Fatalf("answer echoes a seed: %q", got.body)
			}
			want := map[string]string{f.a.Pub: f.aStored, f.b.Pub: ""}
			if tt.after != nil {
				for k, v := range tt.after(f) {
					want[k] = v
				}
			}
			for k, v := range want {
				if got := e.stored(t, k); got != v {
					t.Errorf("after the request %s holds %.40q, want %.40q", k, got, v)
				}
			}
			keys, _ := e.st.List(t.Context())
			if n := len(keys); n > 2 {
				t.Errorf("store holds %d accounts: %v", n, keys)
			}
		})
	}
}

// countingReader counts what the server reads of a body.
type countingReader struct {
	n   int64
	max int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	if c.n >= c.max {
		return 0, io.EOF
	}
	n := int64(len(p))
	if n > c.max-c.n {
		n = c.max - c.n
	}
	for i := range p[:n] {
		p[i] = 'x'
	}
	c.n += n
	return int(n), nil
}

// The server never reads more than the limit (plus the one byte that
// tells the body is too big), whatever the client sends.
func TestPostReadsAtMostTheLimit(t *testing.T) {
	op := testkit.NewOperator(t)
	acc := op.NewAccount(t, "A", nil)
	st := store.Wrap(mem.New(), store.Options{Policy: op.Policy()})
	const limit = 4096
	as := accountserver.New(st, accountserver.Options{MaxBodyBytes: limit})
	body := &countingReader{max: 2 << 20}
	req := httptest.NewRequest(http.MethodPost, "/jwt/v1/accounts/"+acc.Pub, body)
	req.ContentLength = -1 // unknown: the server has to stop reading itself
	rec := httptest.NewRecorder()
	as.ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("status = %d, want 413", rec.Code)
	}
	if body.n > limit+1 {
		t.Fatalf("server read %d bytes of the body, limit %d", body.n, limit)
	}
}
