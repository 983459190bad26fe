package main

import (
	"strings"
	"testing"

	"github.com/natsauth/natsauth/internal/testkit"
)

// TestInitIfAbsent is what a container runs at every start: the first run
// creates the home, later runs leave it byte-for-byte as it is.
func TestInitIfAbsent(t *testing.T) {
	c := newCLIHome(t)
	out := c.must("init", "--name", "MyOperator", "--if-absent")
	if !strings.Contains(out, "created operator MyOperator") {
		t.Fatalf("first init --if-absent did not create the operator:\n%s", out)
	}
	before := testkit.TreeHash(t, c.dir)
	out = c.must("init", "--name", "Other", "--if-absent")
	if !strings.Contains(out, "already has an operator: nothing to do") {
		t.Errorf("second init --if-absent said %q", out)
	}
	if testkit.TreeHash(t, c.dir) != before {
		t.Error("init --if-absent changed an existing home")
	}
	if _, _, err := c.run("init", "--name", "MyOperator"); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("init without --if-absent on an existing home = %v, want a refusal", err)
	}
}
