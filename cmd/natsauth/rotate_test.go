package main

import (
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/internal/testkit"
	"github.com/natsauth/natsauth/manage"
	"github.com/natsauth/natsauth/store"
)

// jwtIssuers decodes every JWT and creds file under dir and returns the
// files by issuer key.
func jwtIssuers(t *testing.T, dir string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasSuffix(p, ".jwt") || strings.HasSuffix(p, ".creds")) {
			return err
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		tok, err := jwt.ParseDecoratedJWT(raw)
		if err != nil {
			return err
		}
		c, err := jwt.Decode(strings.TrimSpace(tok))
		if err != nil {
			t.Errorf("%s: %v", p, err)
			return nil
		}
		out[c.Claims().Issuer] = append(out[c.Claims().Issuer], p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// connectLoop connects with the creds file again and again until stopped
// and counts successes and failures (with the first failure's error).
type connectLoop struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	firstErr   error
	stop       chan struct{}
	done       sync.WaitGroup
}

func startConnectLoop(url string, creds ...string) *connectLoop {
	l := &connectLoop{stop: make(chan struct{})}
	for _, c := range creds {
		l.done.Add(1)
		go func() {
			defer l.done.Done()
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				nc, err := nats.Connect(url, nats.UserCredentials(c), nats.NoReconnect())
				if err == nil {
					err = nc.Flush()
					nc.Close()
				}
				if err != nil {
					l.failed.Add(1)
					l.mu.Lock()
					if l.firstErr == nil {
						l.firstErr = err
					}
					l.mu.Unlock()
					continue
				}
				l.ok.Add(1)
			}
		}()
	}
	return l
}

func (l *connectLoop) finish() (ok, failed int64, first error) {
	close(l.stop)
	l.done.Wait()
	return l.ok.Load(), l.failed.Load(), l.firstErr
}

// A running `natsauth serve` keeps accepting users with fresh creds all
// through an account signing key rotation; creds signed by the removed key
// are refused; nothing signed by the old key remains in the home.
func TestRotateAccountSigningKeyLive(t *testing.T) {
	c := sqliteHome(t)
	c.must("edit", "account", "A", "--sk", "generate")
	c.must("add", "user", "-a", "A", "-n", "bob", "--allow-pubsub", "rot.>")
	c.must("add", "user", "-a", "A", "-n", "carol", "--allow-pubsub", "rot.>")
	h, err := authority.Open(c.dir)
	if err != nil {
		t.Fatal(err)
	}
	bob, _ := h.User("A", "bob")
	oldKey := bob.Claims.Issuer
	if bob.Claims.IssuerAccount == "" || oldKey == bob.AccountPub {
		t.Fatalf("bob not signed by the account signing key: %s", oldKey)
	}
	bobCreds := h.CredsPath("A", "bob")
	oldCreds := filepath.Join(t.TempDir(), "bob-old.creds")
	raw, _ := os.ReadFile(bobCreds)
	if err := os.WriteFile(oldCreds, raw, 0o600); err != nil {
		t.Fatal(err)
	}

	url := serveHome(t, c)
	// carol stays connected through the rotation and reconnects with her
	// rewritten creds when the old key goes.
	reconnected := make(chan struct{}, 1)
	carol, err := nats.Connect(url, nats.UserCredentials(h.CredsPath("A", "carol")), nats.MaxReconnects(-1),
		nats.ReconnectWait(50*time.Millisecond), nats.ReconnectHandler(func(*nats.Conn) {
			select {
			case reconnected <- struct{}{}:
			default:
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	defer carol.Close()

	loop := startConnectLoop(url, bobCreds, h.CredsPath("A", "alice"))
	// Let the loop run before the rotation starts.
	for deadline := time.Now().Add(10 * time.Second); loop.ok.Load() < 5 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	before := loop.ok.Load()
	out := c.must("rotate", "account-signing-key", "-a", "A", "--server", url)
	during := loop.ok.Load() - before
	ok, failed, first := loop.finish()
	if failed > 0 {
		t.Fatalf("%d of %d connects with fresh creds were refused during the rotation; first: %v\n%s", failed, ok+failed, first, out)
	}
	if during < 3 {
		t.Fatalf("only %d connects ran during the rotation; the test proves nothing", during)
	}
	for _, want := range []string{"step 1/3", "step 2/3: re-issued 2 users", "bob", "carol", "step 3/3", "accept users signed by", "refuse users signed by " + oldKey} {
		if !strings.Contains(out, want) {
			t.Errorf("rotate output lacks %q:\n%s", want, out)
		}
	}

	// The old creds are refused, the new ones accepted.
	if nc, err := nats.Connect(url, nats.UserCredentials(oldCreds), nats.NoReconnect()); err == nil {
		nc.Close()
		t.Fatal("creds signed by the removed key were accepted")
	} else if !strings.Contains(strings.ToLower(err.Error()), "authorization") {
		t.Fatalf("old creds: %v, want an authorization violation", err)
	}
	nc, err := nats.Connect(url, nats.UserCredentials(bobCreds))
	if err != nil {
		t.Fatalf("re-issued bob: %v", err)
	}
	nc.Close()
	select {
	case <-reconnected:
	case <-time.After(10 * time.Second):
		t.Fatal("carol was not reconnected after the old key was removed")
	}
	if err := carol.Publish("rot.x", nil); err != nil {
		t.Fatal(err)
	}
	if err := carol.FlushTimeout(5 * time.Second); err != nil {
		t.Fatalf("carol after reconnecting: %v", err)
	}

	// Nothing in the home is signed by the old key; neither is the store's JWT.
	if files := jwtIssuers(t, c.dir)[oldKey]; len(files) > 0 {
		t.Fatalf("still signed by the old key: %v", files)
	}
	h2, _ := authority.Open(c.dir)
	acc, _ := h2.Account("A")
	if acc.Claims.SigningKeys.Contains(oldKey) {
		t.Fatal("account still lists the old key")
	}
	st, err := store.Open(context.Background(), c.store, store.Options{Policy: h2.Policy()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rec, err := st.Get(context.Background(), acc.Pub)
	if err != nil || rec.JWT != acc.JWT {
		t.Fatalf("store holds another JWT for A: %v", err)
	}
	if rs, _ := h2.PendingRotations(); len(rs) != 0 {
		t.Fatalf("rotation records left: %+v", rs)
	}
	// The audit log records each step: the account twice, each re-issued user.
	got := rotationAudit(t, c, "A")
	for _, want := range []string{"A step 1/3", "A/bob step 2/3", "A/carol step 2/3", "A step 3/3"} {
		if !got[want] {
			t.Errorf("audit log lacks %q (has %v)", want, got)
		}
	}
}

// rotationAudit reads the rotation entries of the audit log for an
// account, as "ACCOUNT[/USER] step N/3".
func rotationAudit(t *testing.T, c *cliHome, account string) map[string]bool {
	t.Helper()
	out := c.must("audit", "--account", account, "--json")
	got := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var e struct{ Action, AccountName, UserName, Detail string }
		var raw map[string]any
		if err := json.Unmarshal([]byte(line), &raw); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		e.Action, _ = raw["action"].(string)
		e.AccountName, _ = raw["account_name"].(string)
		e.UserName, _ = raw["user_name"].(string)
		e.Detail, _ = raw["detail"].(string)
		if e.Action != "rotate signing key" {
			continue
		}
		key := e.AccountName
		if e.UserName != "" {
			key += "/" + e.UserName
		}
		step, _, _ := strings.Cut(e.Detail, ":")
		got[key+" "+step] = true
	}
	return got
}

// --keep-old stops after re-issuing; the next run resumes and finishes.
// Without --server the command waits --settle after each publish.
func TestRotateAccountSigningKeyResumes(t *testing.T) {
	c := sqliteHome(t)
	c.must("edit", "account", "A", "--sk", "generate")
	c.must("add", "user", "-a", "A", "-n", "bob")
	h, _ := authority.Open(c.dir)
	bob, _ := h.User("A", "bob")
	old := bob.Claims.Issuer
	out := c.must("rotate", "account-signing-key", "-a", "A", "--keep-old", "--settle", "10ms")
	if !strings.Contains(out, "--keep-old") || !strings.Contains(out, "no --server") {
		t.Fatalf("output:\n%s", out)
	}
	acc, _ := h.Account("A")
	if !acc.Claims.SigningKeys.Contains(old) || len(acc.Claims.SigningKeys) != 2 {
		t.Fatalf("after --keep-old the account lists %v", acc.Claims.SigningKeys.Keys())
	}
	if _, _, err := c.run("rotate", "account-signing-key", "-a", "A", "--key", "nope"); err == nil ||
		!strings.Contains(err.Error(), "in progress") {
		t.Fatalf("another key during a rotation = %v", err)
	}
	out = c.must("rotate", "account-signing-key", "-a", "A", "--settle", "10ms")
	if !strings.Contains(out, "resuming") || !strings.Contains(out, "re-issued 0 users") || !strings.Contains(out, "removed the old key") {
		t.Fatalf("resume output:\n%s", out)
	}
	acc, _ = h.Account("A")
	if acc.Claims.SigningKeys.Contains(old) || len(acc.Claims.SigningKeys) != 1 {
		t.Fatalf("after finishing the account lists %v", acc.Claims.SigningKeys.Keys())
	}
	// An account without signing keys moves its users to a new one.
	out = c.must("rotate", "account-signing-key", "-a", "SYS", "--settle", "10ms")
	if !strings.Contains(out, "identity key") {
		t.Fatalf("SYS rotation output:\n%s", out)
	}
	sys, _ := h.User("SYS", "sys")
	if sys.Claims.IssuerAccount == "" {
		t.Fatal("sys still signed by the SYS identity key")
	}
}

// The operator signing key rotation across server restarts: the first run
// adds the key, the second refuses until the server trusts it, then
// re-signs and publishes every account and retires the old key; users
// connect throughout, and after the final restart only the new key is
// trusted.
func TestRotateOperatorSigningKeyAcrossRestarts(t *testing.T) {
	c := sqliteHome(t)
	h := openHomeT(t, c)
	old := h.OperatorSigningKeys()[0]
	serve := func() (string, func() error) {
		url, _, stop := bgRun(t, `natsauth serving on (\S+)`, "serve", "--home", c.dir, "--store", c.store, "-a", "127.0.0.1", "-p", "-1")
		return url, stop
	}
	alice := h.CredsPath("A", "alice")
	mustConnect := func(url, creds string) {
		t.Helper()
		nc, err := nats.Connect(url, nats.UserCredentials(creds))
		if err != nil {
			t.Fatalf("connect %s: %v", filepath.Base(creds), err)
		}
		nc.Close()
	}
	url, stop := serve()
	out := c.must("rotate", "operator-signing-key", "--server", url)
	if !strings.Contains(out, "step 1/3") || !strings.Contains(out, "1 of 1 servers that answered do not trust the new key yet") {
		t.Fatalf("first run:\n%s", out)
	}
	pending, _ := openHomeT(t, c).PendingRotation(authority.RotateOperator, "")
	if pending == nil || pending.Old != old {
		t.Fatalf("pending = %+v", pending)
	}
	before := testkit.TreeHash(t, filepath.Join(c.dir, "stores"))
	if _, _, err := c.run("rotate", "operator-signing-key", "--server", url); err == nil ||
		!strings.Contains(err.Error(), "do not trust the new key") || !strings.Contains(err.Error(), "paused") {
		t.Fatalf("second run before a restart = %v", err)
	}
	if _, _, err := c.run("rotate", "operator-signing-key"); err == nil || !strings.Contains(err.Error(), "--servers-restarted") {
		t.Fatalf("second run without --server = %v", err)
	}
	if testkit.TreeHash(t, filepath.Join(c.dir, "stores")) != before {
		t.Fatal("refused runs changed the home")
	}
	mustConnect(url, alice)

	if err := stop(); err != nil {
		t.Fatal(err)
	}
	url, stop = serve()
	mustConnect(url, alice)
	out = c.must("rotate", "operator-signing-key", "--server", url)
	for _, want := range []string{"resuming", "step 2/3: all 1 servers", "re-signed account A", "re-signed account SYS", "step 3/3", "restart every server again"} {
		if !strings.Contains(out, want) {
			t.Errorf("final run lacks %q:\n%s", want, out)
		}
	}
	mustConnect(url, alice)
	mustConnect(url, h.CredsPath("SYS", "sys"))
	if files := jwtIssuers(t, c.dir)[old]; len(files) > 0 {
		t.Fatalf("still signed by the old operator key: %v", files)
	}
	h2 := openHomeT(t, c)
	if keys := h2.OperatorSigningKeys(); len(keys) != 1 || keys[0] == old {
		t.Fatalf("operator keys = %v", keys)
	}
	st, err := store.Open(context.Background(), c.store, store.Options{Policy: h2.Policy()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, name := range []string{"A", "SYS"} {
		acc, _ := h2.Account(name)
		rec, err := st.Get(context.Background(), acc.Pub)
		if err != nil || rec.JWT != acc.JWT {
			t.Fatalf("store copy of %s is not the re-signed JWT: %v", name, err)
		}
	}

	if err := stop(); err != nil {
		t.Fatal(err)
	}
	url, _ = serve()
	mustConnect(url, alice)
	sys, err := nats.Connect(url, nats.UserCredentials(h.CredsPath("SYS", "sys")))
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Close()
	missing, _, err := manage.ServersMissingKey(context.Background(), sys, 300*time.Millisecond, old)
	if err != nil || len(missing) != 1 {
		t.Fatalf("after the last restart the server still trusts the old key (missing=%v, %v)", missing, err)
	}
	got := rotationAudit(t, c, "A")
	if !got["A step 2/3"] {
		t.Errorf("audit log lacks the re-signing of A: %v", got)
	}
	all := c.must("audit", "--json")
	for _, want := range []string{"step 1/3: added operator signing key", "step 3/3: removed operator signing key " + old} {
		if !strings.Contains(all, want) {
			t.Errorf("audit log lacks %q", want)
		}
	}
}
