package sysevents_test

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsauth/natsauth/internal/testkit"
	"github.com/natsauth/natsauth/node"
	"github.com/natsauth/natsauth/sysevents"

	_ "github.com/natsauth/natsauth/store/backends"
)

// syncBuffer is a strings.Builder for several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Watch warns about loose creds, says where it follows, prints a client's
// connect, and returns when its context ends.
func TestWatch(t *testing.T) {
	op := testkit.NewOperator(t)
	acc := op.NewAccount(t, "A", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	n, err := node.New(ctx, node.Config{Flags: node.ServerFlags{Host: "127.0.0.1", Port: -1}, OperatorJWT: op.JWT,
		SystemAccountName: "SYS", SystemSigner: op.System.KP, StoreURL: "mem://",
		Seed: map[string]string{op.System.Pub: op.System.JWT, acc.Pub: acc.JWT}})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	creds := op.System.NewUser(t, "sys", nil).CredsFile(t)
	if err := os.Chmod(creds, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := (sysevents.Watch{URL: n.ClientURL(), Creds: creds + ".missing"}).Run(ctx); err == nil {
		t.Error("watched with missing creds")
	}
	var out, status syncBuffer
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- sysevents.Watch{URL: n.ClientURL(), Creds: creds, Out: &out, Status: &status}.Run(wctx)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(status.String(), "following events on ") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := status.String(); !strings.Contains(got, "warning: "+creds+" is readable by other users") {
		t.Errorf("status lacks the loose-creds warning:\n%s", got)
	}
	user := acc.NewUser(t, "alice", nil)
	nc, err := nats.Connect(n.ClientURL(), nats.UserCredentials(user.CredsFile(t)))
	if err != nil {
		t.Fatal(err)
	}
	nc.Close()
	for !strings.Contains(out.String(), "CONNECT") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := out.String(); !strings.Contains(got, "CONNECT") || !strings.Contains(got, user.Pub) {
		t.Errorf("out lacks alice's connect:\n%s", got)
	}
	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}
