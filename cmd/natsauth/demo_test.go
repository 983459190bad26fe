package main

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
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

var runningRe = regexp.MustCompile(`is running on (nats://[0-9.:]+)`)

// startDemo runs `natsauth demo` in-process until the test ends and returns
// the client URL it prints.
func startDemo(t *testing.T, home string) (url string, out *syncBuffer) {
	t.Helper()
	out = &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := newRootCmd(out, &syncBuffer{})
	cmd.SetArgs([]string{"demo", "--home", home, "--store", "sqlite://" + filepath.Join(home, "accounts.db"), "-p", "-1", "-m", "-1"})
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("demo returned %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("demo did not stop within 30s of its context ending")
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if m := runningRe.FindStringSubmatch(out.String()); m != nil {
			return m[1], out
		}
		select {
		case err := <-done:
			t.Fatalf("demo exited early: %v\n%s", err, out.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("demo did not start:\n%s", out.String())
	return "", nil
}

func TestDemoServesTheWalkthrough(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	url, out := startDemo(t, home)
	for _, want := range []string{"account MyAccount", "user alice", "user bob", "user admin", "alice.creds", "nats -s " + url} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out.String())
		}
	}
	creds := func(u string) string {
		return filepath.Join(home, "keys", "creds", "MyOperator", "MyAccount", u+".creds")
	}
	alice, err := nats.Connect(url, nats.UserCredentials(creds("alice")))
	if err != nil {
		t.Fatalf("alice: %v", err)
	}
	defer alice.Close()
	// The responder answers alice's request (the walkthrough's request-reply).
	msg, err := alice.Request("orders.status", []byte("123"), 2*time.Second)
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	if got, want := string(msg.Data), "order 123: shipped"; got != want {
		t.Fatalf("reply = %q, want %q", got, want)
	}
	// bob may not publish inventory.delete.
	errs := make(chan error, 1)
	bob, err := nats.Connect(url, nats.UserCredentials(creds("bob")),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { errs <- err }))
	if err != nil {
		t.Fatalf("bob: %v", err)
	}
	defer bob.Close()
	_ = bob.Publish("inventory.delete", []byte("x"))
	select {
	case err := <-errs:
		if !errors.Is(err, nats.ErrPermissionViolation) && !strings.Contains(err.Error(), "Permissions Violation") {
			t.Fatalf("bob's error = %v, want a permissions violation", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("bob published inventory.delete without a permissions violation")
	}
	// JetStream is on for MyAccount.
	admin, err := nats.Connect(url, nats.UserCredentials(creds("admin")))
	if err != nil {
		t.Fatalf("admin: %v", err)
	}
	defer admin.Close()
	js, err := admin.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.AccountInfo(); err != nil {
		t.Fatalf("JetStream not enabled for MyAccount: %v", err)
	}
}

// A second run reuses what the first made.
func TestDemoIsIdempotent(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	if _, _, err := demoAuthority(home); err != nil {
		t.Fatal(err)
	}
	_, made, err := demoAuthority(home)
	if err != nil {
		t.Fatal(err)
	}
	if len(made) != 0 {
		t.Fatalf("second run made %v, want nothing", made)
	}
}
