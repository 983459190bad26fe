package authority

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/natsauth/natsauth/internal/fsx"
)

// File and directory modes of everything in a home: seeds, creds and JWTs
// are private to the user, as nsc writes them.
const (
	fileMode = 0o600
	dirMode  = 0o700
)

// mkdirs creates dir and any missing parents with dirMode and returns the
// directories it created, outermost first.
func mkdirs(dir string) ([]string, error) {
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err == nil {
			if !fi.IsDir() {
				return nil, fmt.Errorf("create directory %s: %s is not a directory", dir, d)
			}
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("create directory %s: %w", dir, err)
		}
		missing = append(missing, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	var created []string
	for i := len(missing) - 1; i >= 0; i-- {
		if err := os.Mkdir(missing[i], dirMode); err != nil && !errors.Is(err, fs.ErrExist) {
			return created, fmt.Errorf("create directory %s: %w", missing[i], err)
		}
		created = append(created, missing[i])
	}
	return created, nil
}

// writeAtomic replaces path with data (mode 0600) through fsx.WriteFile: a
// reader sees the old or the new content, never a mix.
func writeAtomic(path string, data []byte) error {
	return fsx.WriteFile(path, data, fileMode)
}

// txn is a set of file writes and removals applied together: each file is
// replaced atomically, and if one step fails the steps already done are
// undone, so a failed operation leaves the home as it was.
type txn struct {
	ops []txnOp
}

type txnOp struct {
	path   string
	data   []byte
	remove bool
}

// put schedules writing data to path (mode 0600, parents 0700).
func (t *txn) put(path string, data []byte) {
	t.ops = append(t.ops, txnOp{path: path, data: data})
}

// del schedules removing path; a missing file is not an error.
func (t *txn) del(path string) {
	t.ops = append(t.ops, txnOp{path: path, remove: true})
}

// commit applies the scheduled steps in order. If one fails, the steps
// already done are undone in reverse order (files restored or removed,
// directories it created removed). It runs under the home's exclusive
// lock, so any temporary file in a directory it writes to is a leftover of
// a writer that was killed mid-write: those are removed first.
func (t *txn) commit() (err error) {
	t.cleanStale()
	var undo []func()
	defer func() {
		if err != nil {
			for i := len(undo) - 1; i >= 0; i-- {
				undo[i]()
			}
		}
	}()
	for _, o := range t.ops {
		old, rerr := os.ReadFile(o.path)
		existed := rerr == nil
		if rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			return fmt.Errorf("read %s: %w", o.path, rerr)
		}
		restore := func(path string) func() {
			if existed {
				return func() { _ = writeAtomic(path, old) }
			}
			return func() { _ = os.Remove(path) }
		}(o.path)
		if o.remove {
			if !existed {
				continue
			}
			if err := os.Remove(o.path); err != nil {
				return fmt.Errorf("remove %s: %w", o.path, err)
			}
			undo = append(undo, restore)
			continue
		}
		dirs, err := mkdirs(filepath.Dir(o.path))
		for _, d := range dirs {
			undo = append(undo, func() { _ = os.Remove(d) })
		}
		if err != nil {
			return err
		}
		if err := writeAtomic(o.path, o.data); err != nil {
			return err
		}
		undo = append(undo, restore)
	}
	return nil
}

// cleanStale removes the leftovers of killed writers in the directories
// the transaction writes to. Failing to remove one is not the caller's
// problem: doctor reports what is left.
func (t *txn) cleanStale() {
	seen := map[string]bool{}
	for _, o := range t.ops {
		d := filepath.Dir(o.path)
		if !seen[d] {
			seen[d] = true
			_, _ = fsx.CleanStale(d, 0)
		}
	}
}

// prune names an empty directory to remove after a deletion, and the
// directory above which removal stops.
type prune struct{ dir, stop string }

// pruneDirs removes dir and then its parents while they are empty,
// stopping at (and never removing) stop.
func pruneDirs(dir, stop string) {
	stop = filepath.Clean(stop)
	for d := filepath.Clean(dir); d != stop && len(d) > len(stop); d = filepath.Dir(d) {
		if err := os.Remove(d); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return
		}
	}
}
