package accountserver_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/natsauth/natsauth/accountserver"
	"github.com/natsauth/natsauth/internal/testkit"
	"github.com/natsauth/natsauth/store"
	"github.com/natsauth/natsauth/store/mem"
)

// FuzzServeHTTP sends arbitrary methods, paths and bodies: the server never
// fails with a 5xx, never panics, and never stores anything it was not
// given as a valid, trusted account JWT (here: nothing).
func FuzzServeHTTP(f *testing.F) {
	op := testkit.NewOperator(f)
	acc := op.NewAccount(f, "A", nil)
	other := op.NewAccount(f, "B", nil)
	seeds := []struct{ method, path, body string }{
		{"GET", "/jwt/v1/accounts/" + acc.Pub, ""},
		{"GET", "/jwt/v1/accounts/" + acc.Pub + "?decode=true&check=true", ""},
		{"POST", "/jwt/v1/accounts/" + other.Pub, acc.JWT},
		{"POST", "/jwt/v1/accounts/" + acc.Pub, acc.JWT[:len(acc.JWT)/2]},
		{"POST", "/accounts/..%2f..%2fetc%2fpasswd", "x"},
		{"GET", "/jwt/v1/accounts/?list=true", ""},
		{"DELETE", "/jwt/v1/operator", ""},
		{"POST", "/jwt/v1/accounts/A'; DROP TABLE x;--", "-----BEGIN NATS ACCOUNT JWT-----\n"},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, s.body)
	}
	f.Fuzz(func(t *testing.T, method, path, body string) {
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		req, err := http.NewRequest(method, "http://x"+path, strings.NewReader(body))
		if err != nil {
			return // not a request a client could send
		}
		st := store.Wrap(mem.New(), store.Options{Policy: op.Policy()})
		defer st.Close()
		if _, err := st.Put(t.Context(), acc.Pub, acc.JWT); err != nil {
			t.Fatal(err)
		}
		as := accountserver.New(st, accountserver.Options{OperatorJWT: op.JWT})
		rec := httptest.NewRecorder()
		as.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %q: status %d: %s", method, path, rec.Code, rec.Body)
		}
		keys, err := st.List(t.Context())
		if err != nil || len(keys) != 1 || keys[0] != acc.Pub {
			t.Fatalf("%s %q changed the store: %v %v", method, path, keys, err)
		}
		if rec, _ := st.Get(t.Context(), acc.Pub); rec.JWT != acc.JWT {
			t.Fatalf("%s %q changed account A", method, path)
		}
	})
}
