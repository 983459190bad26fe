package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// A stock nats-server with the URL resolver authenticates through
// `natsauth serve --account-server`: accounts in the node's store, also
// those added after both started, reach the stock server.
func TestStockURLResolverThroughServeAccountServer(t *testing.T) {
	c := interopHome(t)
	c.must("add", "account", "-n", "A")
	c.must("add", "user", "-a", "A", "-n", "alice")
	srv := startInteropServe(t, c, "--account-server", "127.0.0.1:0")
	if srv.accounts == "" {
		t.Fatalf("serve --account-server printed no account server URL:\n%s", srv.out.String())
	}
	stock := startStockServer(t, interopConfig(t, c, "--resolver", "url", "--url", srv.accounts))
	interopMustConnect(t, stock.ClientURL(), c, "A", "alice")

	// The CLI writes B to the store the node serves; both servers take it.
	c.must("add", "account", "-n", "B")
	c.must("add", "user", "-a", "B", "-n", "bob")
	interopMustConnect(t, stock.ClientURL(), c, "B", "bob")
	interopMustConnect(t, srv.url, c, "B", "bob")

	// Pushes to the mounted account server go through the store's checks.
	out := c.must("push", "-a", "A", "--account-server", srv.accounts)
	wantLines(t, out, "push A "+strings.TrimSuffix(srv.accounts, "/accounts/")+": ok (200): account jwt unchanged")
}

// `natsauth serve` answers push, pull and prune like a full resolver, and
// enforces what they change.
func TestPushPullNatsauthServe(t *testing.T) {
	c := interopHome(t)
	serveStore := "sqlite://" + filepath.Join(t.TempDir(), "serve.db")
	srv := startInteropServe(t, c, "--store", serveStore, "--allow-delete", "--account-server", "127.0.0.1:0")

	// The node reads its own store, registered in the home: C is served
	// at once, without a push.
	c.must("add", "account", "-n", "C")
	c.must("add", "user", "-a", "C", "-n", "carol")
	interopMustConnect(t, srv.url, c, "C", "carol")

	out := c.must("push", "-a", "C", "--server", srv.url, "--timeout", "1s")
	wantLines(t, out, "push C "+srv.url+": server ", ": ok: ")

	out = c.must("pull", "-A", "--server", srv.url, "--account-server", srv.accounts, "--timeout", "1s")
	for _, acc := range []string{"SYS", "C"} {
		wantLines(t, out, "pull "+acc+" "+srv.url+": ok: the home is up to date")
	}

	// D comes from a copy of the home, whose copied registry must not
	// count: it reaches the node only by a push, and prune removes it.
	other := copyHome(t, c)
	other.must("add", "account", "-n", "D")
	other.must("add", "user", "-a", "D", "-n", "dave")
	interopMustRefuse(t, srv.url, other, "D", "dave")
	other.must("push", "-a", "D", "--server", srv.url, "--timeout", "1s")
	interopMustConnect(t, srv.url, other, "D", "dave")
	dave := keepCreds(t, other, "D", "dave")
	out = c.must("push", "--prune", "--server", srv.url, "--timeout", "1s")
	wantLines(t, out, "ok: deleted 1 accounts")
	if nc, err := nats.Connect(srv.url, nats.UserCredentials(dave), nats.MaxReconnects(0)); err == nil {
		nc.Close()
		t.Fatal("dave connected after his account was pruned from the node")
	}

	// Deleting C from the home deletes it from the node's store too.
	carol := keepCreds(t, c, "C", "carol")
	c.must("delete", "account", "-n", "C")
	if nc, err := nats.Connect(srv.url, nats.UserCredentials(carol), nats.MaxReconnects(0)); err == nil {
		nc.Close()
		t.Fatal("carol connected after her account was deleted")
	}
}

// nodeInteropDir is where the Node.js client check lives, relative to this
// package.
var nodeInteropDir = filepath.Join("..", "..", "interop", "node")

// The Node.js client (npm package nats) connects to `natsauth serve` with
// creds, publishes, and is refused where its permissions deny it; a
// revoked user is refused at connect.
func TestNodeClientAgainstServe(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node (Node.js) is not installed: the Node.js client interop test needs it. " +
			"scripts/test installs it (apt-get install nodejs npm) and runs npm ci in interop/node")
	}
	if _, err := os.Stat(filepath.Join(nodeInteropDir, "node_modules", "nats", "package.json")); err != nil {
		t.Fatalf("the npm package nats is not installed in interop/node (%v): run `npm ci` there (scripts/test does)", err)
	}

	c := interopHome(t)
	c.must("add", "account", "-n", "App")
	c.must("add", "user", "-a", "App", "-n", "alice", "--allow-pubsub", "orders.>",
		"--deny-pub", "orders.delete", "--deny-sub", "orders.secret.>")
	c.must("add", "user", "-a", "App", "-n", "mallory")
	c.must("revocations", "add-user", "-a", "App", "-n", "mallory")
	srv := startInteropServe(t, c)

	creds := func(u string) string {
		p, err := filepath.Abs(filepath.Join(c.dir, "keys", "creds", "MyOperator", "App", u+".creds"))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "client.mjs")
	cmd.Dir = nodeInteropDir
	cmd.Env = append(os.Environ(),
		"NATS_URL="+srv.url,
		"NATS_CREDS="+creds("alice"),
		"NATS_REFUSED_CREDS="+creds("mallory"),
		"ALLOWED_SUBJECT=orders.created",
		"DENIED_PUB=orders.delete",
		"DENIED_SUB=orders.secret.plans",
	)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		t.Fatalf("node client.mjs exited %d:\n%s", exit.ExitCode(), out)
	case err != nil:
		t.Fatalf("run node client.mjs: %v\n%s", err, out)
	}
	wantLines(t, string(out),
		"ok: connected with creds",
		"ok: published and received on orders.created",
		"ok: publish to orders.delete refused: permissions violation",
		"ok: subscribe to orders.secret.plans refused: permissions violation",
		"ok: the connection still works after the refusals",
		"ok: revoked user refused: authorization violation",
		"node client interop: all checks passed")
}
