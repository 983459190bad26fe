package authority

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// newHome initializes a home in a temporary directory.
func newHome(t testing.TB) *Home {
	t.Helper()
	h, err := Init(filepath.Join(t.TempDir(), "home"), "TestOp")
	if err != nil {
		t.Fatalf("Init: %v", err)
	}
	return h
}

// mustAccount adds an account or fails the test.
func mustAccount(t testing.TB, h *Home, name string, e AccountEdit) *AccountInfo {
	t.Helper()
	a, err := h.AddAccount(name, e)
	if err != nil {
		t.Fatalf("AddAccount(%s): %v", name, err)
	}
	return a
}

// mustUser adds a user or fails the test.
func mustUser(t testing.TB, h *Home, account, name string, e UserEdit) *UserInfo {
	t.Helper()
	u, err := h.AddUser(account, name, e)
	if err != nil {
		t.Fatalf("AddUser(%s, %s): %v", account, name, err)
	}
	return u
}

// treeHash summarizes every path, mode and file content under dir, so a
// test can prove that an operation changed nothing.
func treeHash(t testing.TB, dir string) string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		line := fmt.Sprintf("%s %v", rel, fi.Mode())
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			line += " " + hex.EncodeToString(sum[:])
		}
		lines = append(lines, line)
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatalf("hash %s: %v", dir, err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}
