package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/internal/testkit"
	"github.com/natsauth/natsauth/serving"
	"github.com/natsauth/natsauth/store"
	_ "github.com/natsauth/natsauth/store/backends"
)

// dirStoreHome is an initialized home that publishes to a directory store
// shared by all its commands.
func dirStoreHome(t *testing.T) *cliHome {
	t.Helper()
	c := newCLIHome(t)
	c.store = "dir://" + filepath.Join(t.TempDir(), "jwts") + "?watch=poll"
	c.must("init", "--name", "MyOperator")
	return c
}

// storedJWT reads an account's JWT from the home's store.
func storedJWT(t *testing.T, c *cliHome, h *authority.Home, pub string) (string, error) {
	t.Helper()
	st, err := store.Open(context.Background(), c.store, store.Options{Policy: h.Policy()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rec, err := st.Get(context.Background(), pub)
	return rec.JWT, err
}

func TestEveryAccountChangeIsPublished(t *testing.T) {
	c := dirStoreHome(t)
	h, err := authority.Open(c.dir)
	if err != nil {
		t.Fatal(err)
	}
	check := func(step, name string) {
		t.Helper()
		acc, err := h.Account(name)
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		got, err := storedJWT(t, c, h, acc.Pub)
		if err != nil || got != acc.JWT {
			t.Errorf("%s: the store does not hold the home's JWT of %s (err %v)", step, name, err)
		}
	}
	check("init", "SYS")
	c.must("add", "account", "-n", "A")
	check("add account", "A")
	c.must("edit", "account", "A", "--max-payload", "1MB")
	check("edit account", "A")
	c.must("add", "user", "-n", "u")
	c.must("revocations", "add-user", "-n", "u")
	check("revoke", "A")
	c.must("revocations", "delete-user", "-n", "u")
	check("unrevoke", "A")
	c.must("add", "user", "-n", "v")
	c.must("delete", "user", "v", "--revoke")
	check("delete user --revoke", "A")

	acc, _ := h.Account("A")
	c.must("delete", "account", "A")
	if _, err := storedJWT(t, c, h, acc.Pub); err == nil {
		t.Errorf("deleted account still in the store")
	}
}

// A store that cannot be opened refuses the change before the home is
// written: unknown scheme, a relative SQLite path, a corrupt database.
func TestUnusableStoreRefusesTheChangeFirst(t *testing.T) {
	c := initHome(t)
	c.must("add", "account", "-n", "A")
	corrupt := filepath.Join(t.TempDir(), "corrupt.db")
	if err := os.WriteFile(corrupt, []byte("this is not a database, but it is long enough to look like one to a reader"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ store, want string }{
		{"nosuchscheme://x", "unknown scheme"},
		{"sqlite://relative.db", "relative.db"},
		{"sqlite://" + corrupt, "corrupt.db"},
	} {
		before := testkit.TreeHash(t, c.dir)
		c.store = tc.store
		out, _, err := c.run("edit", "account", "A", "--conns", "3")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("--store %s: err = %v, want it to name %q", tc.store, err, tc.want)
		}
		if after := testkit.TreeHash(t, c.dir); after != before {
			t.Errorf("--store %s: the home changed although the change was refused\n%s", tc.store, out)
		}
	}
}

// A running server of the home that does not apply a change within
// --wait makes the command fail and say so; the home keeps the change.
func TestServerThatDoesNotApplyIsReported(t *testing.T) {
	c := initHome(t)
	c.must("add", "account", "-n", "A")
	reg, err := serving.Register(c.dir, serving.Server{Store: "mem://", ClientURL: "nats://127.0.0.1:1", WatchesHome: true})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	out, _, err := c.run("edit", "account", "A", "--max-connections", "3", "--wait", "300ms")
	if err == nil {
		t.Fatal("edit account succeeded although the running server never applied it")
	}
	for _, want := range []string{"saved in the home", "did not apply the change within 300ms", "nats://127.0.0.1:1", "natsauth push"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if !strings.Contains(out, "edited account A") {
		t.Errorf("output does not say the account was edited:\n%s", out)
	}
	if l := accountClaims(t, c, "A").Limits; l.Conn != 3 {
		t.Errorf("home lost the change: %+v", l)
	}
}

func TestPublishStaleStoreIsReported(t *testing.T) {
	c := dirStoreHome(t)
	c.must("add", "account", "-n", "A")
	h, _ := authority.Open(c.dir)
	acc, _ := h.Account("A")
	// Someone else stored a newer JWT for A (iat a minute ahead, within the
	// allowed clock skew).
	signer, err := h.OperatorSigner()
	if err != nil {
		t.Fatal(err)
	}
	newer := testkit.WithIssuedAt(t, acc.JWT, signer, acc.Claims.IssuedAt+60)
	st, err := store.Open(context.Background(), c.store, store.Options{Policy: h.Policy()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Put(context.Background(), acc.Pub, newer); err != nil {
		t.Fatal(err)
	}
	st.Close()
	_, _, err = c.run("edit", "account", "A", "--max-connections", "1")
	if err == nil || !strings.Contains(err.Error(), "newer JWT") || !strings.Contains(err.Error(), "saved in the home") {
		t.Errorf("edit over a newer stored JWT = %v", err)
	}

	// doctor names the drift, and store replace is the deliberate way out.
	out, _, _ := c.run("doctor")
	if !strings.Contains(out, "store-newer-than-home") || !strings.Contains(out, "store replace A") {
		t.Errorf("doctor does not report the stale store:\n%s", out)
	}
	out = c.must("store", "replace", "A")
	if !strings.Contains(out, "published account A to") {
		t.Errorf("store replace output:\n%s", out)
	}
	home, _ := h.Account("A")
	if got, err := storedJWT(t, c, h, acc.Pub); err != nil || got != home.JWT {
		t.Fatalf("after store replace the store holds another JWT than the home (%v)", err)
	}
	if out, _, _ := c.run("doctor"); strings.Contains(out, "store-newer-than-home") {
		t.Errorf("doctor still reports the drift after store replace:\n%s", out)
	}
	entries := c.must("audit", "--json")
	if !strings.Contains(entries, `"action":"store replace"`) {
		t.Error("store replace is not in the audit log")
	}
}
