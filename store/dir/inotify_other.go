//go:build !linux

package dir

import "errors"

type notifier struct{}

func newNotifier(string) (*notifier, error) { return nil, errors.New("inotify is linux-only") }

func (*notifier) close() {}

func (*notifier) run(func(string, bool)) error { return nil }
