package claims_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/natsauth/natsauth/accountserver"
	"github.com/natsauth/natsauth/claims"
	"github.com/natsauth/natsauth/internal/testkit"
	"github.com/natsauth/natsauth/store"
	"github.com/natsauth/natsauth/store/mem"
)

func TestAccountServerURLForms(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"http://h:9090", "http://h:9090/jwt/v1"},
		{"http://h:9090/", "http://h:9090/jwt/v1"},
		{"http://h:9090/jwt/v1", "http://h:9090/jwt/v1"},
		{"http://h:9090/jwt/v1/", "http://h:9090/jwt/v1"},
		{"http://h:9090/jwt/v1/accounts/", "http://h:9090/jwt/v1"},
		{"https://h/prefix/jwt/v1/accounts", "https://h/prefix/jwt/v1"},
		{"http://u:secret@h:9090", "http://u@h:9090/jwt/v1"},
	} {
		a, err := claims.NewAccountServer(tc.in, nil)
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if a.URL() != tc.want {
			t.Errorf("%s: URL %s, want %s", tc.in, a.URL(), tc.want)
		}
	}
	for _, bad := range []string{"nats://h:4222", "h:9090", "http://", "http://h/?x=1", "::"} {
		if _, err := claims.NewAccountServer(bad, nil); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// The client against natsauth's own account server: post, refusals with
// their reasons, get, not found, list.
func TestAccountServerClient(t *testing.T) {
	ctx := context.Background()
	op := testkit.NewOperator(t)
	acc := op.NewAccount(t, "A", nil)
	st := store.Wrap(mem.New(), store.Options{Policy: op.Policy()})
	t.Cleanup(func() { _ = st.Close() })
	as := accountserver.New(st, accountserver.Options{OperatorJWT: op.JWT, Policy: op.Policy()})
	t.Cleanup(func() { _ = as.Close() })
	hs := httptest.NewServer(as)
	t.Cleanup(hs.Close)
	c, err := claims.NewAccountServer(hs.URL+"/jwt/v1/accounts/", hs.Client())
	if err != nil {
		t.Fatal(err)
	}

	newer := acc.Reissue(t, acc.Claims.IssuedAt+10, nil)
	r, err := c.Post(ctx, acc.Pub, newer)
	if err != nil || !r.OK() || r.Code != 200 || r.Account != acc.Pub {
		t.Fatalf("post = %+v, %v; want OK", r, err)
	}
	older := acc.Reissue(t, acc.Claims.IssuedAt-100, nil)
	r, err = c.Post(ctx, acc.Pub, older)
	if err != nil || r.OK() || r.Code != 409 || !strings.Contains(r.Message, "older") {
		t.Fatalf("post older = %+v, %v; want a 409 refusal saying older", r, err)
	}
	foreign := testkit.NewOperator(t).NewAccount(t, "F", nil)
	r, err = c.Post(ctx, foreign.Pub, foreign.JWT)
	if err != nil || r.OK() || r.Code != 400 || r.Message == "" {
		t.Fatalf("post foreign = %+v, %v; want a 400 refusal with a reason", r, err)
	}

	got, err := c.Get(ctx, acc.Pub)
	if err != nil || got != newer {
		t.Fatalf("get = %.20q, %v; want the newer JWT", got, err)
	}
	if _, err := c.Get(ctx, foreign.Pub); !errors.Is(err, claims.ErrNotFound) {
		t.Fatalf("get unknown = %v, want ErrNotFound", err)
	}
	if _, err := c.Get(ctx, "nope"); err == nil {
		t.Fatal("get of a non-key: no error")
	}
	ids, err := c.List(ctx)
	if err != nil || !slices.Equal(ids, []string{acc.Pub}) {
		t.Fatalf("list = %v, %v", ids, err)
	}
}

// A transport failure is an error, not a reply.
func TestAccountServerUnreachable(t *testing.T) {
	hs := httptest.NewServer(nil)
	url := hs.URL
	hs.Close()
	c, err := claims.NewAccountServer(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	op := testkit.NewOperator(t)
	acc := op.NewAccount(t, "A", nil)
	if _, err := c.Post(context.Background(), acc.Pub, acc.JWT); err == nil {
		t.Fatal("post to a closed server: no error")
	}
}
