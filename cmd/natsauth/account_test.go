package main

import (
	"strings"
	"testing"

	"github.com/nats-io/jwt/v2"

	"github.com/natsauth/natsauth/authority"
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
