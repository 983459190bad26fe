package main

import (
	"strings"
	"testing"
	"time"
)

func TestDeleteCommands(t *testing.T) {
	c := initHome(t)
	c.must("add", "account", "-n", "MyAccount")
	c.must("add", "user", "-n", "alice")
	c.must("add", "user", "-n", "bob")
	alice := userClaims(t, c, "MyAccount", "alice")

	out := c.must("delete", "user", "bob")
	if !strings.Contains(out, "deleted user bob") || !strings.Contains(out, "stay valid") {
		t.Errorf("delete user output:\n%s", out)
	}
	out = c.must("delete", "user", "-n", "alice", "--revoke")
	if !strings.Contains(out, "revoked") || !strings.Contains(out, "published account MyAccount") {
		t.Errorf("delete --revoke output:\n%s", out)
	}
	ac := accountClaims(t, c, "MyAccount")
	if !ac.Revocations.IsRevoked(alice.Subject, time.Unix(alice.IssuedAt, 0)) {
		t.Errorf("deleted alice not revoked")
	}
	if out := c.must("list", "users"); strings.Contains(out, "alice") || strings.Contains(out, "bob") {
		t.Errorf("users remain:\n%s", out)
	}

	out = c.must("delete", "account", "MyAccount")
	if !strings.Contains(out, "deleted account MyAccount") {
		t.Errorf("delete account output:\n%s", out)
	}
	if out := c.must("list", "accounts"); strings.Contains(out, "MyAccount") {
		t.Errorf("account remains:\n%s", out)
	}
}
