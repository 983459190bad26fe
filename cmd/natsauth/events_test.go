package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/sysevents"
)

// runEvents runs `natsauth events args...` in-process until the test ends
// and returns its stdout once it follows the server's events.
func runEvents(t *testing.T, args ...string) *syncBuffer {
	t.Helper()
	c := startBackground(t, append([]string{"events"}, args...)...)
	c.wait(t, c.errOut, followingRe, 15*time.Second)
	return c.out
}

var followingRe = regexp.MustCompile(`following events on`)

// waitLine waits for an output line containing every one of want.
func waitLine(t *testing.T, out *syncBuffer, want ...string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
	next:
		for _, line := range strings.Split(out.String(), "\n") {
			for _, w := range want {
				if !strings.Contains(line, w) {
					continue next
				}
			}
			return line
		}
		if time.Now().After(deadline) {
			t.Fatalf("no event line with %q in:\n%s", want, out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestEventsFollowsConnectsDisconnectsAndAuthErrors(t *testing.T) {
	h := newE2EHome(t)
	h.must("add", "account", "-n", "A")
	h.must("add", "user", "-n", "alice", "-a", "A")
	h.must("add", "user", "-n", "old", "-a", "A", "--expiry", "2s")
	h.must("add", "user", "-n", "bob", "-a", "A")
	s := h.serve()
	home, err := authority.Open(h.dir)
	if err != nil {
		t.Fatal(err)
	}
	acc, _ := home.Account("A")
	alice, _ := home.User("A", "alice")
	old, _ := home.User("A", "old")
	bob, _ := home.User("A", "bob")

	waitExpired(t, h, "A", "old")
	text := runEvents(t, "--home", h.dir, "--server", s.url)
	jsonOut := runEvents(t, "--home", h.dir, "--server", s.url, "--json")

	// alice connects and leaves.
	c := s.connect(t, "A", "alice")
	c.flush(t)
	line := waitLine(t, text, "CONNECT", "alice ("+alice.Pub+")", "A ("+acc.Pub+")", "from 127.0.0.1", `client "alice"`)
	if strings.Contains(line, "DISCONNECT") {
		t.Fatalf("connect printed as %q", line)
	}
	c.Close()
	waitLine(t, text, "DISCONNECT", "alice ("+alice.Pub+")", ": Client Closed")

	// An expired user is refused: the server's reason and the cause.
	if c, err := s.dial("A", "old"); err == nil {
		c.Close()
		t.Fatal("expired user connected")
	}
	waitLine(t, text, "AUTH ERROR", "old ("+old.Pub+")", acc.Pub, ": Authentication Failure", "[expired: user JWT expired at")

	// bob with alice's seed: a bad signature.
	seed, err := os.ReadFile(home.CredsPath("A", "alice"))
	if err != nil {
		t.Fatal(err)
	}
	aliceKP, err := jwt.ParseDecoratedUserNKey(seed)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(s.url, nats.NoReconnect(), nats.UserJWT(
		func() (string, error) { return bob.JWT, nil },
		func(n []byte) ([]byte, error) { return aliceKP.Sign(n) }))
	if err == nil {
		nc.Close()
		t.Fatal("bob connected with alice's seed")
	}
	waitLine(t, text, "AUTH ERROR", bob.Pub, "[bad_signature: nonce signature does not match")

	// The same events as JSON lines, with no JWT in them.
	var recs []sysevents.Record
	for _, want := range [][]string{
		{`"type":"connect"`, alice.Pub},
		{`"type":"disconnect"`, alice.Pub, `"reason":"Client Closed"`},
		{`"type":"auth_error"`, old.Pub, `"cause":"expired"`, `"reason":"Authentication Failure"`},
		{`"type":"auth_error"`, bob.Pub, `"cause":"bad_signature"`},
	} {
		l := waitLine(t, jsonOut, want...)
		var r sysevents.Record
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("not a JSON line: %q: %v", l, err)
		}
		recs = append(recs, r)
	}
	if recs[0].Account != acc.Pub || recs[0].UserName != "alice" || recs[0].AccountName != "A" || recs[0].Remote != "127.0.0.1" {
		t.Errorf("connect record = %+v", recs[0])
	}
	for _, o := range []*syncBuffer{text, jsonOut} {
		if strings.Contains(o.String(), "eyJ") || strings.Contains(o.String(), "SUA") {
			t.Fatalf("a JWT or seed was printed:\n%s", o.String())
		}
	}
}

func TestEventsRefusesBadCreds(t *testing.T) {
	h := newE2EHome(t)
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.creds")
	os.WriteFile(garbage, []byte("hello SUAGARBAGE"), 0o600)
	for _, tc := range []struct {
		creds, want string
	}{
		{filepath.Join(dir, "missing.creds"), "no such file"},
		{garbage, "not a valid user JWT"},
	} {
		_, _, err := runCLI(t, "events", "--home", h.dir, "--creds", tc.creds, "--server", "nats://127.0.0.1:1")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("--creds %s: err = %v, want %q", tc.creds, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "SUAGARBAGE") {
			t.Errorf("error quotes the file: %v", err)
		}
	}
}
