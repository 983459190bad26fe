//go:build !linux

package authority

import (
	"os"
	"path/filepath"
	"strings"
)

// canSyncFS is false where there is no syncfs(2): bulk transactions
// commit file by file (see txn.commit).
const canSyncFS = false

func syncFS(string) error { return nil }

// readJWT reads a small file (a JWT) without its surrounding white space.
func readJWT(path string) (string, error) {
	raw, err := os.ReadFile(path)
	return strings.TrimSpace(string(raw)), err
}

// dirFiles reads the small files of one directory.
type dirFiles struct{ dir string }

func openDirFiles(dir string) (*dirFiles, error) {
	if _, err := os.Stat(dir); err != nil {
		return nil, err
	}
	return &dirFiles{dir: dir}, nil
}

// names lists the names in the directory, subdirectories left out.
func (d *dirFiles) names() ([]string, error) {
	entries, err := os.ReadDir(d.dir)
	var names []string
	for _, e := range entries {
		if !e.IsDir() {
			names = append(names, e.Name())
		}
	}
	return names, err
}

func (d *dirFiles) readJWT(name string) (string, error) { return readJWT(filepath.Join(d.dir, name)) }

func (d *dirFiles) Close() error { return nil }
