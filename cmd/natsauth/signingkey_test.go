package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/serving"
)

func openHomeT(t *testing.T, c *cliHome) *authority.Home {
	t.Helper()
	h, err := authority.Open(c.dir)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// Scoped signing keys on a real server: a user added with -K ROLE carries
// no permissions; the role's template is what the server enforces, and a
// template change applies to connected users.
func TestScopedSigningKeyOnServer(t *testing.T) {
	c := sqliteHome(t)
	out := c.must("edit", "account", "A", "--sk", "generate")
	h := openHomeT(t, c)
	acc, _ := h.Account("A")
	if len(acc.Claims.SigningKeys) != 1 || !strings.Contains(out, "added signing key") {
		t.Fatalf("edit account --sk generate:\n%s", out)
	}
	sk := acc.Claims.SigningKeys.Keys()[0]
	out = c.must("edit", "signing-key", "-a", "A", "--sk", sk, "--role", "svc", "--allow-pub", "svc.out", "--allow-sub", "svc.in")
	if !strings.Contains(out, `role "svc"`) || !strings.Contains(out, "svc.out") {
		t.Fatalf("edit signing-key output:\n%s", out)
	}
	out = c.must("add", "user", "-a", "A", "-n", "worker", "-K", "svc")
	if !strings.Contains(out, "scoped") {
		t.Fatalf("add user -K output:\n%s", out)
	}
	u, _ := h.User("A", "worker")
	if u.Claims.Issuer != sk || u.Claims.IssuerAccount != acc.Pub || !u.Claims.HasEmptyPermissions() {
		t.Fatalf("worker: issuer %s perms %+v", u.Claims.Issuer, u.Claims.UserPermissionLimits)
	}
	if _, _, err := c.run("add", "user", "-a", "A", "-n", "w2", "-K", "svc", "--allow-pub", "x"); err == nil ||
		!strings.Contains(err.Error(), "template") {
		t.Fatalf("-K with permissions = %v", err)
	}
	if _, _, err := c.run("add", "user", "-a", "A", "-n", "w2", "-K", "nope"); err == nil || !strings.Contains(err.Error(), "svc") {
		t.Fatalf("-K unknown role = %v", err)
	}
	if _, _, err := c.run("edit", "signing-key", "-a", "A", "--sk", sk, "--expiry", "1d"); err == nil ||
		!strings.Contains(err.Error(), "--expiry belongs to a user") {
		t.Fatalf("edit signing-key --expiry = %v", err)
	}

	url := serveHome(t, c)
	errs := make(chan error, 4)
	nc, err := nats.Connect(url, nats.UserCredentials(h.CredsPath("A", "worker")), nats.MaxReconnects(-1),
		nats.ReconnectWait(20*time.Millisecond),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { errs <- err }))
	if err != nil {
		t.Fatalf("scoped user refused: %v", err)
	}
	defer nc.Close()
	if err := nc.Publish("svc.out", nil); err != nil {
		t.Fatal(err)
	}
	if err := nc.Publish("other", nil); err != nil {
		t.Fatal(err)
	}
	nc.Flush()
	select {
	case err := <-errs:
		if !strings.Contains(err.Error(), "Permissions Violation") || !strings.Contains(err.Error(), "other") {
			t.Fatalf("error = %v", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("publishing outside the role's template was not refused")
	}
	// Changing the template applies to the connected user (servers
	// disconnect it; it reconnects under the new template).
	c.must("edit", "signing-key", "-a", "A", "--sk", "svc", "--allow-pub", "other")
	deadline := time.Now().Add(10 * time.Second)
	for {
		for len(errs) > 0 {
			<-errs
		}
		if nc.IsConnected() {
			_ = nc.Publish("other", nil)
			_ = nc.FlushTimeout(time.Second)
			select {
			case <-errs:
			case <-time.After(200 * time.Millisecond):
				return // accepted under the new template
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("template change did not reach the connected user")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A user issued from a public key: no seed, no creds; generate creds says
// who makes them; the holder's own creds file works on a real server.
func TestAddUserFromPublicKeyCLI(t *testing.T) {
	c := sqliteHome(t)
	kp, _ := nkeys.CreateUser()
	pub, _ := kp.PublicKey()
	seed, _ := kp.Seed()
	out := c.must("add", "user", "-a", "A", "-n", "device", "-k", pub, "--allow-pub", "tele.>")
	if !strings.Contains(out, "holder of the seed") || !strings.Contains(out, "--raw") {
		t.Fatalf("add user -k output:\n%s", out)
	}
	h := openHomeT(t, c)
	if _, err := os.Stat(h.CredsPath("A", "device")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("creds file written: %v", err)
	}
	_, _, err := c.run("generate", "creds", "-a", "A", "-n", "device")
	if err == nil || !strings.Contains(err.Error(), "whoever holds the seed") {
		t.Fatalf("generate creds = %v", err)
	}
	rawJWT := strings.TrimSpace(c.must("describe", "user", "-a", "A", "-n", "device", "--raw"))
	creds, err := jwt.FormatUserConfig(rawJWT, seed)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "device.creds")
	if err := os.WriteFile(path, creds, 0o600); err != nil {
		t.Fatal(err)
	}
	url := serveHome(t, c)
	nc, err := nats.Connect(url, nats.UserCredentials(path))
	if err != nil {
		t.Fatalf("holder's creds: %v", err)
	}
	nc.Close()
	if _, _, err := c.run("add", "user", "-a", "A", "-n", "d2", "-k", string(seed)); err == nil || !strings.Contains(err.Error(), "seed") {
		t.Fatalf("add user -k SEED = %v", err)
	}
}

func TestEditOperatorAndAccountSigningKeys(t *testing.T) {
	c := initHomeWithStore(t)
	h := openHomeT(t, c)
	first := h.OperatorSigningKeys()[0]
	out := c.must("edit", "operator", "--sk", "generate")
	if !strings.Contains(out, "added operator signing key") || !strings.Contains(out, "restart") {
		t.Fatalf("edit operator --sk:\n%s", out)
	}
	h = openHomeT(t, c)
	keys := h.OperatorSigningKeys()
	if len(keys) != 2 || keys[0] != first {
		t.Fatalf("operator keys = %v", keys)
	}
	desc := c.must("describe", "operator")
	if !strings.Contains(desc, keys[1]) || !strings.Contains(desc, "Requires signing keys") {
		t.Fatalf("describe operator:\n%s", desc)
	}
	c.must("edit", "operator", "--rm-sk", keys[1])
	if _, _, err := c.run("edit", "operator", "--rm-sk", first); err == nil || !strings.Contains(err.Error(), "rotate") {
		t.Fatalf("removing the key that signed SYS = %v", err)
	}
	if _, _, err := c.run("edit", "operator"); err == nil || !strings.Contains(err.Error(), "nothing to change") {
		t.Fatalf("edit operator with nothing = %v", err)
	}
	if _, _, err := c.run("edit", "operator", "--sk", "SOABC"); err == nil || !strings.Contains(err.Error(), "seed") {
		t.Fatalf("edit operator --sk SEED = %v", err)
	}

	c.must("add", "account", "-n", "A")
	c.must("edit", "account", "A", "--sk", "generate", "--max-connections", "10")
	acc, _ := openHomeT(t, c).Account("A")
	if len(acc.Claims.SigningKeys) != 1 || acc.Claims.Limits.Conn != 10 {
		t.Fatalf("A: keys %v conns %d", acc.Claims.SigningKeys.Keys(), acc.Claims.Limits.Conn)
	}
	sk := acc.Claims.SigningKeys.Keys()[0]
	desc = c.must("describe", "account", "A")
	if !strings.Contains(desc, "Signing keys") || !strings.Contains(desc, sk) {
		t.Fatalf("describe account:\n%s", desc)
	}
	c.must("add", "user", "-a", "A", "-n", "u")
	if _, _, err := c.run("edit", "account", "A", "--rm-sk", sk); err == nil || !strings.Contains(err.Error(), "rotate account-signing-key") {
		t.Fatalf("removing a key that signed users = %v", err)
	}
	c.must("delete", "user", "-a", "A", "-n", "u")
	c.must("edit", "account", "A", "--rm-sk", sk)
	if _, _, err := c.run("edit", "account", "A", "--sk", "nope"); err == nil || !strings.Contains(err.Error(), "generate or an account public key") {
		t.Fatalf("edit account --sk nope = %v", err)
	}
}

// initHomeWithStore is an initialized home publishing to its SQLite store.
func initHomeWithStore(t *testing.T) *cliHome {
	t.Helper()
	c := newCLIHome(t)
	c.store = serving.DefaultStoreURL(c.dir)
	c.must("init", "-n", "O")
	return c
}

// --require-signing-keys end to end: refused while users are signed by an
// identity key; after moving them (rotate account-signing-key) it is set,
// and a server restarted with the strict operator accepts users signed by
// signing keys (and its own in-process system user) and refuses creds
// signed by an account identity key.
func TestRequireSigningKeysOnServer(t *testing.T) {
	c := sqliteHome(t)
	h := openHomeT(t, c)
	aliceOld := filepath.Join(t.TempDir(), "alice-identity.creds")
	raw, _ := os.ReadFile(h.CredsPath("A", "alice"))
	if err := os.WriteFile(aliceOld, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.run("edit", "operator", "--require-signing-keys"); err == nil ||
		!strings.Contains(err.Error(), "rotate account-signing-key -a A") {
		t.Fatalf("require signing keys with identity-signed users = %v", err)
	}
	for _, acc := range []string{"SYS", "A"} {
		c.must("rotate", "account-signing-key", "-a", acc, "--settle", "1ms")
	}
	out := c.must("edit", "operator", "--require-signing-keys")
	if !strings.Contains(out, "requires signing keys: yes") {
		t.Fatalf("output:\n%s", out)
	}
	url := serveHome(t, c)
	nc, err := nats.Connect(url, nats.UserCredentials(h.CredsPath("A", "alice")))
	if err != nil {
		t.Fatalf("alice (signing key) under strict: %v", err)
	}
	nc.Close()
	// The system user (for --server) works, and the node's claims responder
	// is connected: nsc-style LOOKUP is answered.
	sys, err := nats.Connect(url, nats.UserCredentials(h.CredsPath("SYS", "sys")))
	if err != nil {
		t.Fatalf("sys under strict: %v", err)
	}
	defer sys.Close()
	acc, _ := openHomeT(t, c).Account("A")
	msg, err := sys.Request("$SYS.REQ.ACCOUNT."+acc.Pub+".CLAIMS.LOOKUP", nil, 5*time.Second)
	if err != nil {
		t.Fatalf("claims lookup under strict: %v", err)
	}
	if !strings.HasPrefix(string(msg.Data), "eyJ") {
		t.Fatalf("claims lookup under strict: %q", msg.Data)
	}
	if nc, err := nats.Connect(url, nats.UserCredentials(aliceOld)); err == nil {
		nc.Close()
		t.Fatal("creds signed by the account identity key accepted under require-signing-keys")
	}
	// Adding users keeps working: they are signed by the signing key.
	c.must("add", "user", "-a", "A", "-n", "dave")
	nc, err = nats.Connect(url, nats.UserCredentials(h.CredsPath("A", "dave")))
	if err != nil {
		t.Fatalf("dave: %v", err)
	}
	nc.Close()
}
