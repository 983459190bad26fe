package fsx

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestWriteFileReplacesWithMode(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "A.jwt")
	for _, content := range []string{"first", "second"} {
		if err := WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != content {
			t.Fatalf("content = %q, want %q", got, content)
		}
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("mode = %o, want 600", got)
	}
	if err := WriteFile(filepath.Join(dir, "pub.pem"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(filepath.Join(dir, "pub.pem")); fi.Mode().Perm() != 0o644 {
		t.Errorf("mode = %o, want 644", fi.Mode().Perm())
	}
	left, err := FindStale(dir)
	if err != nil || len(left) != 0 {
		t.Errorf("FindStale after clean writes = %v, %v; want none", left, err)
	}
}

// A failed write leaves the target as it was and no temporary file.
func TestWriteFileFailureLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "A.jwt")
	if err := WriteFile(p, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Renaming a file over a directory fails after the temporary file
	// was written.
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sub, "keep"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(sub, []byte("new"), 0o600); err == nil {
		t.Fatal("WriteFile over a non-empty directory succeeded")
	}
	if left, _ := FindStale(dir); len(left) != 0 {
		t.Errorf("temporary files left after a failed write: %v", left)
	}
	if got, _ := os.ReadFile(p); string(got) != "old" {
		t.Errorf("other file changed: %q", got)
	}
}

func TestIsTempAndTarget(t *testing.T) {
	for _, tc := range []struct {
		name   string
		temp   bool
		target string
	}{
		{".A.jwt.tmp-123456", true, "A.jwt"},
		{".u.creds.tmp-1", true, "u.creds"},
		{".natsauth-99.tmp", true, ""},
		{"A.jwt", false, ""},
		{".A.jwt.tmp-", false, ""},
		{".A.jwt.tmp-12x", false, ""},
		{"A.jwt.tmp-12", false, ""},
		{".natsauth.lock", false, ""},
		{".nsc", false, ""},
		{"audit.log", false, ""},
	} {
		if got := IsTemp(tc.name); got != tc.temp {
			t.Errorf("IsTemp(%q) = %v, want %v", tc.name, got, tc.temp)
		}
		if got := Target(tc.name); got != tc.target {
			t.Errorf("Target(%q) = %q, want %q", tc.name, got, tc.target)
		}
	}
}

func TestCleanStaleRemovesOnlyTempFiles(t *testing.T) {
	dir := t.TempDir()
	files := map[string]bool{ // name -> is a leftover
		".A.jwt.tmp-111":    true,
		".natsauth-222.tmp": true,
		"A.jwt":             false,
		".natsauth.lock":    false,
	}
	for name := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	sub := filepath.Join(dir, "users")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	deep := filepath.Join(sub, ".u.jwt.tmp-333")
	if err := os.WriteFile(deep, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	found, err := FindStale(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(dir, ".A.jwt.tmp-111"), filepath.Join(dir, ".natsauth-222.tmp"), deep}
	slices.Sort(found)
	slices.Sort(want)
	if !slices.Equal(found, want) {
		t.Errorf("FindStale = %v, want %v", found, want)
	}

	// A young file survives a minimum age; at age 0 it goes.
	if removed, err := CleanStale(dir, time.Hour); err != nil || len(removed) != 0 {
		t.Errorf("CleanStale(1h) = %v, %v; want nothing removed", removed, err)
	}
	removed, err := CleanStale(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 2 {
		t.Errorf("CleanStale removed %v, want the two leftovers in dir", removed)
	}
	for name, leftover := range files {
		_, err := os.Stat(filepath.Join(dir, name))
		if exists := err == nil; exists == leftover {
			t.Errorf("%s: exists=%v after CleanStale", name, exists)
		}
	}
	if _, err := os.Stat(deep); err != nil {
		t.Errorf("CleanStale reached below dir: %v", err)
	}
	if removed, err := CleanStale(filepath.Join(dir, "missing"), 0); err != nil || removed != nil {
		t.Errorf("CleanStale(missing dir) = %v, %v", removed, err)
	}
}
