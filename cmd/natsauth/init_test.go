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

func TestInitCommand(t *testing.T) {
	c := newCLIHome(t)
	out := c.must("init", "--name", "MyOperator")
	for _, want := range []string{"created operator MyOperator", "operator signing key", "system account        SYS",
		"published account SYS to mem:"} {
		if !strings.Contains(out, want) {
			t.Errorf("init output lacks %q:\n%s", want, out)
		}
	}
	h, err := authority.Open(c.dir)
	if err != nil {
		t.Fatal(err)
	}
	if h.OperatorName() != "MyOperator" {
		t.Errorf("operator %s", h.OperatorName())
	}
	if _, err := os.Stat(filepath.Join(c.dir, "stores", "MyOperator", "MyOperator.jwt")); err != nil {
		t.Errorf("operator JWT: %v", err)
	}

	// init again refuses, whatever the name, and changes nothing.
	before := testkit.TreeHash(t, c.dir)
	for _, args := range [][]string{{"init"}, {"init", "--name", "MyOperator"}, {"init", "-n", "Other"}} {
		_, _, err := c.run(args...)
		if err == nil || !strings.Contains(err.Error(), "already exists") {
			t.Errorf("%v again = %v, want a refusal", args, err)
		}
	}
	if testkit.TreeHash(t, c.dir) != before {
		t.Errorf("refused init changed the home")
	}
}

func TestInitDefaultNameAndEnvHome(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "viaenv")
	t.Setenv("NATSAUTH_HOME", dir)
	t.Setenv("NATSAUTH_STORE", "mem://")
	if _, _, err := runCLI(t, "init"); err != nil {
		t.Fatal(err)
	}
	out, _, err := runCLI(t, "describe", "operator", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var oc jwt.OperatorClaims
	if err := jsonUnmarshal(out, &oc); err != nil {
		t.Fatal(err)
	}
	if oc.Name != defaultOperatorName || oc.SystemAccount == "" {
		t.Errorf("operator %q system %q", oc.Name, oc.SystemAccount)
	}
}
