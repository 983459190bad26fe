package main

import (
	"errors"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

var runningRe = regexp.MustCompile(`is running on (nats://[0-9.:]+)`)

// startDemo runs `natsauth demo` in-process until the test ends and returns
// the client URL it prints.
func startDemo(t *testing.T, home string) (url string, out *syncBuffer) {
	t.Helper()
	c := startBackground(t, "demo", "--home", home, "--store", "sqlite://"+filepath.Join(home, "accounts.db"), "-p", "-1", "-m", "-1")
	return c.wait(t, c.out, runningRe, time.Minute)[1], c.out
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
