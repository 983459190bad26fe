package main

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// liveDeadline is how soon a CLI change must take effect on a running
// `natsauth serve` (issue 2: "within 1 second").
const liveDeadline = time.Second

// Changes made with the CLI while serve runs take effect without a restart:
// a lowered limit, a new user, a revocation (which closes the open
// connection).
func TestE2ELiveChanges(t *testing.T) {
	t.Parallel()
	h := newE2EHome(t)
	h.must("add", "account", "-n", "Live", "--max-payload", "4K")
	h.must("add", "user", "-n", "u", "-a", "Live", "--allow-pubsub", ">")
	h.must("add", "user", "-n", "victim", "-a", "Live", "--allow-pubsub", ">")
	s := h.serve()

	// cli runs a command and returns when it has returned.
	cli := func(args ...string) time.Time {
		t.Helper()
		start := time.Now()
		h.must(args...)
		done := time.Now()
		t.Logf("natsauth %s took %v", strings.Join(args, " "), done.Sub(start).Round(time.Millisecond))
		return done
	}

	t.Run("limit_lowered", func(t *testing.T) {
		pub := func() string { return rawPublish(t, s, "Live", "u", "live.payload", 3000) }
		if got := pub(); got != "PONG" {
			t.Fatalf("3000 bytes under --max-payload 4K: %q, want PONG", got)
		}
		cli("edit", "account", "Live", "--max-payload", "2K")
		within(t, liveDeadline, "3000-byte publish refused after --max-payload 2K", func() bool {
			return strings.Contains(strings.ToLower(pub()), "maximum payload violation")
		})
		// And a connection made now learns the new limit (in the INFO that
		// follows the first PONG).
		c := s.connect(t, "Live", "u")
		c.flush(t)
		if got := c.MaxPayload(); got != 2000 {
			t.Fatalf("new connection's max_payload = %d, want 2000", got)
		}
	})

	t.Run("user_added", func(t *testing.T) {
		if c, err := s.dial("Live", "newbie"); err == nil {
			c.Close()
			t.Fatal("newbie connected before it was added")
		}
		cli("add", "user", "-n", "newbie", "-a", "Live", "--allow-pubsub", "new.>")
		var c *client
		within(t, liveDeadline, "new user connected", func() bool {
			var err error
			c, err = s.dial("Live", "newbie")
			return err == nil
		})
		defer c.Close()
		if err := c.Publish("new.hello", nil); err != nil {
			t.Fatal(err)
		}
		c.flush(t)
		c.noErr(t)
	})

	t.Run("user_revoked", func(t *testing.T) {
		victim := s.connect(t, "Live", "victim")
		victim.flush(t)
		cli("revocations", "add-user", "-a", "Live", "-n", "victim")
		within(t, liveDeadline, "revoked user's open connection closed", func() bool {
			select {
			case <-victim.closed:
				return true
			default:
				return false
			}
		})
		victim.wantErr(t, nats.ErrAuthRevoked, "")
		c, err := s.dial("Live", "victim")
		if err == nil {
			c.Close()
			t.Fatal("revoked user connected again")
		}
		if !errors.Is(err, nats.ErrAuthorization) {
			t.Fatalf("revoked user: %v, want %v", err, nats.ErrAuthorization)
		}
		// Others in the account are not affected.
		s.connect(t, "Live", "u").flush(t)
	})
}
