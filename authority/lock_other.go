//go:build !unix

package authority

import "os"

// lockFile is a no-op where flock is unavailable: concurrent natsauth runs
// on one home are then not serialized.
func lockFile(*os.File, bool) error { return nil }

func unlockFile(*os.File) error { return nil }
