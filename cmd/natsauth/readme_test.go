package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// TestReadmeSequenceAsPrinted runs the README's walkthrough commands in
// order, as printed (sections 1 to "Changes while serving", with the
// server started where the README starts it), and then its request: alice
// asks orders.status and gets the answer.
func TestReadmeSequenceAsPrinted(t *testing.T) {
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	md := string(raw)
	from, to := strings.Index(md, "## The walkthrough"), strings.Index(md, "## Connect")
	if from < 0 || to < from {
		t.Fatal("README sections not found")
	}
	lines := documentedCommands(md[from:to])
	if len(lines) < 12 {
		t.Fatalf("only %d commands found in the walkthrough", len(lines))
	}
	home := filepath.Join(t.TempDir(), "home")
	var url string
	var ran []string
	for _, line := range lines {
		args, ok := splitShell(line)
		if !ok {
			t.Fatalf("cannot split %q", line)
		}
		if args[0] == "serve" {
			if url == "" { // the first way of serving the README shows
				bg := startBackground(t, "serve", "--home", home, "--js", "-a", "127.0.0.1", "-p", "-1")
				url = bg.wait(t, bg.out, servingRe, time.Minute)[1]
			}
			continue
		}
		out, errOut, err := runCLI(t, append(args, "--home", home)...)
		if err != nil {
			t.Fatalf("natsauth %s (after %v): %v\n%s%s", line, ran, err, out, errOut)
		}
		ran = append(ran, args[0]+" "+args[1])
	}
	if url == "" {
		t.Fatal("the walkthrough starts no server")
	}
	creds := func(u string) string {
		return filepath.Join(home, "keys", "creds", "MyOperator", "MyAccount", u+".creds")
	}
	admin, err := nats.Connect(url, nats.UserCredentials(creds("admin")))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Subscribe("orders.status", func(m *nats.Msg) { _ = m.Respond([]byte("order " + string(m.Data) + ": shipped")) }); err != nil {
		t.Fatal(err)
	}
	if err := admin.Flush(); err != nil {
		t.Fatal(err)
	}
	// nats req --creds=alice.creds orders.status 123
	alice, err := nats.Connect(url, nats.UserCredentials(creds("alice")))
	if err != nil {
		t.Fatal(err)
	}
	defer alice.Close()
	reply, err := alice.Request("orders.status", []byte("123"), 5*time.Second)
	if err != nil {
		t.Fatalf("alice's request as in the README: %v (last error: %v)", err, alice.LastError())
	}
	if got := string(reply.Data); got != "order 123: shipped" {
		t.Fatalf("reply = %q", got)
	}
	// bob was revoked by the README's last command.
	if nc, err := nats.Connect(url, nats.UserCredentials(creds("bob")), nats.NoReconnect()); err == nil {
		nc.Close()
		t.Fatal("bob connected after the README revoked him")
	}
}
