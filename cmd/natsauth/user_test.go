package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"

	"github.com/natsauth/natsauth/authority"
)

func userClaims(t testing.TB, c *cliHome, account, name string) *jwt.UserClaims {
	t.Helper()
	h, err := authority.Open(c.dir)
	if err != nil {
		t.Fatal(err)
	}
	u, err := h.User(account, name)
	if err != nil {
		t.Fatal(err)
	}
	return u.Claims
}

func TestWalkthroughUsers(t *testing.T) {
	c := initHome(t)
	c.must("add", "account", "-n", "MyAccount")
	// -a is left out: MyAccount is the only account besides SYS.
	c.must("add", "user", "-n", "alice", "--allow-pub", "orders.>", "--allow-sub", "orders.alice.>", "--allow-pub-response")
	c.must("add", "user", "-n", "bob", "--allow-pub", "inventory.>", "--allow-sub", "inventory.>", "--deny-pub", "inventory.delete")
	c.must("add", "user", "-n", "admin", "--allow-pub", ">", "--allow-sub", ">")

	alice := userClaims(t, c, "MyAccount", "alice").Permissions
	if !reflect.DeepEqual([]string(alice.Pub.Allow), []string{"orders.>"}) ||
		!reflect.DeepEqual([]string(alice.Sub.Allow), []string{"orders.alice.>"}) ||
		alice.Resp == nil || alice.Resp.MaxMsgs != 1 {
		t.Errorf("alice: %+v", alice)
	}
	bob := userClaims(t, c, "MyAccount", "bob").Permissions
	if !reflect.DeepEqual([]string(bob.Pub.Deny), []string{"inventory.delete"}) || bob.Resp != nil {
		t.Errorf("bob: %+v", bob)
	}
	admin := userClaims(t, c, "MyAccount", "admin").Permissions
	if !reflect.DeepEqual([]string(admin.Pub.Allow), []string{">"}) || !reflect.DeepEqual([]string(admin.Sub.Allow), []string{">"}) {
		t.Errorf("admin: %+v", admin)
	}
}

func TestUserFlags(t *testing.T) {
	c := initHome(t)
	c.must("add", "account", "-n", "A")
	c.must("add", "account", "-n", "B")
	before := time.Now().Add(30 * 24 * time.Hour).Unix()
	c.must("add", "user", "svc", "-a", "B",
		"--allow-pub", "a.>,b.*", "--allow-pub", "c",
		"--allow-sub", "jobs.* workers", "--allow-pubsub", "both", "--deny-pub", "a.secret",
		"--deny-sub", "x.>", "--deny-pubsub", "never",
		"--allow-pub-response=3", "--response-ttl", "5s", "--expiry", "30d", "--start", "2020-01-01",
		"--bearer", "--source-network", "10.0.0.0/8,127.0.0.1", "--tag", "Team:X", "--tag", "prod")
	after := time.Now().Add(30 * 24 * time.Hour).Unix()
	uc := userClaims(t, c, "B", "svc")
	p := uc.Permissions
	eq := func(what string, got jwt.StringList, want ...string) {
		t.Helper()
		if !reflect.DeepEqual([]string(got), want) {
			t.Errorf("%s = %q, want %q", what, got, want)
		}
	}
	eq("pub allow", p.Pub.Allow, "a.>", "b.*", "both", "c")
	eq("pub deny", p.Pub.Deny, "a.secret", "never")
	eq("sub allow", p.Sub.Allow, "both", "jobs.* workers")
	eq("sub deny", p.Sub.Deny, "never", "x.>")
	if p.Resp == nil || p.Resp.MaxMsgs != 3 || p.Resp.Expires != 5*time.Second {
		t.Errorf("resp = %+v", p.Resp)
	}
	if uc.Expires < before || uc.Expires > after {
		t.Errorf("expiry %d not 30 days from now (%d..%d)", uc.Expires, before, after)
	}
	if uc.NotBefore != time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).Unix() || !uc.BearerToken {
		t.Errorf("nbf %d bearer %v", uc.NotBefore, uc.BearerToken)
	}
	eq("src", jwt.StringList(uc.Src), "10.0.0.0/8", "127.0.0.1/32")
	eq("tags", jwt.StringList(uc.Tags), "prod", "team:x")

	c.must("edit", "user", "svc", "-a", "B", "--rm", "a.secret,c", "--rm-response-perms", "--bearer=false",
		"--rm-tag", "prod", "--rm-source-network", "127.0.0.1", "--expiry", "0", "--allow-sub", "new.>")
	uc = userClaims(t, c, "B", "svc")
	eq("pub allow after rm", uc.Permissions.Pub.Allow, "a.>", "b.*", "both")
	eq("pub deny after rm", uc.Permissions.Pub.Deny, "never")
	eq("sub allow after edit", uc.Permissions.Sub.Allow, "both", "jobs.* workers", "new.>")
	if uc.Permissions.Resp != nil || uc.BearerToken || uc.Expires != 0 || len(uc.Tags) != 1 || len(uc.Src) != 1 {
		t.Errorf("after edit: %+v", uc)
	}
	// The creds file follows the edit.
	h, _ := authority.Open(c.dir)
	u, _ := h.User("B", "svc")
	creds, err := os.ReadFile(filepath.Join(c.dir, "keys", "creds", "MyOperator", "B", "svc.creds"))
	if err != nil {
		t.Fatal(err)
	}
	if tok, _ := jwt.ParseDecoratedJWT(creds); tok != u.JWT {
		t.Errorf("creds not re-issued")
	}
}

func TestEditRevokedUserWarns(t *testing.T) {
	c := initHome(t)
	c.must("add", "account", "-n", "A")
	c.must("add", "user", "-n", "u")
	c.must("revocations", "add-user", "-n", "u", "--at", "2099-01-01")
	_, errOut, err := c.run("edit", "user", "u", "--allow-pub", "x")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(errOut, "warning") {
		t.Errorf("warned although the future revocation still covers the new JWT: %s", errOut)
	}
	c.must("revocations", "delete-user", "-n", "u")
	c.must("revocations", "add-user", "-n", "u", "--at", "2001-01-01")
	c.must("edit", "user", "u", "--allow-pub", "y")
}
