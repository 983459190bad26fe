package dir

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// notifier reads inotify events for one directory.
type notifier struct {
	f *os.File // non-blocking inotify fd, read through the runtime poller
}

// watchMask: a file renamed in (our atomic writes), written in place and
// closed (nats-server's writes), deleted or renamed away (nats-server's
// RenameDeleted), and the directory itself going away.
const watchMask = unix.IN_MOVED_TO | unix.IN_CLOSE_WRITE | unix.IN_DELETE | unix.IN_MOVED_FROM |
	unix.IN_DELETE_SELF | unix.IN_MOVE_SELF | unix.IN_ONLYDIR

func newNotifier(dir string) (*notifier, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("inotify_init1: %w", err)
	}
	if _, err := unix.InotifyAddWatch(fd, dir, watchMask); err != nil {
		_ = unix.Close(fd)
		return nil, fmt.Errorf("inotify_add_watch %s: %w", dir, err)
	}
	return &notifier{f: os.NewFile(uintptr(fd), "inotify")}, nil
}

// close ends run.
func (n *notifier) close() { _ = n.f.Close() }

// errDirGone means the watched directory was removed or moved.
var errDirGone = errors.New("watched directory was removed or moved")

// run calls fn for every event until the notifier is closed (nil) or
// fails. overflow means events were lost.
func (n *notifier) run(fn func(name string, overflow bool)) error {
	buf := make([]byte, 64<<10)
	for {
		k, err := n.f.Read(buf)
		if err != nil {
			if errors.Is(err, os.ErrClosed) {
				return nil
			}
			return err
		}
		for off := 0; off+unix.SizeofInotifyEvent <= k; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			nameBytes := buf[off+unix.SizeofInotifyEvent : off+unix.SizeofInotifyEvent+int(ev.Len)]
			off += unix.SizeofInotifyEvent + int(ev.Len)
			switch {
			case ev.Mask&unix.IN_Q_OVERFLOW != 0:
				fn("", true)
			case ev.Mask&(unix.IN_DELETE_SELF|unix.IN_MOVE_SELF|unix.IN_IGNORED) != 0:
				return errDirGone
			default:
				if i := bytes.IndexByte(nameBytes, 0); i >= 0 {
					nameBytes = nameBytes[:i]
				}
				fn(string(nameBytes), false)
			}
		}
	}
}
