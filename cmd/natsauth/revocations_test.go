package main

import (
	"strings"
	"testing"
	"time"

	"github.com/natsauth/natsauth/describe"
)

func TestRevocationsCommands(t *testing.T) {
	c := initHome(t)
	c.must("add", "account", "-n", "MyAccount", "--max-connections", "9")
	c.must("add", "user", "-n", "alice")
	c.must("add", "user", "-n", "bob")

	out := c.must("revocations", "add-user", "-a", "MyAccount", "-n", "alice")
	if !strings.Contains(out, "revoked alice") || !strings.Contains(out, "published account MyAccount") {
		t.Errorf("add-user output:\n%s", out)
	}
	ac := accountClaims(t, c, "MyAccount")
	alice := userClaims(t, c, "MyAccount", "alice")
	if !ac.Revocations.IsRevoked(alice.Subject, time.Unix(alice.IssuedAt, 0)) || ac.Limits.Conn != 9 {
		t.Errorf("alice not revoked or a limit reset: %+v", ac.Revocations)
	}
	var rows []describe.RevocationRow
	if err := jsonUnmarshal(c.must("revocations", "list-users", "--json"), &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].User != "alice" || rows[0].PublicKey != alice.Subject {
		t.Errorf("list-users --json: %+v", rows)
	}
	if out := c.must("list", "users"); !strings.Contains(out, "alice") {
		t.Errorf("list users:\n%s", out)
	}
	var users []describe.UserRow
	_ = jsonUnmarshal(c.must("list", "users", "--json"), &users)
	if len(users) != 2 || !users[0].Revoked || users[1].Revoked {
		t.Errorf("list users revoked flags: %+v", users)
	}

	c.must("revocations", "delete-user", "-n", "alice")
	if out := c.must("revocations", "list-users"); !strings.Contains(out, "no revocations") {
		t.Errorf("after delete-user:\n%s", out)
	}
	_, _, err := c.run("revocations", "delete-user", "-n", "alice")
	if err == nil || !strings.Contains(err.Error(), "not revoked") {
		t.Errorf("delete-user twice = %v", err)
	}
	// A public key of a user not in the home.
	c.must("revocations", "add-user", "-u", "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4", "--at", "1700000000")
	rows = nil
	_ = jsonUnmarshal(c.must("revocations", "list-users", "--json"), &rows)
	if len(rows) != 1 || rows[0].User != "" || rows[0].At != 1700000000 {
		t.Errorf("revocation by key: %+v", rows)
	}
}
