//go:build !unix

package dir

import (
	"context"
	"os"
)

// lockFile is a no-op without flock: newer-only is then atomic within one
// process only.
func lockFile(context.Context, *os.File) error { return nil }

func unlockFile(*os.File) {}

func inode(os.FileInfo) uint64 { return 0 }
