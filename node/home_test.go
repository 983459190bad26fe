package node_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/node"
	"github.com/natsauth/natsauth/serving"
	"github.com/natsauth/natsauth/store"

	_ "github.com/natsauth/natsauth/store/backends"
)

func startFromHome(t *testing.T, h *authority.Home) *node.Node {
	t.Helper()
	cfg, err := node.FromHome(h)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Flags = node.ServerFlags{Host: "127.0.0.1", Port: -1}
	cfg.StoreURL = "mem://"
	cfg.Logger = slog.New(slog.DiscardHandler)
	n, err := node.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return n
}

// waitAck waits for the node's acknowledgement of a JWT (or Deleted).
func waitAck(t *testing.T, h *authority.Home, pub, fp string) serving.Ack {
	t.Helper()
	servers, err := serving.List(h.Dir())
	if err != nil || len(servers) != 1 {
		t.Fatalf("registered servers = %v, %v", servers, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a, err := serving.WaitAck(ctx, h.Dir(), servers[0], pub, fp)
	if err != nil {
		t.Fatalf("no acknowledgement of %s: %v", fp, err)
	}
	return a
}

// The node applies what another tool writes into the home's files, checked
// like any write: a JWT signed by a key the operator does not trust is
// refused (and acknowledged as refused); an account directory removed from
// the home is deleted from the store.
func TestHomeWatchValidatesAndDeletes(t *testing.T) {
	h, err := authority.Init(filepath.Join(t.TempDir(), "home"), "Op")
	if err != nil {
		t.Fatal(err)
	}
	acc, err := h.AddAccount("A", authority.AccountEdit{})
	if err != nil {
		t.Fatal(err)
	}
	n := startFromHome(t, h)
	ctx := context.Background()

	// A JWT of A signed by a stranger's key, written in place.
	stranger, _ := nkeys.CreateOperator()
	ac, _ := jwt.DecodeAccountClaims(acc.JWT)
	ac.Limits.Conn = 1
	bad, err := ac.Encode(stranger)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(h.AccountJWTPath("A"), []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	if a := waitAck(t, h, acc.Pub, serving.Fingerprint(bad)); !strings.Contains(a.Err, "not trusted") && !strings.Contains(a.Err, "issuer") {
		t.Fatalf("untrusted JWT acknowledged with %q, want a refusal naming the issuer", a.Err)
	}
	if rec, err := n.Store().Get(ctx, acc.Pub); err != nil || rec.JWT != acc.JWT {
		t.Fatalf("the store took the untrusted JWT (or lost A): %v", err)
	}

	// The account's directory removed from the home.
	if err := os.RemoveAll(filepath.Dir(h.AccountJWTPath("A"))); err != nil {
		t.Fatal(err)
	}
	if a := waitAck(t, h, acc.Pub, serving.Deleted); a.Err != "" {
		t.Fatalf("delete acknowledged with %q", a.Err)
	}
	if _, err := n.Store().Get(ctx, acc.Pub); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the store still holds A: %v", err)
	}
}
