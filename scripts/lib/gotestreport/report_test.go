package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// run feeds stream to a report and returns its output and verdict.
func run(t *testing.T, stream string, allow ...string) (string, bool) {
	t.Helper()
	var pats patterns
	for _, a := range allow {
		pats = append(pats, regexp.MustCompile(a))
	}
	var out bytes.Buffer
	r := newReport(&out, pats, 3)
	if err := r.read(strings.NewReader(stream)); err != nil {
		t.Fatal(err)
	}
	ok := r.finish()
	return out.String(), ok
}

// goTestJSON runs `go test -json` on a throwaway module with the given
// test file, so the report is checked against the real format.
func goTestJSON(t *testing.T, testFile string) string {
	t.Helper()
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/fixture\n\ngo 1.22\n"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "fixture_test.go"), []byte(testFile), 0o644))
	cmd := exec.Command("go", "test", "-json", "-count=1", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	out, _ := cmd.CombinedOutput() // fails when a fixture test fails
	return string(out)
}

func TestRealStream(t *testing.T) {
	stream := goTestJSON(t, `package fixture

import "testing"

func TestGood(t *testing.T) { t.Log("quiet when passing") }

func TestBad(t *testing.T) { t.Error("boom: the reason") }

func TestSkipped(t *testing.T) { t.Skip("needs the moon") }

func TestParent(t *testing.T) {
	t.Run("ok", func(t *testing.T) {})
	t.Run("skips", func(t *testing.T) { t.Skip("sub reason") })
}
`)
	out, ok := run(t, stream)
	if ok {
		t.Fatalf("run with a failure and skips reported success:\n%s", out)
	}
	for _, want := range []string{
		"--- FAIL: example.com/fixture TestBad",
		"boom: the reason",
		"--- SKIP (not allowed): example.com/fixture TestSkipped: ",
		"needs the moon",
		"example.com/fixture.TestParent/skips",
		"FAIL example.com/fixture",
		"tests: 3 passed, 1 failed, 2 skipped\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "quiet when passing") {
		t.Errorf("report shows a passing test's log:\n%s", out)
	}
}

func TestAllowedSkipsPass(t *testing.T) {
	stream := goTestJSON(t, `package fixture

import "testing"

func TestGood(t *testing.T) {}

func TestSkipped(t *testing.T) { t.Skip("allowed reason") }
`)
	out, ok := run(t, stream, `^example\.com/fixture\.TestSkipped$`)
	if !ok {
		t.Fatalf("allowed skip failed the run:\n%s", out)
	}
	if !strings.Contains(out, "SKIP (allowed)") || !strings.HasSuffix(out, "tests: 1 passed, 0 failed, 1 skipped\n") {
		t.Fatalf("report:\n%s", out)
	}
	if _, ok := run(t, stream, `TestOther`); ok {
		t.Fatal("a skip matching no pattern passed")
	}
}

func TestUnfinishedAndBuildFailures(t *testing.T) {
	stream := strings.Join([]string{
		`{"Action":"start","Package":"p"}`,
		`{"Action":"run","Package":"p","Test":"TestHang"}`,
		`{"Action":"output","Package":"p","Test":"TestHang","Output":"=== RUN   TestHang\n"}`,
		`{"Action":"output","Package":"p","Test":"TestHang","Output":"waiting for godot\n"}`,
		`{"Action":"output","Package":"p","Output":"panic: test timed out after 1s\n"}`,
		`{"Action":"fail","Package":"p","Elapsed":1}`,
		`{"ImportPath":"q","Action":"build-output","Output":"q/x.go:1: syntax error\n"}`,
		`{"ImportPath":"q","Action":"build-fail"}`,
		`not json at all`,
	}, "\n")
	out, ok := run(t, stream)
	if ok {
		t.Fatal("reported success")
	}
	for _, want := range []string{
		"--- UNFINISHED: p TestHang", "waiting for godot", "panic: test timed out",
		"q/x.go:1: syntax error", "did not build: q", "failed packages: p", "not json at all", "no test ran",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "=== RUN") {
		t.Errorf("report shows === lines:\n%s", out)
	}
}
