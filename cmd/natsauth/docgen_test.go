package main

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/natsauth/natsauth/internal/clidoc"
	"github.com/natsauth/natsauth/store"
)

// repoRoot is the module root, seen from this package's directory.
const repoRoot = "../.."

func generateReference(t *testing.T) string {
	t.Helper()
	out, errOut, err := runCLI(t, "docgen")
	if err != nil {
		t.Fatalf("natsauth docgen: %v\n%s", err, errOut)
	}
	return out
}

// TestReferenceIsCurrent fails when docs/reference.md is not what the code
// generates: a flag or command was changed without regenerating it.
func TestReferenceIsCurrent(t *testing.T) {
	got := generateReference(t)
	want, err := os.ReadFile(filepath.Join(repoRoot, "docs", "reference.md"))
	if err != nil {
		t.Fatalf("read the checked-in reference: %v\nCreate it with: %s", err, clidoc.Regenerate)
	}
	if got == string(want) {
		return
	}
	gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
	for i := 0; i < len(gl) || i < len(wl); i++ {
		var g, w string
		if i < len(gl) {
			g = gl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if g != w {
			t.Fatalf("docs/reference.md is out of date (first difference at line %d):\n  checked in: %q\n  generated:  %q\nRegenerate it from the module root with:\n  %s",
				i+1, w, g, clidoc.Regenerate)
		}
	}
}

// TestReferenceFollowsFlags shows the check above can fail: a new flag
// changes the generated reference.
func TestReferenceFollowsFlags(t *testing.T) {
	base := generateReference(t)
	root := newRootCmd(&bytes.Buffer{}, &bytes.Buffer{})
	serve, _, err := root.Find([]string{"serve"})
	if err != nil {
		t.Fatal(err)
	}
	serve.Flags().Int("docgen-probe", 7, "a flag added without regenerating")
	var b bytes.Buffer
	if err := clidoc.Write(&b, root); err != nil {
		t.Fatal(err)
	}
	if b.String() == base {
		t.Fatal("adding a flag did not change the generated reference")
	}
	if !strings.Contains(b.String(), "| `--docgen-probe` | int | `7` | a flag added without regenerating |") {
		t.Errorf("the new flag is not in the reference:\n%s", b.String())
	}
}

// TestReferenceDocumentsEveryCommand walks the command tree: every
// runnable, visible command has its section with each of its flags, and no
// hidden one leaks in.
func TestReferenceDocumentsEveryCommand(t *testing.T) {
	ref := generateReference(t)
	root := newRootCmd(&bytes.Buffer{}, &bytes.Buffer{})
	var walk func(c *cobra.Command)
	checked := 0
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			section := "\n### " + sub.CommandPath() + "\n"
			switch {
			case sub.Hidden:
				if strings.Contains(ref, section) {
					t.Errorf("the hidden command %s is documented", sub.CommandPath())
				}
				continue
			case sub.Name() == "help" || sub.Name() == "completion":
				continue
			}
			if sub.Runnable() && !sub.HasAvailableSubCommands() {
				checked++
				i := strings.Index(ref, section)
				if i < 0 {
					t.Errorf("reference lacks a section for %s", sub.CommandPath())
				} else {
					body := ref[i+len(section):]
					if j := strings.Index(body, "\n### "); j >= 0 {
						body = body[:j]
					}
					sub.LocalNonPersistentFlags().VisitAll(func(f *pflag.Flag) {
						if !f.Hidden && f.Name != "help" && !strings.Contains(body, "`--"+f.Name+"`") {
							t.Errorf("the section of %s lacks --%s", sub.CommandPath(), f.Name)
						}
					})
				}
			}
			walk(sub)
		}
	}
	walk(root)
	if checked < 30 {
		t.Fatalf("only %d commands walked", checked)
	}
}

var getenvRe = regexp.MustCompile(`os\.(?:Getenv|LookupEnv)\("([A-Za-z0-9_]+)"\)`)

// TestReferenceListsEveryEnvVar scans the shipped sources (not tests, test
// helpers or examples) for environment variables and wants each documented.
func TestReferenceListsEveryEnvVar(t *testing.T) {
	documented := map[string]bool{}
	for _, e := range clidoc.EnvVars {
		documented[e.Name] = true
	}
	err := filepath.WalkDir(repoRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(repoRoot, p)
		if d.IsDir() {
			switch rel {
			case ".git", "internal", "examples", "scripts", "bench", "deploy", "docs":
				return filepath.SkipDir
			}
			if d.Name() == "node_modules" || d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range getenvRe.FindAllStringSubmatch(string(src), -1) {
			if !documented[m[1]] {
				t.Errorf("%s reads $%s, which clidoc.EnvVars (internal/clidoc) does not document", rel, m[1])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestReferenceStoreGuides wants every registered store scheme described
// with a guide that exists.
func TestReferenceStoreGuides(t *testing.T) {
	for _, s := range store.Schemes() {
		d, ok := clidoc.SchemeDocs[s]
		if !ok {
			t.Errorf("store scheme %q is registered but has no entry in clidoc.SchemeDocs", s)
			continue
		}
		if _, err := os.Stat(filepath.Join(repoRoot, "docs", d.Guide)); err != nil {
			t.Errorf("guide of %s: %v", s, err)
		}
	}
}
