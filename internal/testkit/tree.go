package testkit

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

// runtimeState are what a running natsauth serve writes into a home on its
// own schedule — the registry of running servers, the local copy of the
// store, JetStream data — and SQLite's write-ahead files: none of it is the
// authority, and none of it changes because a command was refused.
var runtimeState = map[string]bool{"run": true, "cache": true, "jetstream": true}

// TreeHash summarizes every path, mode and file content under dir, so a
// test can prove that an operation changed nothing. A missing dir hashes
// to the empty string. The runtime state of a serve running from the home
// is left out (see runtimeState).
func TreeHash(t testing.TB, dir string) string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if filepath.Dir(p) == filepath.Clean(dir) && d.IsDir() && runtimeState[d.Name()] {
			return filepath.SkipDir
		}
		if strings.HasSuffix(p, ".db-wal") || strings.HasSuffix(p, ".db-shm") {
			return nil
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
