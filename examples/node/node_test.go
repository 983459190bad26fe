// Package nodeexamples_test runs the Node.js examples (the npm nats client)
// against a real natsauth node with the walkthrough's users. It needs node
// on PATH and the examples' packages installed (scripts/test runs npm ci);
// without them the tests fail, saying what to do.
package nodeexamples_test

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/natsauth/natsauth/examples/walkthrough"
)

// nodeBin finds node and the installed nats package.
func nodeBin(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node not found on PATH: install Node.js (Debian: apt-get install nodejs npm), then run `npm ci` in examples/node — scripts/test does both")
	}
	if _, err := os.Stat("node_modules/nats/package.json"); err != nil {
		t.Fatalf("the npm nats client is not installed in examples/node: run `npm ci` there (scripts/test does): %v", err)
	}
	return bin
}

// runNode runs one example script with the given env and returns its
// output, failing the test when the exit status is not wantOK.
func runNode(t *testing.T, wantOK bool, env []string, script string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, nodeBin(t), append([]string{script}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if wantOK && err != nil {
		t.Fatalf("node %s: %v\n%s", script, err, out)
	}
	if !wantOK && err == nil {
		t.Fatalf("node %s succeeded, want a failure:\n%s", script, out)
	}
	return string(out)
}

func env(srv *walkthrough.Server, user string) []string {
	return []string{"NATS_URL=" + srv.URL, "NATS_CREDS=" + srv.Creds(user)}
}

func wantLines(t *testing.T, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

func TestNodeConnect(t *testing.T) {
	srv := walkthrough.Start(t)
	out := runNode(t, true, env(srv, "alice"), "connect.mjs")
	wantLines(t, out, "connected to 127.0.0.1:", "nats-server 2.")
}

func TestNodeConnectWithoutCredsRefused(t *testing.T) {
	srv := walkthrough.Start(t)
	out := runNode(t, false, []string{"NATS_URL=" + srv.URL, "NATS_CREDS="}, "connect.mjs")
	wantLines(t, out, "connect.mjs:")
	if !strings.Contains(strings.ToLower(out), "authorization") {
		t.Errorf("a client without creds was not refused for authorization:\n%s", out)
	}
}

func TestNodePubSubWildcards(t *testing.T) {
	srv := walkthrough.Start(t)
	out := runNode(t, true, env(srv, "alice"), "pubsub.mjs")
	wantLines(t, out, "listening on orders.alice.>", "received on orders.alice.1: Order #123",
		"received on orders.alice.eu.2: Order #124", "received 2 message(s)")
	if strings.Contains(out, "not for alice") {
		t.Errorf("alice received a message outside orders.alice.>:\n%s", out)
	}
}

func TestNodePubSubDenied(t *testing.T) {
	srv := walkthrough.Start(t)
	// bob may not subscribe to orders.alice.>.
	out := runNode(t, false, env(srv, "bob"), "pubsub.mjs")
	if !strings.Contains(strings.ToLower(out), "permissions violation") {
		t.Errorf("bob's subscription was not refused:\n%s", out)
	}
}

func TestNodeRequestReply(t *testing.T) {
	srv := walkthrough.Start(t)
	out := runNode(t, true, append(env(srv, "alice"), "RESPONDER_CREDS="+srv.Creds("responder")), "request-reply.mjs")
	wantLines(t, out, "answering requests on orders.status", "Status: order 123: shipped", "Status: order 124: shipped")
}

func TestNodeQueueGroup(t *testing.T) {
	srv := walkthrough.Start(t)
	out := runNode(t, true, env(srv, "admin"), "queue.mjs")
	wantLines(t, out, `3 workers in queue group "workers" on orders.process`, "9 orders processed, each exactly once")
	for i := 1; i <= 9; i++ {
		if n := strings.Count(out, " processed order-"+strconv.Itoa(i)+"\n"); n != 1 {
			t.Errorf("order-%d processed %d times:\n%s", i, n, out)
		}
	}
}

func TestNodeJetStream(t *testing.T) {
	srv := walkthrough.Start(t)
	out := runNode(t, true, env(srv, "admin"), "jetstream.mjs", "3", "first")
	wantLines(t, out, "stream ORDERS on orders.new", "stored first #3 as message 3",
		`processed "first #1" (message 1), acked`, "order-processor acked 3 message(s), none pending")
	out = runNode(t, true, env(srv, "admin"), "jetstream.mjs", "2", "second")
	wantLines(t, out, "stored second #1 as message 4", `processed "second #2" (message 5), acked`,
		"order-processor acked 2 message(s), none pending")
	if strings.Contains(out, "first #") {
		t.Errorf("second run re-processed acknowledged orders:\n%s", out)
	}
}
