package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/nats-io/jwt/v2"

	"github.com/natsauth/natsauth/describe"
)

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }

func TestDescribeAndList(t *testing.T) {
	c := initHome(t)
	c.must("add", "account", "-n", "MyAccount", "--max-payload", "1MB", "--js-disk-storage", "10GB")
	c.must("add", "user", "-n", "alice", "--allow-pub", "orders.>", "--allow-pub-response", "--response-ttl", "5s")

	out := c.must("describe", "operator")
	for _, want := range []string{"Operator", "MyOperator", "Signing keys", "System account", "SYS A"} {
		if !strings.Contains(out, want) {
			t.Errorf("describe operator lacks %q:\n%s", want, out)
		}
	}
	raw := strings.TrimSpace(c.must("describe", "operator", "--raw"))
	if oc, err := jwt.DecodeOperatorClaims(raw); err != nil || oc.Name != "MyOperator" {
		t.Errorf("describe operator --raw: %v", err)
	}

	out = c.must("describe", "account", "MyAccount")
	for _, want := range []string{"Max payload", "1 MB", "JetStream", "enabled", "10 GB", "Users (1)  alice"} {
		if !strings.Contains(out, want) {
			t.Errorf("describe account lacks %q:\n%s", want, out)
		}
	}
	var ac jwt.AccountClaims
	if err := jsonUnmarshal(c.must("describe", "account", "--json"), &ac); err != nil {
		t.Fatal(err)
	}
	if ac.Name != "MyAccount" || ac.Limits.Payload != 1_000_000 {
		t.Errorf("describe account --json: %+v", ac)
	}
	out = c.must("describe", "account", "SYS")
	for _, want := range []string{"system account", "account-monitoring-services", "$SYS.REQ.ACCOUNT.*.*", "account-monitoring-streams"} {
		if !strings.Contains(out, want) {
			t.Errorf("describe account SYS lacks %q:\n%s", want, out)
		}
	}

	out = c.must("describe", "user", "alice")
	for _, want := range []string{"Publish allow", "orders.>", "Responses", "max 1 per request, within 5s", "Revoked", "Creds"} {
		if !strings.Contains(out, want) {
			t.Errorf("describe user lacks %q:\n%s", want, out)
		}
	}
	var uc jwt.UserClaims
	if err := jsonUnmarshal(c.must("describe", "user", "-n", "alice", "-a", "MyAccount", "--json"), &uc); err != nil {
		t.Fatal(err)
	}
	if uc.Name != "alice" || uc.Permissions.Resp == nil {
		t.Errorf("describe user --json: %+v", uc)
	}

	var accs []describe.AccountRow
	if err := jsonUnmarshal(c.must("list", "accounts", "--json"), &accs); err != nil {
		t.Fatal(err)
	}
	if len(accs) != 2 || accs[0].Name != "MyAccount" || !accs[0].JetStream || accs[0].Users != 1 || !accs[1].System {
		t.Errorf("list accounts --json: %+v", accs)
	}
	if out := c.must("list", "accounts"); !strings.Contains(out, "MyAccount") || !strings.Contains(out, "system account") {
		t.Errorf("list accounts:\n%s", out)
	}
	var users []describe.UserRow
	if err := jsonUnmarshal(c.must("list", "users", "--json"), &users); err != nil {
		t.Fatal(err)
	}
	if len(users) != 1 || users[0].Name != "alice" || users[0].Account != "MyAccount" || users[0].Revoked {
		t.Errorf("list users --json: %+v", users)
	}
	if err := jsonUnmarshal(c.must("list", "users", "-a", "SYS", "--json"), &users); err != nil || len(users) != 1 || users[0].Name != "sys" {
		t.Errorf("list users -a SYS: %+v %v", users, err)
	}
}
