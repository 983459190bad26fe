//go:build !linux

package authority

// canSyncFS is false where there is no syncfs(2): bulk transactions
// commit file by file (see txn.commit).
const canSyncFS = false

func syncFS(string) error { return nil }
