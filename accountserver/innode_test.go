package accountserver_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/natsauth/natsauth/accountserver"
	"github.com/natsauth/natsauth/internal/testkit"
	"github.com/natsauth/natsauth/node"
)

// ListenInNode serves the node's store: an account the node holds is
// there, and pushed activation tokens go to the home's directory.
func TestListenInNode(t *testing.T) {
	op := testkit.NewOperator(t)
	acc := op.NewAccount(t, "A", nil)
	home := t.TempDir()
	cfg := node.Config{
		Flags:             node.ServerFlags{Host: "127.0.0.1", Port: -1},
		OperatorJWT:       op.JWT,
		SystemAccountName: "SYS",
		SystemSigner:      op.System.KP,
		StoreURL:          "mem://",
		Seed:              map[string]string{op.System.Pub: op.System.JWT, acc.Pub: acc.JWT},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	n, err := node.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	l, err := accountserver.ListenInNode(ctx, n.Store(), op.JWT, home, "127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	resp, err := http.Get(l.URL() + acc.Pub)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != acc.JWT {
		t.Errorf("GET account: %s %q, want the node's JWT", resp.Status, body)
	}
	if _, err := os.Stat(filepath.Join(home, "activations")); err != nil {
		t.Errorf("activations directory: %v", err)
	}
	if _, err := accountserver.ListenInNode(ctx, n.Store(), "not a jwt", home, "127.0.0.1:0", nil); err == nil {
		t.Error("listened with a bad operator JWT")
	}
}
