package authority

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// The bulk reader returns every file whole (less the white space around
// it), whatever its size against its read buffer, and names a missing file
// by its path.
func TestDirFilesReadWhole(t *testing.T) {
	dir := t.TempDir()
	sizes := map[string]int{"empty": 0, "small": 700, "edge": 2048, "edge1": 2049, "large": 10_000}
	for name, n := range sizes {
		if err := os.WriteFile(filepath.Join(dir, name), bytes.Repeat([]byte{'a' + byte(n%26)}, n), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	d, err := openDirFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	names, err := d.names()
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	if strings.Join(names, ",") != "edge,edge1,empty,large,small" {
		t.Fatalf("entries %v", names)
	}
	for name, n := range sizes {
		got, err := d.readJWT(name)
		if err != nil || got != strings.Repeat(string(rune('a'+n%26)), n) {
			t.Errorf("%s: read %d bytes (%v), want %d", name, len(got), err, n)
		}
		if whole, err := readJWT(filepath.Join(dir, name)); err != nil || whole != got {
			t.Errorf("%s: readJWT read %d bytes (%v)", name, len(whole), err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "spaced"), []byte(" \n eyJ.x.y\n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := d.readJWT("spaced"); got != "eyJ.x.y" || err != nil {
		t.Errorf("spaced: %q, %v", got, err)
	}
	_, err = d.readJWT("missing")
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), filepath.Join(dir, "missing")) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := openDirFiles(filepath.Join(dir, "nope")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing directory: %v", err)
	}
}

// A directory in an account's users directory, even one named like a
// user's JWT, is no user: the bulk read skips it.
func TestSnapshotSkipsDirectoryNamedLikeAUser(t *testing.T) {
	h, err := Init(filepath.Join(t.TempDir(), "home"), "Op")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.AddAccount("A", AccountEdit{}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.AddUser("A", "u", UserEdit{}); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(h.usersDir("A"), "odd.jwt"), 0o700); err != nil {
		t.Fatal(err)
	}
	_, users, err := h.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, u := range users["A"] {
		names = append(names, u.Name)
	}
	if strings.Join(names, ",") != "u" {
		t.Fatalf("users of A: %v, want u", names)
	}
}
