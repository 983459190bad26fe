package authority

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// canSyncFS says whether syncFS makes a whole file system durable at once.
const canSyncFS = true

// syncFS flushes the file system holding dir (syncfs(2)).
func syncFS(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := unix.Syncfs(int(d.Fd())); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
