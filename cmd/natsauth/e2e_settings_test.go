package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/natsauth/natsauth/authority"
)

// nsc's account and user settings set through the CLI, enforced by a
// running serve: default permissions, bearer users refused, per-user
// limits, connection types, connect-time windows and JetStream tier
// limits; each live change asserted when its command has returned.
func TestE2EAccountAndUserSettings(t *testing.T) {
	t.Parallel()
	h := newE2EHome(t)
	now := time.Now().UTC()
	hm := func(d time.Duration) string { return now.Add(d).Format("15:04:05") }
	h.must("add", "account", "-n", "D", "--allow-pub", "ok.>", "--allow-sub", "ok.>,_INBOX.>", "--disallow-bearer",
		"--description", "default permissions", "--tag", "team")
	h.must("add", "user", "-n", "plain", "-a", "D")
	h.must("add", "user", "-n", "admin", "-a", "D", "--allow-pubsub", ">")
	h.must("add", "user", "-n", "limited", "-a", "D", "--allow-pubsub", ">", "--subs", "2", "--payload", "100", "--data", "1K")
	h.must("add", "user", "-n", "ws", "-a", "D", "--conn-type", "websocket")
	h.must("add", "user", "-n", "tcp", "-a", "D", "--conn-type", "STANDARD,WEBSOCKET")
	h.must("add", "user", "-n", "closed", "-a", "D", "--time", hm(2*time.Hour)+"-"+hm(3*time.Hour), "--locale", "UTC")
	h.must("add", "user", "-n", "open", "-a", "D", "--time", hm(-time.Hour)+"-"+hm(time.Hour), "--locale", "UTC")
	if _, _, err := h.run("add", "user", "-n", "b", "-a", "D", "--bearer"); err == nil {
		t.Fatal("natsauth issued a bearer user in an account that disallows them")
	}
	h.must("add", "account", "-n", "JS", "--js-tier", "1", "--js-mem-storage", "1MB", "--js-disk-storage", "1MB",
		"--js-streams", "1", "--js-max-bytes-required", "--js-max-mem-stream", "4096")
	h.must("add", "user", "-n", "u", "-a", "JS")
	h.must("add", "account", "-n", "Short", "--expiry", "6s") // long enough to connect on a busy machine
	h.must("add", "user", "-n", "u", "-a", "Short")
	s := h.serve("--js")
	short := s.connect(t, "Short", "u")

	t.Run("default_permissions", func(t *testing.T) {
		admin := s.connect(t, "D", "admin")
		all, err := admin.SubscribeSync(">")
		if err != nil {
			t.Fatal(err)
		}
		admin.flush(t)
		plain := s.connect(t, "D", "plain")
		if err := plain.Publish("no.x", []byte("denied")); err != nil {
			t.Fatal(err)
		}
		plain.wantErr(t, nats.ErrPermissionViolation, "no.x")
		if err := plain.Publish("ok.x", []byte("allowed")); err != nil {
			t.Fatal(err)
		}
		plain.flush(t)
		if m, err := all.NextMsg(5 * time.Second); err != nil || m.Subject != "ok.x" {
			t.Fatalf("admin saw %v %v, want only ok.x", msgSubject(m), err)
		}
	})

	t.Run("user_limits", func(t *testing.T) {
		c := s.connect(t, "D", "limited")
		for range 2 {
			if _, err := c.SubscribeSync("s.>"); err != nil {
				t.Fatal(err)
			}
		}
		c.flush(t)
		if _, err := c.SubscribeSync("third"); err != nil {
			t.Fatal(err)
		}
		c.wantErr(t, nats.ErrMaxSubscriptionsExceeded, "")
		// Over its payload limit the server refuses the message and closes
		// the connection (spoken raw: nats.go would refuse it first).
		if got := rawPublish(t, s, "D", "limited", "p", 100); got != "PONG" {
			t.Errorf("100 bytes under --payload 100: %q, want PONG", got)
		}
		if got := rawPublish(t, s, "D", "limited", "p", 200); !strings.Contains(strings.ToLower(got), "maximum payload") {
			t.Errorf("200 bytes over --payload 100: %q, want a payload violation", got)
		}
	})

	t.Run("connection_types", func(t *testing.T) {
		if c, err := s.dial("D", "ws"); err == nil {
			c.Close()
			t.Fatal("a websocket-only user connected over TCP")
		} else if !strings.Contains(strings.ToLower(err.Error()), "authorization") {
			t.Errorf("websocket-only user over TCP: %v", err)
		}
		s.connect(t, "D", "tcp")
		h.must("edit", "user", "ws", "-a", "D", "--conn-type", "STANDARD") // new creds: nothing to publish
		s.connect(t, "D", "ws")
	})

	t.Run("time_window", func(t *testing.T) {
		if c, err := s.dial("D", "closed"); err == nil {
			c.Close()
			t.Fatal("a user connected outside its time window")
		}
		s.connect(t, "D", "open")
		h.must("edit", "user", "closed", "-a", "D", "--rm-time", hm(2*time.Hour))
		s.connect(t, "D", "closed")
	})

	t.Run("bearer_refused_when_disallowed", func(t *testing.T) {
		home, err := authority.Open(h.dir)
		if err != nil {
			t.Fatal(err)
		}
		acc, err := home.Account("D")
		if err != nil {
			t.Fatal(err)
		}
		bearer := bearerJWT(t, home, acc.Pub)
		if nc, err := nats.Connect(s.url, bearer, nats.NoReconnect()); err == nil {
			nc.Close()
			t.Fatal("a bearer user of an account that disallows them connected")
		}
		h.applied("D", "edit", "account", "D", "--disallow-bearer=false")
		nc, err := nats.Connect(s.url, bearer, nats.NoReconnect())
		if err != nil {
			t.Fatalf("bearer user after --disallow-bearer=false: %v", err)
		}
		nc.Close()
	})

	t.Run("jetstream_tier_limits", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		js, err := jetstream.New(s.connect(t, "JS", "u").Conn)
		if err != nil {
			t.Fatal(err)
		}
		mem := func(name string, maxBytes int64) error {
			_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{strings.ToLower(name)},
				Storage: jetstream.MemoryStorage, MaxBytes: maxBytes})
			return err
		}
		if err := mem("NOMAX", 0); err == nil {
			t.Error("a stream without max bytes was created; --js-max-bytes-required")
		}
		if err := mem("BIG", 8192); err == nil {
			t.Error("a memory stream of 8192 bytes was created; --js-max-mem-stream 4096")
		}
		if err := mem("S1", 4096); err != nil {
			t.Fatal(err)
		}
		if err := mem("S2", 1024); err == nil {
			t.Error("a second stream was created; --js-streams 1")
		}
		h.applied("JS", "edit", "account", "JS", "--js-tier", "1", "--js-streams", "2")
		if err := mem("S2", 1024); err != nil {
			t.Errorf("second stream after --js-streams 2: %v", err)
		}
	})

	t.Run("account_expiry", func(t *testing.T) {
		short.waitClosed(t, 20*time.Second)
		if c, err := s.dial("Short", "u"); err == nil {
			c.Close()
			t.Error("a user of an expired account connected")
		}
	})
}

// bearerJWT is a bearer user of an account, signed elsewhere with the
// account's key: what a server must refuse when the account disallows
// bearer users.
func bearerJWT(t *testing.T, h *authority.Home, account string) nats.Option {
	t.Helper()
	kp, err := h.AccountSigner(account)
	if err != nil {
		t.Fatal(err)
	}
	ukp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := ukp.PublicKey()
	uc := jwt.NewUserClaims(pub)
	uc.BearerToken = true
	tok, err := uc.Encode(kp)
	if err != nil {
		t.Fatal(err)
	}
	return nats.UserJWT(func() (string, error) { return tok, nil }, func([]byte) ([]byte, error) { return nil, nil })
}
