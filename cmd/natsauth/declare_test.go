package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/natsauth/natsauth/declare"
	"github.com/natsauth/natsauth/internal/testkit"
)

// export, plan and apply through the CLI: exit status 0 when nothing would
// change, 2 when something would, 1 on an error (a bad file refused with
// its line and column, the home untouched).
func TestPlanApplyExitCodes(t *testing.T) {
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	run := func(args ...string) (string, error) {
		t.Helper()
		out, _, err := runCLI(t, append(args, "--home", home, "--store", "sqlite://"+filepath.Join(dir, "accounts.db"))...)
		return out, err
	}
	code := func(err error) int {
		var ec exitCoder
		switch {
		case err == nil:
			return 0
		case errors.As(err, &ec):
			return ec.ExitCode()
		}
		return 1
	}
	if _, err := run("init", "--name", "Op"); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "authority.yaml")
	text := "version: 1\naccounts:\n  Orders:\n    limits:\n      max-payload: ${PAYLOAD:-1MB}\n    users:\n      alice:\n        allow-pub: [orders.>]\n"
	if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := run("plan", "-f", file)
	if code(err) != 2 || !strings.Contains(out, "+ create account Orders ("+file+":3:3)") || !strings.Contains(out, "2 to create") {
		t.Fatalf("plan on an empty home: exit %d (%v)\n%s", code(err), err, out)
	}
	credsDir := filepath.Join(dir, "creds")
	if out, err = run("apply", "-f", file, "--creds-dir", credsDir); err != nil {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	if !strings.Contains(out, "wrote creds "+filepath.Join(credsDir, "Orders", "alice.creds")) || !strings.Contains(out, "published account Orders") {
		t.Fatalf("apply said:\n%s", out)
	}
	if out, err = run("plan", "-f", file); code(err) != 0 || !strings.Contains(out, "no changes") {
		t.Fatalf("plan after apply: exit %d (%v)\n%s", code(err), err, out)
	}
	out, err = run("plan", "-f", file, "--set", "PAYLOAD=2MB", "--json")
	var p declare.Plan
	if code(err) != 2 || json.Unmarshal([]byte(out), &p) != nil || len(p.Changes) != 1 || p.Changes[0].Fields[0].Path != "nats.limits.payload" {
		t.Fatalf("plan --set --json: exit %d (%v)\n%s", code(err), err, out)
	}
	// A bad file: exit 1, line and column, nothing written.
	before := testkit.TreeHash(t, home) + testkit.TreeHash(t, filepath.Join(dir, "accounts.db"))
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("version: 1\naccounts:\n  Orders:\n    limits:\n      max-paylod: 1MB\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, verb := range []string{"plan", "apply"} {
		_, err = run(verb, "-f", bad, "--prune")
		if code(err) != 1 || !strings.Contains(err.Error(), bad+`:5:7: unknown field "max-paylod"`) {
			t.Fatalf("%s of a bad file: exit %d: %v", verb, code(err), err)
		}
	}
	if after := testkit.TreeHash(t, home) + testkit.TreeHash(t, filepath.Join(dir, "accounts.db")); after != before {
		t.Fatal("a bad file changed the home or the store")
	}
	// Export writes what apply reads back: no changes, no seed.
	exported := filepath.Join(dir, "exported.yaml")
	if _, err := run("export", "-o", exported); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(exported)
	if seedShape.Match(raw) {
		t.Fatalf("the export holds something shaped like a seed:\n%s", raw)
	}
	if out, err = run("plan", "-f", exported); code(err) != 0 {
		t.Fatalf("plan of the export: exit %d (%v)\n%s", code(err), err, out)
	}
}

// natsauth schema prints the published schema.
func TestSchemaCommand(t *testing.T) {
	out, _, err := runCLI(t, "schema")
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(out), &v); err != nil || v["$id"] != declare.SchemaID {
		t.Fatalf("schema output: %v\n%.200s", err, out)
	}
}

// seedShape matches an nkeys seed (58 characters, S and a key kind).
var seedShape = regexp.MustCompile(`S[AOU][A-Z2-7]{56}`)
