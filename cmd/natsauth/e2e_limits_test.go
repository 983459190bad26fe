package main

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/internal/testkit"
)

// Account limits set with the CLI are enforced by the server.
func TestE2EAccountLimits(t *testing.T) {
	t.Parallel()
	h := newE2EHome(t)
	h.must("add", "account", "-n", "Payload", "--max-payload", "1K")
	h.must("add", "account", "-n", "Conns", "--max-connections", "2")
	h.must("add", "account", "-n", "Subs", "--subscriptions", "3") // nsc's name
	for _, acc := range []string{"Payload", "Conns", "Subs"} {
		h.must("add", "user", "-n", "u", "-a", acc, "--allow-pubsub", ">")
		h.must("add", "user", "-n", "watcher", "-a", acc, "--allow-pubsub", ">")
	}
	s := h.serve()

	t.Run("max-payload", func(t *testing.T) {
		watcher := s.connect(t, "Payload", "watcher")
		sub, err := watcher.SubscribeSync("big")
		if err != nil {
			t.Fatal(err)
		}
		watcher.flush(t)
		u := s.connect(t, "Payload", "u")
		if err := u.Publish("big", payload(1000)); err != nil {
			t.Fatalf("publish 1000 bytes: %v", err)
		}
		u.flush(t)
		watcher.flush(t)
		if got := receive(t, sub); len(got) != 1000 {
			t.Fatalf("got %d bytes", len(got))
		}
		// The client refuses 1001 bytes itself: it learned the limit.
		if err := u.Publish("big", payload(1001)); !errors.Is(err, nats.ErrMaxPayload) {
			t.Fatalf("nats.go published 1001 bytes: %v, want %v", err, nats.ErrMaxPayload)
		}
		// The server refuses them too: a raw client that ignores the limit
		// gets a maximum payload violation.
		if got := rawPublish(t, s, "Payload", "u", "big", 1001); !strings.Contains(strings.ToLower(got), "maximum payload violation") {
			t.Fatalf("server answered %q to a 1001-byte PUB, want a maximum payload violation", got)
		}
		if got := rawPublish(t, s, "Payload", "u", "big", 1000); got != "PONG" {
			t.Fatalf("server answered %q to a 1000-byte PUB, want PONG", got)
		}
		if got := receive(t, sub); len(got) != 1000 {
			t.Fatalf("got %d bytes", len(got))
		}
		watcher.flush(t)
		nothing(t, sub)
	})

	t.Run("max-connections", func(t *testing.T) {
		s.connect(t, "Conns", "u")
		s.connect(t, "Conns", "watcher")
		c, err := s.dial("Conns", "u")
		if err == nil {
			c.Close()
			t.Fatal("third connection accepted with --max-connections 2")
		}
		if !errors.Is(err, nats.ErrMaxAccountConnectionsExceeded) {
			t.Fatalf("third connection: %v, want %v", err, nats.ErrMaxAccountConnectionsExceeded)
		}
	})

	t.Run("max-subscriptions", func(t *testing.T) {
		watcher := s.connect(t, "Subs", "watcher")
		u := s.connect(t, "Subs", "u")
		var subs []*nats.Subscription
		for _, subj := range []string{"s.1", "s.2", "s.3", "s.4"} {
			sub, err := u.SubscribeSync(subj)
			if err != nil {
				t.Fatal(err)
			}
			subs = append(subs, sub)
		}
		u.flush(t)
		u.wantErr(t, nats.ErrMaxSubscriptionsExceeded, "")
		for _, subj := range []string{"s.1", "s.2", "s.3", "s.4"} {
			if err := watcher.Publish(subj, []byte(subj)); err != nil {
				t.Fatal(err)
			}
		}
		watcher.flush(t)
		u.flush(t)
		for _, sub := range subs[:3] {
			if got := receive(t, sub); got != sub.Subject {
				t.Fatalf("%s got %q", sub.Subject, got)
			}
		}
		nothing(t, subs[3])
	})
}

// Expiry, bearer tokens and source networks of users.
func TestE2EUserAuthentication(t *testing.T) {
	t.Parallel()
	h := newE2EHome(t)
	h.must("add", "account", "-n", "A")
	// A user is never born expired: a past expiry is refused, home untouched.
	before := testkit.TreeHash(t, h.dir)
	for _, exp := range []string{"--expiry=-1d", "--expiry=2000-01-01"} {
		if _, _, err := h.run("add", "user", "-n", "born-expired", "--allow-pubsub", ">", exp); err == nil ||
			!strings.Contains(err.Error(), "in the past") {
			t.Fatalf("add user %s: %v, want a refusal of the past expiry", exp, err)
		}
	}
	if testkit.TreeHash(t, h.dir) != before {
		t.Fatal("a refused add user changed the home")
	}
	h.must("add", "user", "-n", "expired", "--allow-pubsub", ">", "--expiry", "2s")
	h.must("add", "user", "-n", "forever", "--allow-pubsub", ">", "--expiry", "30d")
	h.must("add", "user", "-n", "future", "--allow-pubsub", ">", "--start", "1h")
	h.must("add", "user", "-n", "token", "--allow-pubsub", ">", "--bearer")
	h.must("add", "user", "-n", "office", "--allow-pubsub", ">", "--source-network", "10.9.9.0/24")
	h.must("add", "user", "-n", "local", "--allow-pubsub", ">", "--source-network", "10.9.9.0/24,127.0.0.1/32")
	s := h.serve()

	t.Run("expired_users_are_refused", func(t *testing.T) {
		waitExpired(t, h, "A", "expired")
		for _, u := range []string{"expired"} {
			c, err := s.dial("A", u)
			if err == nil {
				c.Close()
				t.Fatalf("%s connected", u)
			}
			if !errors.Is(err, nats.ErrAuthorization) && !errors.Is(err, nats.ErrAuthExpired) {
				t.Fatalf("%s: %v, want an authorization error", u, err)
			}
		}
		s.connect(t, "A", "forever")
	})

	t.Run("not_yet_valid_user_is_refused", func(t *testing.T) {
		c, err := s.dial("A", "future")
		if err == nil {
			c.Close()
			t.Fatal("future (--start 1h) connected")
		}
		if !errors.Is(err, nats.ErrAuthorization) {
			t.Fatalf("future: %v, want %v", err, nats.ErrAuthorization)
		}
	})

	t.Run("expiry_while_connected_disconnects", func(t *testing.T) {
		// JWT times are whole seconds: 3s leaves room to connect first.
		h.must("add", "user", "-n", "brief", "-a", "A", "--allow-pubsub", ">", "--expiry", "3s")
		c := s.connect(t, "A", "brief")
		c.flush(t)
		c.waitClosed(t, 10*time.Second)
		c.wantErr(t, nats.ErrAuthExpired, "")
		var err error
		// JWT expiry has whole seconds, and nats-server accepts a JWT during
		// its expiry second (then closes it at once): from the next second
		// on, it is refused.
		ujwt, err := credsJWT(s.h.creds("A", "brief"))
		if err != nil {
			t.Fatal(err)
		}
		uc, err := jwt.DecodeUserClaims(ujwt)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Until(time.Unix(uc.Expires+1, 0)))
		c, err = s.dial("A", "brief")
		if err == nil {
			c.Close()
			t.Fatal("brief connected again after its expiry")
		}
		if !errors.Is(err, nats.ErrAuthorization) {
			t.Fatalf("brief after its expiry: %v, want %v", err, nats.ErrAuthorization)
		}
	})

	t.Run("bearer_connects_without_signing_the_nonce", func(t *testing.T) {
		// The client sends no signature at all.
		if err := connectUnsigned(s, "A", "token"); err != nil {
			t.Fatalf("bearer user without a signature: %v", err)
		}
		// The same for a user that is not a bearer is refused.
		err := connectUnsigned(s, "A", "forever")
		if !errors.Is(err, nats.ErrAuthorization) {
			t.Fatalf("non-bearer user without a signature: %v, want %v", err, nats.ErrAuthorization)
		}
	})

	t.Run("source-network", func(t *testing.T) {
		c, err := s.dial("A", "office")
		if err == nil {
			c.Close()
			t.Fatal("office (10.9.9.0/24) connected from 127.0.0.1")
		}
		if !errors.Is(err, nats.ErrAuthorization) {
			t.Fatalf("office: %v, want %v", err, nats.ErrAuthorization)
		}
		s.connect(t, "A", "local")
	})
}

// connectUnsigned connects with the user's JWT from its creds file and an
// empty nonce signature, and publishes once.
func connectUnsigned(s *e2eServer, account, user string) error {
	jwt, err := credsJWT(s.h.creds(account, user))
	if err != nil {
		return err
	}
	nc, err := nats.Connect(s.url, nats.NoReconnect(),
		nats.UserJWT(func() (string, error) { return jwt, nil }, func([]byte) ([]byte, error) { return nil, nil }))
	if err != nil {
		return err
	}
	defer nc.Close()
	if err := nc.Publish("hello", nil); err != nil {
		return err
	}
	return nc.Flush()
}

// credsJWT reads the user JWT of a creds file.
func credsJWT(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return nkeys.ParseDecoratedJWT(b)
}

// rawPublish speaks the client protocol directly, so that no client-side
// check stands between a publish and the server: it authenticates as the
// user (signing the nonce with the seed of its creds file), sends PUB with
// n bytes and PING, and returns the server's first answer (PONG or -ERR).
func rawPublish(t testing.TB, s *e2eServer, account, user, subject string, n int) string {
	t.Helper()
	creds, err := os.ReadFile(s.h.creds(account, user))
	if err != nil {
		t.Fatal(err)
	}
	jwt, err := nkeys.ParseDecoratedJWT(creds)
	if err != nil {
		t.Fatal(err)
	}
	kp, err := nkeys.ParseDecoratedNKey(creds)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(s.url, "nats://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(conn)
	line, err := r.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "INFO ") {
		t.Fatalf("read INFO: %q, %v", line, err)
	}
	var info struct {
		Nonce string `json:"nonce"`
	}
	if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "INFO ")), &info); err != nil {
		t.Fatal(err)
	}
	sig, err := kp.Sign([]byte(info.Nonce))
	if err != nil {
		t.Fatal(err)
	}
	connect, _ := json.Marshal(map[string]any{
		"jwt": jwt, "sig": base64.RawURLEncoding.EncodeToString(sig),
		"verbose": false, "pedantic": false, "protocol": 1, "name": "raw",
	})
	fmt.Fprintf(conn, "CONNECT %s\r\nPUB %s %d\r\n%s\r\nPING\r\n", connect, subject, n, payload(n))
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("read answer: %v", err)
		}
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "INFO ") || line == "+OK" {
			continue
		}
		return line
	}
}

// waitExpired waits until a user's JWT has expired (JWT times are whole
// seconds).
func waitExpired(t *testing.T, h *e2eHome, account, user string) {
	t.Helper()
	home, err := authority.Open(h.dir)
	if err != nil {
		t.Fatal(err)
	}
	u, err := home.User(account, user)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(time.Unix(u.Claims.Expires+1, 0)))
}
