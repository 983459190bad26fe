//go:build !linux

package authority

import "os"

// canSyncFS is false where there is no syncfs(2): bulk transactions
// commit file by file (see txn.commit).
const canSyncFS = false

func syncFS(string) error { return nil }

// readSmall reads a small file (a JWT).
func readSmall(path string) ([]byte, error) { return os.ReadFile(path) }
