package testkit

import (
	"os/exec"
	"testing"
)

// NatsCLI returns the path of the nats CLI (github.com/nats-io/natscli),
// which scripts/test builds through the Go module proxy when it is
// missing. A test that runs client commands as a user types them fails —
// never skips — without it.
func NatsCLI(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("nats")
	if err != nil {
		t.Fatalf("the nats CLI is not on PATH (scripts/test builds it: go install github.com/nats-io/natscli/nats@v0.5.0): %v", err)
	}
	return p
}
