package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsauth/natsauth/authority"
)

// e2eHome is a home directory driven only through the CLI, with the home's
// default account-JWT store (SQLite in the home): what a user gets when
// they follow the README without --store.
type e2eHome struct {
	t   testing.TB
	dir string
}

// newE2EHome runs `natsauth init` in a fresh home.
func newE2EHome(t testing.TB) *e2eHome {
	t.Helper()
	h := &e2eHome{t: t, dir: filepath.Join(t.TempDir(), "home")}
	h.must("init", "--name", "MyOperator")
	return h
}

// run runs a CLI command against the home (no --store: the default store).
func (h *e2eHome) run(args ...string) (string, string, error) {
	h.t.Helper()
	return runCLI(h.t, append(args, "--home", h.dir)...)
}

// must runs a command that has to succeed and returns its stdout.
func (h *e2eHome) must(args ...string) string {
	h.t.Helper()
	out, errOut, err := h.run(args...)
	if err != nil {
		h.t.Fatalf("natsauth %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// creds is the creds file the CLI wrote for a user of an account.
func (h *e2eHome) creds(account, user string) string {
	h.t.Helper()
	a, err := authority.Open(h.dir)
	if err != nil {
		h.t.Fatalf("open home: %v", err)
	}
	return a.CredsPath(account, user)
}

var servingRe = regexp.MustCompile(`natsauth serving on (nats://[0-9.:]+)`)

// e2eServer is `natsauth serve` running in-process for a home.
type e2eServer struct {
	h   *e2eHome
	url string
	out *syncBuffer // what serve printed
	log *syncBuffer
}

// serve runs `natsauth serve --home H -a 127.0.0.1 -p -1 -m -1 args...`
// in-process, exactly as the binary does, until the test ends, and returns
// once it accepts connections.
func (h *e2eHome) serve(args ...string) *e2eServer {
	t := h.t
	t.Helper()
	c := startBackground(t, append([]string{"serve", "--home", h.dir, "-a", "127.0.0.1", "-p", "-1", "-m", "-1"}, args...)...)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("serve log:\n%s", c.errOut.String())
		}
	})
	return &e2eServer{h: h, url: c.wait(t, c.out, servingRe, time.Minute)[1], out: c.out, log: c.errOut}
}

// client is a nats.go connection that records its asynchronous errors and
// tells when it is closed.
type client struct {
	*nats.Conn
	name   string
	errs   chan error
	closed chan struct{}
}

// dial connects as a user of an account with its creds file; the
// connection does not reconnect, so a refused or closed connection stays so.
func (s *e2eServer) dial(account, user string, opts ...nats.Option) (*client, error) {
	c := &client{name: user, errs: make(chan error, 64), closed: make(chan struct{})}
	all := append([]nats.Option{
		nats.UserCredentials(s.h.creds(account, user)),
		nats.Name(user),
		nats.NoReconnect(),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			select {
			case c.errs <- err:
			default:
			}
		}),
		nats.ClosedHandler(func(*nats.Conn) { close(c.closed) }),
	}, opts...)
	nc, err := nats.Connect(s.url, all...)
	if err != nil {
		return nil, err
	}
	c.Conn = nc
	return c, nil
}

// connect is dial that must succeed; the connection closes when the test ends.
func (s *e2eServer) connect(t testing.TB, account, user string, opts ...nats.Option) *client {
	t.Helper()
	c, err := s.dial(account, user, opts...)
	if err != nil {
		t.Fatalf("connect %s/%s: %v", account, user, err)
	}
	t.Cleanup(c.Close)
	return c
}

// flush makes sure the server has processed everything sent so far and
// that everything it sent before is read.
func (c *client) flush(t testing.TB) {
	t.Helper()
	if err := c.FlushTimeout(5 * time.Second); err != nil {
		t.Fatalf("%s: flush: %v", c.name, err)
	}
}

// wantErr waits for an asynchronous error that wraps target and mentions
// about (case-insensitive; "" for anything).
func (c *client) wantErr(t testing.TB, target error, about string) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case err := <-c.errs:
			if errors.Is(err, target) && strings.Contains(strings.ToLower(err.Error()), strings.ToLower(about)) {
				return
			}
			t.Logf("%s: other async error: %v", c.name, err)
		case <-deadline:
			t.Fatalf("%s: no %v about %q", c.name, target, about)
		}
	}
}

// noErr fails if the connection has reported an error. After flush the
// server's -ERR for anything sent before has been read.
func (c *client) noErr(t testing.TB) {
	t.Helper()
	if err := c.LastError(); err != nil {
		t.Fatalf("%s: unexpected error: %v", c.name, err)
	}
	select {
	case err := <-c.errs:
		t.Fatalf("%s: unexpected async error: %v", c.name, err)
	default:
	}
}

// waitClosed waits until the server closes the connection and returns the
// error it was closed with.
func (c *client) waitClosed(t testing.TB, within time.Duration) error {
	t.Helper()
	select {
	case <-c.closed:
		return c.LastError()
	case <-time.After(within):
		t.Fatalf("%s: still connected after %v", c.name, within)
		return nil
	}
}

// nothing asserts that sub has received no message. The caller flushes the
// publisher and then the subscriber's connection first, so a message the
// server delivered would already be queued.
func nothing(t testing.TB, sub *nats.Subscription) {
	t.Helper()
	if m, err := sub.NextMsg(50 * time.Millisecond); err == nil {
		t.Fatalf("subscription %s received %q on %s, want nothing", sub.Subject, m.Data, m.Subject)
	} else if !errors.Is(err, nats.ErrTimeout) {
		t.Fatalf("subscription %s: %v", sub.Subject, err)
	}
}

// receive waits for the next message of sub and returns its data.
func receive(t testing.TB, sub *nats.Subscription) string {
	t.Helper()
	m, err := sub.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatalf("subscription %s: no message: %v", sub.Subject, err)
	}
	return string(m.Data)
}

// within polls cond every 10 ms until it holds or the deadline passes, and
// returns how long that took.
func within(t testing.TB, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(d)
	for {
		if cond() {
			took := time.Since(start)
			t.Logf("%s after %v", what, took.Round(time.Millisecond))
			return took
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// payload is n bytes of data.
func payload(n int) []byte { return []byte(strings.Repeat("x", n)) }

// label names a subtest.
func label(parts ...any) string { return strings.ReplaceAll(fmt.Sprint(parts...), " ", "_") }
