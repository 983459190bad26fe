package resolver_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"

	"github.com/natsauth/natsauth/internal/pgtest"
	"github.com/natsauth/natsauth/internal/testkit"
	"github.com/natsauth/natsauth/resolver"
	"github.com/natsauth/natsauth/store"
	_ "github.com/natsauth/natsauth/store/backends"
)

// TestEveryBackendEndToEnd authenticates a user through a Resolver over
// each shared backend, and applies live a revocation written by a second,
// independent Store on the same backend (another process, the CLI).
func TestEveryBackendEndToEnd(t *testing.T) {
	for _, tc := range []struct {
		name string
		url  func(t *testing.T) string
	}{
		{"dir", func(t *testing.T) string { return "dir://" + t.TempDir() }},
		{"sqlite", func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "accounts.db") }},
		{"postgres", func(t *testing.T) string { return pgtest.Start(t).NewDatabase(t) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			op := testkit.NewOperator(t)
			url := tc.url(t)
			open := func() store.Store {
				st, err := store.Open(context.Background(), url, store.Options{Policy: op.Policy()})
				if err != nil {
					t.Fatalf("open %s: %v", tc.name, err)
				}
				t.Cleanup(func() { _ = st.Close() })
				return st
			}
			serving, writer := open(), open()
			a := op.NewAccount(t, "A", nil)
			mustPut(t, writer, a)
			n := startNode(t, op, serving, resolver.Options{})
			u := a.NewUser(t, "alice", nil)
			_, closed := n.connect(t, u)

			a.Reissue(t, 0, func(ac *jwt.AccountClaims) { ac.RevokeAt(u.Pub, time.Now().Add(time.Second)) })
			mustPut(t, writer, a)
			waitClosed(t, closed, "user revoked through another store instance")
		})
	}
}
