package authority

import (
	"bytes"
	"fmt"
	"io/fs"
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

// readJWT reads a small file (a JWT) without its surrounding white space.
func readJWT(path string) (string, error) { return readSmallAt(unix.AT_FDCWD, path, path) }

// dirFiles reads the small files (JWTs) of one directory, opened once: a
// bulk read of a home reads 110,000 of them, and a name relative to an
// open directory spares the kernel the walk of the whole path each time.
type dirFiles struct {
	fd  int
	dir string
}

// openDirFiles opens dir with one system call (os.Open would add five:
// a poller registration that fails for a directory, and fcntl calls).
func openDirFiles(dir string) (*dirFiles, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	for err == unix.EINTR {
		fd, err = unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: dir, Err: err}
	}
	return &dirFiles{fd: fd, dir: dir}, nil
}

// names lists the names in the directory but "." and "..", in no
// particular order; they may name subdirectories (readJWT then fails with
// EISDIR).
func (d *dirFiles) names() ([]string, error) {
	var buf [8192]byte
	var names []string
	for {
		n, err := unix.ReadDirent(d.fd, buf[:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "readdirent", Path: d.dir, Err: err}
		}
		if n <= 0 {
			return names, nil
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
	}
}

// readJWT reads the file name of the directory without its surrounding
// white space.
func (d *dirFiles) readJWT(name string) (string, error) {
	return readSmallAt(d.fd, name, d.dir+string(os.PathSeparator)+name)
}

func (d *dirFiles) Close() error { return unix.Close(d.fd) }

// readSmallAt reads file name of directory dirfd with three system calls
// (open, read, close): a read shorter than asked is the end of a regular
// file. It returns the text without its surrounding white space, in a
// string of its own size; path names the file in errors.
func readSmallAt(dirfd int, name, path string) (string, error) {
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	for err == unix.EINTR {
		fd, err = unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		return "", &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	var scratch [4096]byte // a JWT fits: read into the stack, keep only the text
	buf := scratch[:0]
	for {
		want := cap(buf) - len(buf)
		n, err := unix.Read(fd, buf[len(buf):cap(buf)])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return "", &fs.PathError{Op: "read", Path: path, Err: err}
		}
		buf = buf[:len(buf)+n]
		if n < want {
			return string(bytes.TrimSpace(buf)), nil
		}
		buf = append(buf, 0)[:len(buf)]
	}
}
