package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsauth/natsauth/internal/testkit"
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
	scratch := t.TempDir()
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
		for i := range args { // files the README writes go to a scratch directory, not the package's
			if (args[i] == "-o" || args[i] == "--output-file") && i+1 < len(args) {
				args[i+1] = filepath.Join(scratch, args[i+1])
			}
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
	// The README's nats CLI lines, as printed, from a directory holding
	// the creds files its section 3 writes (and sys.creds).
	for _, u := range []string{"alice", "bob"} {
		copyFile(t, creds(u), filepath.Join(scratch, u+".creds"))
	}
	copyFile(t, filepath.Join(home, "keys", "creds", "MyOperator", "SYS", "sys.creds"), filepath.Join(scratch, "sys.creds"))
	cli := testkit.NatsCLI(t)
	connect := md[strings.Index(md, "## Connect"):]
	connect = connect[:strings.Index(connect, "With Go")]
	var ranReq, ranPub bool
	for _, line := range natsLines(connect) {
		args, ok := splitShell(line)
		if !ok || len(args) == 0 || args[0] == "sub" { // subscriptions run until stopped
			continue
		}
		cmd := exec.Command(cli, args...)
		cmd.Dir = scratch
		cmd.Env = append(os.Environ(), "NATS_URL="+url)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("nats %s: %v\n%s", line, err, out)
		}
		switch args[0] {
		case "req":
			ranReq = true
			if !strings.Contains(string(out), "order 123: shipped") {
				t.Fatalf("nats %s: no reply in\n%s", line, out)
			}
		case "pub":
			ranPub = true
		}
	}
	if !ranReq || !ranPub {
		t.Fatal("the README's Connect section has no nats pub or nats req line")
	}
	// bob was revoked by the README's last command.
	if nc, err := nats.Connect(url, nats.UserCredentials(creds("bob")), nats.NoReconnect()); err == nil {
		nc.Close()
		t.Fatal("bob connected after the README revoked him")
	}
}

var natsCLILine = regexp.MustCompile(`^\s*nats\s+(.+)$`)

// natsLines are the nats CLI command lines of the code blocks of md.
func natsLines(md string) []string {
	var out []string
	inCode := false
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			inCode = !inCode
			continue
		}
		if m := natsCLILine.FindStringSubmatch(line); inCode && m != nil {
			out = append(out, m[1])
		}
	}
	return out
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
