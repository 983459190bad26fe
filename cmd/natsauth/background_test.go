package main

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for a command goroutine writing and a
// test reading.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// stopWithin is how long a background command may take to return once its
// context ends.
const stopWithin = 30 * time.Second

// bgCmd is a natsauth command running in-process in the background, as a
// long-running command (serve, demo, events, account-server) runs.
type bgCmd struct {
	args        []string
	out, errOut *syncBuffer
	cancel      context.CancelFunc
	finished    chan struct{}
	runErr      error // set before finished is closed

	once    sync.Once
	stopErr error
}

// startBackground runs `natsauth args...` until stop or the end of the
// test; the test fails if the command then returns an error or does not
// return within stopWithin.
func startBackground(t testing.TB, args ...string) *bgCmd {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c := &bgCmd{args: args, out: &syncBuffer{}, errOut: &syncBuffer{}, cancel: cancel, finished: make(chan struct{})}
	root := newRootCmd(c.out, c.errOut)
	root.SetArgs(args)
	go func() {
		c.runErr = root.ExecuteContext(ctx)
		close(c.finished)
	}()
	t.Cleanup(func() {
		if err := c.stop(); err != nil {
			t.Errorf("natsauth %s: %v", c.name(), err)
		}
	})
	return c
}

func (c *bgCmd) name() string { return strings.Join(c.args, " ") }

// stop cancels the command and returns what it returned.
func (c *bgCmd) stop() error {
	c.once.Do(func() {
		c.cancel()
		select {
		case <-c.finished:
			c.stopErr = c.runErr
		case <-time.After(stopWithin):
			c.stopErr = fmt.Errorf("did not stop within %s of its context ending", stopWithin)
		}
	})
	return c.stopErr
}

// wait returns the submatches of re once it matches what the command wrote
// to buf (c.out or c.errOut); the test fails if the command ends first or
// nothing matches within d.
func (c *bgCmd) wait(t testing.TB, buf *syncBuffer, re *regexp.Regexp, d time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if m := re.FindStringSubmatch(buf.String()); m != nil {
			return m
		}
		select {
		case <-c.finished:
			t.Fatalf("natsauth %s exited early: %v\nstdout: %s\nstderr: %s", c.name(), c.runErr, c.out, c.errOut)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("natsauth %s did not print %q within %s\nstdout: %s\nstderr: %s", c.name(), re, d, c.out, c.errOut)
		}
	}
}
