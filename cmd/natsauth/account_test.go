package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/jwt/v2"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/internal/testkit"
)

// initHome returns an initialized CLI home.
func initHome(t testing.TB) *cliHome {
	t.Helper()
	c := newCLIHome(t)
	c.must("init", "--name", "MyOperator")
	return c
}

func accountClaims(t testing.TB, c *cliHome, name string) *jwt.AccountClaims {
	t.Helper()
	h, err := authority.Open(c.dir)
	if err != nil {
		t.Fatal(err)
	}
	acc, err := h.Account(name)
	if err != nil {
		t.Fatal(err)
	}
	return acc.Claims
}

func TestAddAndEditAccountLimits(t *testing.T) {
	c := initHome(t)
	c.must("add", "account", "-n", "MyAccount")
	out := c.must("edit", "account", "MyAccount", "--max-connections", "1000", "--max-data", "10GB",
		"--max-exports", "10", "--max-imports", "10", "--max-payload", "1MB", "--max-subscriptions", "1000")
	if !strings.Contains(out, "max-payload 1 MB") || !strings.Contains(out, "published account MyAccount") {
		t.Errorf("edit output:\n%s", out)
	}
	l := accountClaims(t, c, "MyAccount").Limits
	if l.Conn != 1000 || l.Data != 10_000_000_000 || l.Exports != 10 || l.Imports != 10 || l.Payload != 1_000_000 || l.Subs != 1000 {
		t.Errorf("limits after walkthrough edit: %+v", l)
	}

	// nsc's spellings, -n instead of the argument, JetStream; other limits stay.
	c.must("edit", "account", "-n", "MyAccount", "--conns", "5", "--leaf-conns", "2", "--payload", "512K",
		"--js-mem-storage", "1GiB", "--js-disk-storage", "10GB", "--js-streams", "10", "--js-consumer", "100")
	l = accountClaims(t, c, "MyAccount").Limits
	if l.Conn != 5 || l.LeafNodeConn != 2 || l.Payload != 512_000 || l.Data != 10_000_000_000 || l.Subs != 1000 {
		t.Errorf("limits after alias edit: %+v", l)
	}
	js := l.JetStreamLimits
	if js.MemoryStorage != 1<<30 || js.DiskStorage != 10_000_000_000 || js.Streams != 10 || js.Consumer != 100 {
		t.Errorf("JetStream limits: %+v", js)
	}
	c.must("edit", "account", "MyAccount", "--max-payload", "-1")
	if l := accountClaims(t, c, "MyAccount").Limits; l.Payload != -1 || l.Conn != 5 || l.JetStreamLimits.Streams != 10 {
		t.Errorf("after unlimited payload: %+v", l)
	}

	// Limits at creation.
	c.must("add", "account", "Other", "--max-subscriptions", "7", "--js-disk-storage", "1GB")
	if l := accountClaims(t, c, "Other").Limits; l.Subs != 7 || !l.IsJSEnabled() || l.Conn != -1 {
		t.Errorf("limits at creation: %+v", l)
	}
}

func TestEditAccountOnlyStreamsNotesJetStreamOff(t *testing.T) {
	c := initHome(t)
	c.must("add", "account", "-n", "A")
	out := c.must("edit", "account", "A", "--js-streams", "3")
	if !strings.Contains(out, "JetStream stays disabled") {
		t.Errorf("no note about JetStream being off:\n%s", out)
	}
}

func TestBadInputLeavesHomeUnchanged(t *testing.T) {
	c := initHome(t)
	c.must("add", "account", "-n", "MyAccount")
	c.must("add", "account", "-n", "Other")
	c.must("add", "user", "-a", "MyAccount", "-n", "alice", "--allow-pub", "orders.>")
	c.must("revocations", "add-user", "-a", "MyAccount", "-n", "alice", "--at", "2001-01-01")
	const a = "MyAccount"
	tests := []struct {
		args []string
		want []string // phrases of the error
	}{
		// subjects
		{[]string{"add", "user", "-a", a, "-n", "x", "--allow-pub", "orders..x"}, []string{`"orders..x"`, "empty token"}},
		{[]string{"add", "user", "-a", a, "-n", "x", "--allow-sub", "a.>.b"}, []string{`"a.>.b"`, "'>'"}},
		{[]string{"add", "user", "-a", a, "-n", "x", "--deny-pub", ""}, []string{"subject is empty"}},
		{[]string{"add", "user", "-a", a, "-n", "x", "--allow-pub", "a,,b"}, []string{"subject is empty"}},
		{[]string{"add", "user", "-a", a, "-n", "x", "--allow-pub", "a b"}, []string{"queue group applies to subscriptions only"}},
		{[]string{"add", "user", "-a", a, "-n", "x", "--allow-pubsub", "ok", "--deny-sub", ">.x", "--allow-pub", "x."},
			[]string{"2 problems", `">.x"`, `"x."`}},
		// durations, times, counts, networks, tags
		{[]string{"add", "user", "-a", a, "-n", "x", "--expiry", "3q"}, []string{"--expiry", "unknown unit"}},
		{[]string{"add", "user", "-a", a, "-n", "x", "--expiry", "2025-02-30"}, []string{"not a valid date"}},
		{[]string{"add", "user", "-a", a, "-n", "x", "--start", "soon"}, []string{"--start"}},
		{[]string{"add", "user", "-a", a, "-n", "x", "--start", "2030-01-01", "--expiry", "2029-01-01"}, []string{"not after start"}},
		{[]string{"add", "user", "-a", a, "-n", "x", "--response-ttl", "5"}, []string{"--response-ttl"}},
		{[]string{"add", "user", "-a", a, "-n", "x", "--response-ttl", "-5s"}, []string{"negative"}},
		{[]string{"add", "user", "-a", a, "-n", "x", "--allow-pub-response=many"}, []string{"--allow-pub-response"}},
		{[]string{"add", "user", "-a", a, "-n", "x", "--allow-pub-response=0"}, []string{"allow-pub-response 0"}},
		{[]string{"add", "user", "-a", a, "-n", "x", "--allow-pub-response", "5"}, []string{"--allow-pub-response=5"}},
		{[]string{"add", "user", "-a", a, "-n", "x", "--source-network", "10.0.0.0/33"}, []string{"source-network"}},
		{[]string{"add", "user", "-a", a, "-n", "x", "--tag", ""}, []string{"tag is empty"}},
		// names and accounts
		{[]string{"add", "user", "-a", a}, []string{"user name is required"}},
		{[]string{"add", "user", "-a", a, "-n", "a/b"}, []string{"cannot contain '/'"}},
		{[]string{"add", "user", "-a", a, "-n", "alice"}, []string{`user "alice" already exists`}},
		{[]string{"add", "user", "-a", "Nope", "-n", "x"}, []string{`account "Nope" not found`, "MyAccount, Other, SYS"}},
		{[]string{"add", "user", "-a", "Nope", "-n", "x", "--allow-pub", "a..b"}, []string{"2 problems", "not found", "empty token"}},
		{[]string{"add", "user", "-n", "x"}, []string{"2 accounts (MyAccount, Other)", "-a ACCOUNT"}},
		{[]string{"add", "user", "-n", "x", "-a", a, "y"}, []string{"given twice"}},
		{[]string{"add", "account", "-n", "MyAccount"}, []string{`account "MyAccount" already exists`}},
		{[]string{"add", "account", "-n", "myaccount"}, []string{"differs only in case"}},
		{[]string{"add", "account"}, []string{"account name is required"}},
		{[]string{"add", "account", "-n", ".hidden"}, []string{"cannot start with '.'"}},
		// limits
		{[]string{"add", "account", "-n", "New", "--max-payload", "1XB"}, []string{"--max-payload", "unknown unit"}},
		{[]string{"add", "account", "-n", "New", "--max-data", "1.5"}, []string{"whole number"}},
		{[]string{"add", "account", "-n", "New", "--conns", "ten", "--max-payload", "-2"}, []string{"2 problems", "--conns", "negative"}},
		{[]string{"add", "account", "-n", "MyAccount", "--max-subscriptions", "x"}, []string{"2 problems", "already exists"}},
		{[]string{"edit", "account", "Nope", "--max-payload", "1MB"}, []string{`account "Nope" not found`}},
		{[]string{"edit", "account", "Nope", "--max-payload", "1QB"}, []string{"2 problems", "not found", "unknown unit"}},
		{[]string{"edit", "account", a}, []string{"nothing to change"}},
		{[]string{"edit", "account", a, "--conns", "5", "--max-connections", "6"}, []string{"disagree"}},
		{[]string{"edit", "account", a, "--js-streams", "99999999999999999999"}, []string{"too large"}},
		{[]string{"edit", "account", "SYS", "--js-disk-storage", "1GB"}, []string{"system account cannot have JetStream"}},
		// users
		{[]string{"edit", "user", "ghost", "-a", a, "--allow-pub", "x"}, []string{`user "ghost" not found`}},
		{[]string{"edit", "user", "alice", "-a", a}, []string{"nothing to change"}},
		{[]string{"edit", "user", "alice", "-a", a, "--rm", "not.there"}, []string{`no permission "not.there"`}},
		{[]string{"edit", "user", "alice", "-a", a, "--allow-sub", "a..b", "--expiry", "x"}, []string{"2 problems"}},
		{[]string{"edit", "user", "alice", "-a", a, "--rm-response-perms"}, []string{"no response permission"}},
		// revocations, creds, delete, describe, init
		{[]string{"revocations", "add-user", "-a", a, "-n", "ghost"}, []string{`user "ghost" not found`}},
		{[]string{"revocations", "add-user", "-a", a}, []string{"give the user with -n"}},
		{[]string{"revocations", "add-user", "-a", a, "-n", "alice", "--at", "yesterday"}, []string{"--at"}},
		{[]string{"revocations", "delete-user", "-a", "Other", "-n", "alice"}, []string{`user "alice" not found`}},
		{[]string{"revocations", "add-user", "-a", a, "-u", "UNOTAKEY"}, []string{"not found"}},
		{[]string{"generate", "creds", "-a", a, "-n", "ghost"}, []string{`user "ghost" not found`}},
		{[]string{"generate", "creds", "-a", a}, []string{"user name is required"}},
		{[]string{"delete", "user", "-a", a, "-n", "ghost"}, []string{`user "ghost" not found`}},
		{[]string{"delete", "account", "Nope"}, []string{`account "Nope" not found`}},
		{[]string{"delete", "account", "SYS"}, []string{"cannot be deleted"}},
		{[]string{"describe", "account", "Nope"}, []string{"not found"}},
		{[]string{"describe", "user", "-a", a, "-n", "ghost"}, []string{"not found"}},
		{[]string{"init"}, []string{"already exists"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			before := testkit.TreeHash(t, c.dir)
			out, _, err := c.run(tt.args...)
			if err == nil {
				t.Fatalf("succeeded, want an error; stdout:\n%s", out)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if after := testkit.TreeHash(t, c.dir); after != before {
				t.Errorf("the home changed")
			}
		})
	}
}

func TestMissingHome(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "absent")
	for _, args := range [][]string{
		{"add", "account", "-n", "A"}, {"edit", "account", "A", "--conns", "1"},
		{"add", "user", "-n", "u", "--allow-pub", "a..b"}, {"edit", "user", "u", "--allow-pub", "x"},
		{"describe", "operator"}, {"describe", "account", "A"}, {"describe", "user", "u"},
		{"list", "accounts"}, {"list", "users"}, {"generate", "creds", "-n", "u"},
		{"revocations", "add-user", "-n", "u"}, {"revocations", "delete-user", "-n", "u"}, {"revocations", "list-users"},
		{"delete", "user", "u"}, {"delete", "account", "A"},
	} {
		_, _, err := runCLI(t, append(args, "--home", dir, "--store", "mem://")...)
		want := "no natsauth home at " + dir + ": run natsauth init"
		if err == nil || err.Error() != want {
			t.Errorf("%v: err = %v, want %q", args, err, want)
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("a command created the missing home: %v", err)
	}
}
