package authority

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/natsauth/natsauth/internal/testkit"
)

func TestTxnRollsBackOnFailure(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "existing")
	if err := os.WriteFile(existing, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	blocker := filepath.Join(dir, "blocker")
	if err := os.WriteFile(blocker, []byte("a file"), 0o600); err != nil {
		t.Fatal(err)
	}
	before := testkit.TreeHash(t, dir)
	var tx txn
	tx.put(existing, []byte("new"))
	tx.put(filepath.Join(dir, "fresh", "deep", "file"), []byte("x"))
	tx.del(blocker)
	tx.put(filepath.Join(blocker, "child"), []byte("cannot: blocker was a file")) // parent path now missing → created...
	tx.put(filepath.Join(existing, "under-a-file"), []byte("fails"))
	err := tx.commit()
	if err == nil {
		t.Fatal("commit succeeded, want a failure")
	}
	if after := testkit.TreeHash(t, dir); after != before {
		t.Errorf("rollback incomplete:\n%s\n---\n%s", before, after)
	}
}

func TestCheckSubject(t *testing.T) {
	good := []string{"a", "orders.>", ">", "*", "orders.*.status", "a.*.>", "$SYS.REQ.>", "ünï.cödé", "a*b", "_INBOX.>"}
	for _, s := range good {
		if err := CheckSubject(s); err != nil {
			t.Errorf("CheckSubject(%q) = %v", s, err)
		}
	}
	bad := map[string]string{
		"":                        "empty",
		"orders..x":               "empty token",
		".a":                      "empty token",
		"a.":                      "empty token",
		"a.>.b":                   "'>'",
		">.a":                     "'>'",
		"a b":                     "whitespace",
		"a\nb":                    "whitespace",
		"a\x00b":                  "control",
		strings.Repeat("a", 5000): "longer",
	}
	for s, want := range bad {
		err := CheckSubject(s)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckSubject(%.20q) = %v, want error containing %q", s, err, want)
		}
	}
	if err := checkPermissionSubject("orders.* workers", true); err != nil {
		t.Errorf("queue subscription rejected: %v", err)
	}
}

func FuzzCheckSubject(f *testing.F) {
	for _, s := range []string{"a.b", "a..b", "a.>.b", ">", "a q", "*.*"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if CheckSubject(s) != nil {
			return
		}
		toks := strings.Split(s, ".")
		for i, tok := range toks {
			if tok == "" || (tok == ">" && i != len(toks)-1) || strings.ContainsAny(tok, " \t\r\n") {
				t.Fatalf("CheckSubject accepted %q", s)
			}
		}
	})
}
