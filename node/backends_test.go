package node

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/natsauth/natsauth/accountserver"
	"github.com/natsauth/natsauth/store"
	_ "github.com/natsauth/natsauth/store/backends"
)

// `resolver: MEMORY` with resolver_preload maps to a mem:// store that
// nats-server itself fills with the preloads (through our resolver's
// validated Store), so a preloaded account authenticates.
func TestNodeMemoryResolverPreload(t *testing.T) {
	f := newFixture(t)
	extra := f.op.NewAccount(t, "Preloaded", nil)
	conf := fmt.Sprintf("host: 127.0.0.1\nport: -1\nresolver: MEMORY\nresolver_preload: {\n  %s: %q\n  %s: %q\n}\n",
		f.op.System.Pub, f.op.System.JWT, extra.Pub, extra.JWT)
	confPath := filepath.Join(t.TempDir(), "mem.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := f.config(t)
	cfg.Flags, cfg.ConfigFile, cfg.StoreURL = ServerFlags{}, confPath, ""
	n := startNode(t, cfg)
	if got, want := n.StoreURL(), "mem://"; got != want {
		t.Fatalf("store = %q, want %q", got, want)
	}
	connect(t, n.ClientURL(), extra.NewUser(t, "p", nil))
	if _, err := n.Store().Get(context.Background(), extra.Pub); err != nil {
		t.Fatalf("preloaded account not in the mem store: %v", err)
	}
}

// `resolver: URL(...)` maps to the read-only HTTP store: the node reads
// accounts from a natsauth account server.
func TestNodeURLResolverThroughAccountServer(t *testing.T) {
	f := newFixture(t)
	backing, err := store.Open(context.Background(), "mem://", store.Options{Policy: f.op.Policy()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { backing.Close() })
	for _, a := range [][2]string{{f.op.System.Pub, f.op.System.JWT}, {f.acc.Pub, f.acc.JWT}} {
		if _, err := backing.Put(context.Background(), a[0], a[1]); err != nil {
			t.Fatal(err)
		}
	}
	as := accountserver.New(backing, accountserver.Options{OperatorJWT: f.op.JWT, Policy: f.op.Policy()})
	hs := httptest.NewServer(as)
	t.Cleanup(hs.Close)
	confPath := filepath.Join(t.TempDir(), "url.conf")
	conf := fmt.Sprintf("host: 127.0.0.1\nport: -1\nresolver: URL(%s/jwt/v1/accounts/)\n", hs.URL)
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := f.config(t)
	cfg.Flags, cfg.ConfigFile, cfg.StoreURL = ServerFlags{}, confPath, ""
	n := startNode(t, cfg)
	if got, want := n.StoreURL(), hs.URL+"/jwt/v1/accounts/"; got != want {
		t.Fatalf("store = %q, want %q", got, want)
	}
	connect(t, n.ClientURL(), f.user)
}

// --store wins over the file's resolver.
func TestNodeStoreFlagOverridesFileResolver(t *testing.T) {
	f := newFixture(t)
	confPath := filepath.Join(t.TempDir(), "n.conf")
	if err := os.WriteFile(confPath, []byte("host: 127.0.0.1\nport: -1\nresolver: MEMORY\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := f.config(t)
	cfg.Flags, cfg.ConfigFile = ServerFlags{}, confPath
	cfg.StoreURL = "sqlite://" + filepath.Join(t.TempDir(), "a.db")
	n := startNode(t, cfg)
	if got := n.StoreURL(); got != cfg.StoreURL {
		t.Fatalf("store = %q, want %q", got, cfg.StoreURL)
	}
	connect(t, n.ClientURL(), f.user)
}
