// Package goexamples_test runs every Go example against a real natsauth
// node (the walkthrough's authority, served by natsauth's embedded
// nats-server) and checks what it prints.
package goexamples_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsauth/natsauth/examples/walkthrough"
	"github.com/natsauth/natsauth/manage"
)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// TestMain removes the built examples.
func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// example returns the path of an example's binary, building them all once
// (go build, as a user would).
func example(t *testing.T, name string) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "natsauth-examples-")
		if buildErr != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", binDir+string(filepath.Separator), "./...")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./examples/go/...: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, name)
}

// run runs an example to its end and returns its output; it fails the test
// if the exit status is not wantOK.
func run(t *testing.T, srv *walkthrough.Server, user string, wantOK bool, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, example(t, name), args...)
	cmd.Env = append(os.Environ(), "NATS_URL="+srv.URL, "NATS_CREDS="+srv.Creds(user))
	out, err := cmd.CombinedOutput()
	if wantOK && err != nil {
		t.Fatalf("%s %s (as %s): %v\n%s", name, strings.Join(args, " "), user, err, out)
	}
	if !wantOK && err == nil {
		t.Fatalf("%s %s (as %s) succeeded, want a failure:\n%s", name, strings.Join(args, " "), user, out)
	}
	return string(out)
}

// process is an example running in the background.
type process struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan error
}

// start starts a long-running example and waits until it prints a line
// matching ready.
func start(t *testing.T, srv *walkthrough.Server, user, ready, name string, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(example(t, name), args...), done: make(chan error, 1)}
	p.cmd.Env = append(os.Environ(), "NATS_URL="+srv.URL, "NATS_CREDS="+srv.Creds(user))
	pr, pw := io.Pipe()
	p.cmd.Stdout, p.cmd.Stderr = pw, pw
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	readyRe := regexp.MustCompile(ready)
	sawReady := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		once := sync.Once{}
		for sc.Scan() {
			p.mu.Lock()
			p.out.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			if readyRe.MatchString(sc.Text()) {
				once.Do(func() { close(sawReady) })
			}
		}
	}()
	go func() { p.done <- p.cmd.Wait(); pw.Close() }()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
		}
	})
	select {
	case <-sawReady:
		return p
	case err := <-p.done:
		p.done <- err
		t.Fatalf("%s exited before it was ready (%v):\n%s", name, err, p.output())
	case <-time.After(30 * time.Second):
		t.Fatalf("%s not ready after 30s:\n%s", name, p.output())
	}
	return nil
}

func (p *process) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// wait waits for the process to exit (after interrupting it if interrupt)
// and returns its output.
func (p *process) wait(t *testing.T, interrupt bool) string {
	t.Helper()
	if interrupt {
		if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
			t.Fatalf("interrupt: %v", err)
		}
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, p.output())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("did not exit within 30s:\n%s", p.output())
	}
	// The pipe reader may still be copying the last lines.
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if out := p.output(); strings.HasSuffix(out, "\n") || out == "" {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	return p.output()
}

func wantLines(t *testing.T, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

func TestConnect(t *testing.T) {
	srv := walkthrough.Start(t)
	out := run(t, srv, "alice", true, "connect")
	wantLines(t, out, "connected to "+srv.URL, "nats-server 2.")
}

func TestConnectRefusesRevokedUser(t *testing.T) {
	srv := walkthrough.Start(t)
	run(t, srv, "bob", true, "connect")
	// What `natsauth revocations add-user` does: through the core, which
	// returns once the running node has applied the revocation.
	m, err := manage.Open(manage.Config{Home: srv.Dir})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, _, err := m.RevokeUser(context.Background(), walkthrough.Account, "bob", time.Time{}); err != nil {
		t.Fatal(err)
	}
	out := run(t, srv, "bob", false, "connect")
	if !strings.Contains(strings.ToLower(out), "authorization violation") {
		t.Fatalf("revoked bob was refused, but not for his authorization:\n%s", out)
	}
}

func TestPublishAndSubscribeWithWildcards(t *testing.T) {
	srv := walkthrough.Start(t)
	sub := start(t, srv, "alice", `^listening on`, "subscribe", "-count", "2", "orders.alice.>")
	run(t, srv, "alice", true, "publish", "-subject", "orders.bob.1", "not for alice")
	out := run(t, srv, "alice", true, "publish", "-subject", "orders.alice.1", "Order #123")
	wantLines(t, out, "published 1 message(s) to orders.alice.1")
	run(t, srv, "alice", true, "publish", "-subject", "orders.alice.eu.2", "Order #124")
	out = sub.wait(t, false)
	wantLines(t, out, "received on orders.alice.1: Order #123", "received on orders.alice.eu.2: Order #124", "received 2 message(s)")
	if strings.Contains(out, "not for alice") {
		t.Errorf("alice received a message outside orders.alice.>:\n%s", out)
	}
}

func TestSubscribeSingleTokenWildcard(t *testing.T) {
	srv := walkthrough.Start(t)
	sub := start(t, srv, "admin", `^listening on`, "subscribe", "-count", "1", "orders.*.status")
	run(t, srv, "admin", true, "publish", "-subject", "orders.42.extra.status", "too deep for *")
	run(t, srv, "admin", true, "publish", "-subject", "orders.42.status", "shipped")
	out := sub.wait(t, false)
	wantLines(t, out, "received on orders.42.status: shipped")
	if strings.Contains(out, "too deep") {
		t.Errorf("* matched more than one token:\n%s", out)
	}
}

func TestPermissionsEnforced(t *testing.T) {
	srv := walkthrough.Start(t)
	out := run(t, srv, "bob", false, "publish", "-subject", "inventory.delete", "all")
	wantLines(t, out, `Permissions Violation for Publish to "inventory.delete"`)
	out = run(t, srv, "bob", true, "publish", "-subject", "inventory.update", "ok")
	wantLines(t, out, "published 1 message(s) to inventory.update")
	out = run(t, srv, "alice", false, "subscribe", "-count", "1", "orders.>")
	wantLines(t, out, `Permissions Violation for Subscription to "orders.>"`)
}

func TestRequestReply(t *testing.T) {
	srv := walkthrough.Start(t)
	out := run(t, srv, "alice", false, "request", "orders.status", "123")
	wantLines(t, out, "no responders")
	resp := start(t, srv, "responder", `^answering requests on orders.status`, "responder")
	out = run(t, srv, "alice", true, "request", "orders.status", "123")
	wantLines(t, out, "Status: order 123: shipped")
	out = run(t, srv, "alice", true, "request", "-timeout", "5s", "orders.status", "124")
	wantLines(t, out, "Status: order 124: shipped")
	out = resp.wait(t, true)
	wantLines(t, out, "request 1: 123 -> order 123: shipped", "request 2: 124 -> order 124: shipped", "stopped")
}

func TestResponderMayOnlyRespond(t *testing.T) {
	srv := walkthrough.Start(t)
	out := run(t, srv, "responder", false, "publish", "-subject", "orders.status", "spoof")
	wantLines(t, out, "Permissions Violation for Publish")
}

var processedRe = regexp.MustCompile(`worker (\d+) processed (order-\d+)`)

func TestQueueGroupWorkers(t *testing.T) {
	srv := walkthrough.Start(t)
	out := run(t, srv, "admin", true, "queue", "-workers", "3", "-messages", "30")
	wantLines(t, out, `3 workers in queue group "workers" on orders.process`, "30 orders processed, each exactly once")
	seen := map[string]int{}
	for _, m := range processedRe.FindAllStringSubmatch(out, -1) {
		seen[m[2]]++
	}
	if len(seen) != 30 {
		t.Errorf("%d distinct orders processed, want 30:\n%s", len(seen), out)
	}
	for order, n := range seen {
		if n != 1 {
			t.Errorf("%s processed %d times", order, n)
		}
	}
}

func TestQueueGroupAcrossProcesses(t *testing.T) {
	srv := walkthrough.Start(t)
	w1 := start(t, srv, "admin", `workers in queue group`, "queue", "-workers", "1", "-messages", "0")
	w2 := start(t, srv, "admin", `workers in queue group`, "queue", "-workers", "1", "-messages", "0")
	nc := srv.Connect("admin")
	for i := 1; i <= 20; i++ {
		if err := nc.Publish("orders.process", fmt.Appendf(nil, "order-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	count := func() int {
		return len(processedRe.FindAllString(w1.output(), -1)) + len(processedRe.FindAllString(w2.output(), -1))
	}
	deadline := time.Now().Add(20 * time.Second)
	for count() < 20 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	out1, out2 := w1.wait(t, true), w2.wait(t, true)
	seen := map[string]int{}
	for _, out := range []string{out1, out2} {
		for _, m := range processedRe.FindAllStringSubmatch(out, -1) {
			seen[m[2]]++
		}
	}
	if len(seen) != 20 {
		t.Fatalf("%d distinct orders processed, want 20:\n%s\n%s", len(seen), out1, out2)
	}
	for order, n := range seen {
		if n != 1 {
			t.Errorf("%s processed %d times across the two processes", order, n)
		}
	}
}

func TestJetStreamDurableConsumer(t *testing.T) {
	srv := walkthrough.Start(t)
	out := run(t, srv, "admin", true, "jetstream", "-count", "3", "-message", "first")
	wantLines(t, out, "stream ORDERS on orders.new", "stored first #3 as message 3",
		`processed "first #1" (message 1), acked`, `processed "first #3" (message 3), acked`,
		"order-processor acked 3 message(s), none pending")
	// The durable consumer remembers its acks: a second run processes only
	// the new orders.
	out = run(t, srv, "admin", true, "jetstream", "-count", "2", "-message", "second")
	wantLines(t, out, "stored second #1 as message 4", `processed "second #2" (message 5), acked`,
		"order-processor acked 2 message(s), none pending")
	if strings.Contains(out, "first #") {
		t.Errorf("second run re-processed acknowledged orders:\n%s", out)
	}
	// The stream is stored on the server, as the account's JetStream allows.
	nc := srv.Connect("admin")
	js, err := nc.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	info, err := js.StreamInfo("ORDERS")
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 5 || info.Config.Storage != nats.FileStorage {
		t.Errorf("stream ORDERS holds %d messages in %v, want 5 in file storage", info.State.Msgs, info.Config.Storage)
	}
}

func TestJetStreamNeedsPermission(t *testing.T) {
	srv := walkthrough.Start(t)
	// bob may not use the JetStream API ($JS.API.>).
	out := run(t, srv, "bob", false, "jetstream", "-count", "1", "-timeout", "2s")
	wantLines(t, out, "create stream ORDERS", `Permissions Violation for Publish to "$JS.API.STREAM.`)
}
