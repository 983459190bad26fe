package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

// runCLI runs the natsauth root command in-process with args and returns
// what it wrote to stdout and stderr and the error Execute returned (what
// main turns into "natsauth: <err>" and a non-zero exit).
func runCLI(t testing.TB, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := newRootCmd(&out, &errOut)
	cmd.SetArgs(args)
	err = cmd.Execute()
	return out.String(), errOut.String(), err
}

// cliHome is a home directory for CLI tests, with the store its commands
// publish to.
type cliHome struct {
	t     testing.TB
	dir   string
	store string
}

// newCLIHome returns a fresh, not yet initialized home that publishes to
// an in-memory store (a new, empty one for every command).
func newCLIHome(t testing.TB) *cliHome {
	t.Helper()
	return &cliHome{t: t, dir: filepath.Join(t.TempDir(), "home"), store: "mem://"}
}

// run runs a command against the home and its store.
func (c *cliHome) run(args ...string) (string, string, error) {
	c.t.Helper()
	return runCLI(c.t, append(args, "--home", c.dir, "--store", c.store)...)
}

// must runs a command that has to succeed and returns its stdout.
func (c *cliHome) must(args ...string) string {
	c.t.Helper()
	out, errOut, err := c.run(args...)
	if err != nil {
		c.t.Fatalf("natsauth %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}
