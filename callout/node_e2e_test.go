package callout_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/natsauth/natsauth/internal/oidctest"
)

// nodeDir holds the Node.js client checks and their npm packages
// (scripts/test runs npm ci there).
const nodeDir = "../interop/node"

// TestNodeClientThroughCallout runs the Node.js client (the nats npm
// package) against the gateway: an OIDC token and a password user sign in,
// the templated permissions are enforced, a wrong audience and a wrong
// password are refused.
func TestNodeClientThroughCallout(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node (Node.js) is not installed: scripts/test installs it (apt-get install nodejs npm) and runs npm ci in interop/node")
	}
	if _, err := os.Stat(filepath.Join(nodeDir, "node_modules", "nats", "package.json")); err != nil {
		t.Fatalf("the npm package nats is not installed in interop/node (%v): run `npm ci` there (scripts/test does)", err)
	}
	e := newEnv(t, envOpts{curve: true})
	if err := e.users.Add(context.Background(), "alice", "correct horse", []string{"staff"}); err != nil {
		t.Fatal(err)
	}
	e.service(nil)
	registerOps(e.op)
	e.op.Register(oidctest.Client{ID: "other-app", Secret: "s3cret-other", Subject: "u42", Audience: []string{"billing"},
		Claims: map[string]any{"groups": []any{"ops"}}})

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "callout.mjs")
	cmd.Dir = nodeDir
	cmd.Env = append(os.Environ(),
		"NATS_URL="+e.node.ClientURL(),
		"NATS_TOKEN="+e.op.MustToken(t, "orders-svc", "s3cret-orders"),
		"BAD_TOKEN="+e.op.MustToken(t, "other-app", "s3cret-other"),
		"NATS_USER=alice", "NATS_PASS=correct horse",
		"ALLOWED=orders.u42.node", "DENIED=orders.u7.node",
	)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		t.Fatalf("node callout.mjs exited %d:\n%s\ngateway log:\n%s", exit.ExitCode(), out, e.logs)
	case err != nil:
		t.Fatalf("run node callout.mjs: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
