package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/natsauth/natsauth/internal/testkit"
	"github.com/natsauth/natsauth/manage"
	"github.com/natsauth/natsauth/store"
)

// openStore opens url trusting op, closed at the end of the test.
func openStore(t *testing.T, url string, op *testkit.Operator) store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), url, store.Options{Policy: op.Policy()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestStoreCopyValidatesEachAndReportsRefusals(t *testing.T) {
	op := testkit.NewOperator(t)
	stranger := testkit.NewOperator(t)
	tmp := t.TempDir()
	srcDir := filepath.Join(tmp, "src")
	from := "dir://" + srcDir
	to := "sqlite://" + filepath.Join(tmp, "dst", "accounts.db")
	opFile := filepath.Join(tmp, "op.jwt")
	if err := os.WriteFile(opFile, []byte(op.JWT), 0o600); err != nil {
		t.Fatal(err)
	}

	src := openStore(t, from, op)
	var good []string
	for _, n := range []string{"A", "B", "C"} {
		acc := op.NewAccount(t, n, nil)
		if _, err := src.Put(t.Context(), acc.Pub, acc.JWT); err != nil {
			t.Fatal(err)
		}
		good = append(good, acc.Pub)
	}
	// What a directory can hold that must not be copied: an account signed
	// by another operator, and a file that is not a JWT.
	foreign := stranger.NewAccount(t, "F", nil)
	broken := op.NewAccount(t, "X", nil)
	for name, content := range map[string]string{foreign.Pub: foreign.JWT, broken.Pub: "not a jwt"} {
		if err := os.WriteFile(filepath.Join(srcDir, name+".jwt"), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	dst := openStore(t, to, op)

	stdout, stderr, err := runCLI(t, "store", "copy", "--from", from, "--to", to, "--operator", opFile, "--json")
	var rerr refusedError
	if !errors.As(err, &rerr) || rerr.ExitCode() == 0 || rerr.n != 2 {
		t.Fatalf("err = %v, want 2 refused with a non-zero exit", err)
	}
	if strings.Contains(stderr, "copying [") {
		t.Errorf("progress bar drawn on a non-terminal: %q", stderr)
	}
	var sum manage.CopySummary
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
		t.Fatalf("--json output %q: %v", stdout, err)
	}
	if sum.Copied != 3 || sum.Unchanged != 0 || sum.Skipped != 0 || sum.Refused != 2 {
		t.Fatalf("summary = %+v", sum)
	}
	reasons := map[string]string{}
	for _, r := range sum.Refusals {
		reasons[r.Account] = r.Reason
	}
	if !strings.Contains(reasons[foreign.Pub], "not the trusted operator") {
		t.Errorf("foreign account refusal: %q", reasons[foreign.Pub])
	}
	if !strings.Contains(reasons[broken.Pub], "read from source") {
		t.Errorf("broken file refusal: %q", reasons[broken.Pub])
	}
	keys, err := dst.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(good)
	if !slices.Equal(keys, good) {
		t.Fatalf("destination holds %v, want %v", keys, good)
	}
	for _, k := range good {
		a, _ := src.Get(t.Context(), k)
		b, err := dst.Get(t.Context(), k)
		if err != nil || a.JWT != b.JWT {
			t.Fatalf("copy of %s differs: %v", k, err)
		}
	}

	// Again, with the operator given inline and a human summary: nothing new.
	stdout, _, err = runCLI(t, "store", "copy", "--from", from, "--to", to, "--operator", op.JWT)
	if !errors.As(err, &rerr) {
		t.Fatalf("second copy err = %v", err)
	}
	if !strings.Contains(stdout, "copied 0, unchanged 3, skipped 0, refused 2") ||
		!strings.Contains(stdout, "refused "+foreign.Pub+": ") {
		t.Fatalf("second copy output:\n%s", stdout)
	}
}

func TestStoreCopySkipsWhenDestinationIsNewer(t *testing.T) {
	op := testkit.NewOperator(t)
	tmp := t.TempDir()
	from, to := "dir://"+filepath.Join(tmp, "a"), "dir://"+filepath.Join(tmp, "b")
	acc := op.NewAccount(t, "A", nil)
	older := acc.Reissue(t, 1000, nil)
	newer := acc.Reissue(t, 2000, nil)
	if _, err := openStore(t, from, op).Put(t.Context(), acc.Pub, older); err != nil {
		t.Fatal(err)
	}
	dst := openStore(t, to, op)
	if _, err := dst.Put(t.Context(), acc.Pub, newer); err != nil {
		t.Fatal(err)
	}
	stdout, _, err := runCLI(t, "store", "copy", "--from", from, "--to", to, "--operator", op.JWT)
	if err != nil {
		t.Fatalf("copy with only a skip failed: %v", err)
	}
	if !strings.Contains(stdout, "copied 0, unchanged 0, skipped 1, refused 0") || !strings.Contains(stdout, "newer") {
		t.Fatalf("output:\n%s", stdout)
	}
	if rec, _ := dst.Get(t.Context(), acc.Pub); rec.JWT != newer {
		t.Fatal("the newer destination jwt was replaced")
	}
}

func TestStoreCopyDefaultsToTheHomesOperator(t *testing.T) {
	c := newCLIHome(t)
	c.store = "sqlite://" + filepath.Join(t.TempDir(), "src.db")
	c.must("init", "--name", "MyOperator")
	c.must("add", "account", "-n", "A")
	c.must("add", "account", "-n", "B")
	to := "dir://" + filepath.Join(t.TempDir(), "jwt")
	out := c.must("store", "copy", "--from", c.store, "--to", to)
	if !strings.Contains(out, "refused 0") || strings.Contains(out, "copied 0,") {
		t.Fatalf("output:\n%s", out)
	}
	files, _ := filepath.Glob(filepath.Join(strings.TrimPrefix(to, "dir://"), "*.jwt"))
	if len(files) < 2 {
		t.Fatalf("destination has %d jwt files: %v", len(files), files)
	}
}

func TestStoreCopyBadInput(t *testing.T) {
	op := testkit.NewOperator(t)
	tmp := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--from", "mem://", "--to", "mem://", "--operator", op.JWT}, "same store"},
		{[]string{"--from", "nope://x", "--to", "mem://", "--operator", op.JWT}, "unknown scheme"},
		{[]string{"--from", "mem://", "--to", "dir://rel", "--operator", op.JWT}, "absolute"},
		{[]string{"--from", "mem://", "--to", "dir://" + tmp, "--operator", filepath.Join(tmp, "missing.jwt")}, "missing.jwt"},
		{[]string{"--from", "mem://", "--to", "dir://" + tmp, "--operator", "eyJx.eyJ.x"}, "operator"},
		{[]string{"--to", "mem://"}, "from"},
		{[]string{"--from", "mem://", "--to", "dir://" + tmp, "--home", filepath.Join(tmp, "nohome")}, "--operator"},
	} {
		_, _, err := runCLI(t, append([]string{"store", "copy"}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("store copy %v: err = %v, want it to mention %q", tc.args, err, tc.want)
		}
	}
}
