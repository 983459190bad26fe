//go:build unix

package dir

import (
	"context"
	"errors"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// lockFile takes an exclusive flock on f, waiting (until ctx ends) while
// another process or instance holds it.
func lockFile(ctx context.Context, f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	for {
		var ferr error
		if err := rc.Control(func(fd uintptr) {
			ferr = unix.Flock(int(fd), unix.LOCK_EX|unix.LOCK_NB)
		}); err != nil {
			return err
		}
		if ferr == nil {
			return nil
		}
		if !errors.Is(ferr, unix.EWOULDBLOCK) && !errors.Is(ferr, unix.EINTR) {
			return ferr
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(waitLock):
		}
	}
}

// unlockFile releases the flock taken by lockFile.
func unlockFile(f *os.File) {
	if rc, err := f.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) { _ = unix.Flock(int(fd), unix.LOCK_UN) })
	}
}

// inode returns the file's inode number, which changes on every atomic
// replace.
func inode(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Ino)
	}
	return 0
}
