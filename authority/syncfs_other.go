//go:build !linux

package authority

import (
	"io/fs"
	"os"
	"path/filepath"
)

// canSyncFS is false where there is no syncfs(2): bulk transactions
// commit file by file (see txn.commit).
const canSyncFS = false

func syncFS(string) error { return nil }

// readSmall reads a small file (a JWT).
func readSmall(path string) ([]byte, error) { return os.ReadFile(path) }

// dirFiles reads the small files of one directory.
type dirFiles struct{ dir string }

func openDirFiles(dir string) (*dirFiles, error) {
	if _, err := os.Stat(dir); err != nil {
		return nil, err
	}
	return &dirFiles{dir: dir}, nil
}

func (d *dirFiles) entries() ([]fs.DirEntry, error) { return os.ReadDir(d.dir) }

func (d *dirFiles) read(name string) ([]byte, error) { return os.ReadFile(filepath.Join(d.dir, name)) }

func (d *dirFiles) Close() error { return nil }
