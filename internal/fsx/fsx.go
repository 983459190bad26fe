// Package fsx writes files atomically and finds the temporary files that a
// writer killed mid-write leaves behind. It is the one atomic-write helper
// of natsauth: the authority's home, the dir store, creds and TLS files
// all write through WriteFile.
//
// A write creates ".<name>.tmp-<random>" in the target's directory, with
// the final mode, writes and fsyncs it, renames it over the target and
// fsyncs the directory: a reader sees the old or the new content, never a
// mix. The temporary name never ends in ".jwt", ".creds" or ".nk", so
// nats-server (whose full resolver loads "*.jwt") and nsc never read one.
package fsx

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// tmpInfix separates a target's name from the random part of its
// temporary file's name: ".A.jwt.tmp-123456".
const tmpInfix = ".tmp-"

// legacyPrefix and legacySuffix name the temporary files of the dir store
// before it used WriteFile (".natsauth-123.tmp"); they are stale too.
const (
	legacyPrefix = ".natsauth-"
	legacySuffix = ".tmp"
)

// WriteFile replaces path with data, with mode perm, atomically: a
// temporary file in the same directory is written with perm, fsynced and
// renamed over path, then the directory is fsynced. On failure the
// temporary file is removed and path is unchanged.
func WriteFile(path string, data []byte, perm fs.FileMode) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+tmpInfix+"*")
	if err != nil {
		return fmt.Errorf("fsx: write %s: %w", path, err)
	}
	name := tmp.Name()
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(name)
			err = fmt.Errorf("fsx: write %s: %w", path, err)
		}
	}()
	if err = tmp.Chmod(perm); err != nil {
		return err
	}
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(name, path); err != nil {
		return err
	}
	return SyncDir(dir)
}

// SyncDir makes a rename or removal in dir durable. Platforms that cannot
// fsync a directory are not an error.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("fsx: sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, errors.ErrUnsupported) {
		return fmt.Errorf("fsx: sync %s: %w", dir, err)
	}
	return nil
}

// IsTemp reports whether a file name (not a path) is that of a temporary
// file made by WriteFile, or by the dir store's earlier writer.
func IsTemp(name string) bool {
	if !strings.HasPrefix(name, ".") {
		return false
	}
	if i := strings.LastIndex(name, tmpInfix); i > 1 {
		rest := name[i+len(tmpInfix):]
		return rest != "" && strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' }) < 0
	}
	return strings.HasPrefix(name, legacyPrefix) && strings.HasSuffix(name, legacySuffix) &&
		len(name) > len(legacyPrefix)+len(legacySuffix)
}

// Target returns the file a temporary file was to replace: "A.jwt" for
// ".A.jwt.tmp-123"; "" when it is not known (the legacy names).
func Target(name string) string {
	if !IsTemp(name) {
		return ""
	}
	if i := strings.LastIndex(name, tmpInfix); i > 1 {
		return name[1:i]
	}
	return ""
}

// CleanStale removes the temporary files in dir (not below it) that are
// older than minAge, and returns their paths. Call it while holding the
// lock that every writer of dir takes: then no writer is between its
// CreateTemp and its rename, and with minAge 0 every temporary file is a
// leftover of a writer that died. Files that vanish meanwhile are skipped.
func CleanStale(dir string, minAge time.Duration) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("fsx: clean %s: %w", dir, err)
	}
	var removed []string
	now := time.Now()
	for _, e := range entries {
		if e.IsDir() || !IsTemp(e.Name()) {
			continue
		}
		if minAge > 0 {
			fi, err := e.Info()
			if err != nil || now.Sub(fi.ModTime()) < minAge {
				continue
			}
		}
		p := filepath.Join(dir, e.Name())
		if err := os.Remove(p); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return removed, fmt.Errorf("fsx: clean %s: %w", dir, err)
		}
		removed = append(removed, p)
	}
	return removed, nil
}

// FindStale walks root and returns every temporary file under it, for
// reports (doctor). A missing root has none.
func FindStale(root string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.IsDir() && IsTemp(d.Name()) {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		return out, fmt.Errorf("fsx: look for leftovers under %s: %w", root, err)
	}
	return out, nil
}
