package manage_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsauth/natsauth/declare"
	"github.com/natsauth/natsauth/manage"
)

// connect connects a user with a creds file; asyncErrs gets the errors the
// server reports on the connection (permission violations).
func connect(t *testing.T, url, creds string) (*nats.Conn, chan error) {
	t.Helper()
	errs := make(chan error, 16)
	nc, err := nats.Connect(url, nats.UserCredentials(creds), nats.NoReconnect(),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			select {
			case errs <- err:
			default:
			}
		}))
	if err != nil {
		t.Fatalf("connect with %s: %v", filepath.Base(creds), err)
	}
	t.Cleanup(nc.Close)
	return nc, errs
}

// delivered reports whether publishing subject on pub reaches sub.
func delivered(t *testing.T, pub *nats.Conn, sub *nats.Subscription, subject string) bool {
	t.Helper()
	if err := pub.Publish(subject, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := pub.Flush(); err != nil {
		t.Fatal(err)
	}
	for {
		m, err := sub.NextMsg(500 * time.Millisecond)
		if err != nil {
			return false
		}
		if m.Subject == subject {
			return true
		}
	}
}

// fieldChanged reports whether the plan changes obj ("account A",
// "user A/alice") with action and a field whose path has prefix path.
func fieldChanged(p *declare.Plan, action, obj, path string) bool {
	for _, c := range p.Changes {
		if c.Action != action || c.Object.String() != obj {
			continue
		}
		if path == "" {
			return true
		}
		for _, f := range c.Fields {
			if strings.HasPrefix(f.Path, path) {
				return true
			}
		}
	}
	return false
}

const liveV1 = `version: 1
accounts:
  A:
    limits:
      max-payload: ${PAYLOAD:-1MB}
    users:
      alice:
        allow-pub: ["${ALICE_PUB:-orders.>}"]
        allow-sub: [_INBOX.>]
      bob:
        allow-pub: [">"]
        allow-sub: [">"]
      # carol
  B:
    users:
      clock:
        allow-sub: [time.now]
        allow-pub-response: 1
`

// Each kind of change — a limit, a permission, a new user, a user removed
// with --prune, a new export and import — is planned, applied and enforced
// by a running server of the home, which the apply waits for.
func TestEachKindOfChangeIsEnforcedLive(t *testing.T) {
	cfg := newHome(t)
	m := open(t, cfg)
	ctx := context.Background()
	n := serve(t, cfg.Home, "sqlite://"+filepath.Join(t.TempDir(), "node.db"))
	credsDir := t.TempDir()
	vars := map[string]string{}
	text := liveV1
	step := func(o manage.ApplyOptions) *manage.Applied {
		t.Helper()
		f := parseFile(t, "authority.yaml", text, vars)
		o.CredsDir = credsDir
		out := apply(t, m, f, o)
		acks := 0
		for _, d := range out.Result.Deliveries {
			if d.Server != nil {
				acks++
			}
		}
		if len(out.Result.Deliveries) > 0 && acks == 0 {
			t.Fatalf("no running server acknowledged the apply: %+v", out.Result.Deliveries)
		}
		return out
	}
	planOf := func(o manage.PlanOptions) *declare.Plan {
		t.Helper()
		return plan(t, m, parseFile(t, "authority.yaml", text, vars), o)
	}
	step(manage.ApplyOptions{})
	creds := func(acc, user string) string { return filepath.Join(credsDir, acc, user+".creds") }
	bob, _ := connect(t, n.ClientURL(), creds("A", "bob"))
	all, err := bob.SubscribeSync(">")
	if err != nil {
		t.Fatal(err)
	}
	if err := bob.Flush(); err != nil {
		t.Fatal(err)
	}
	alice, _ := connect(t, n.ClientURL(), creds("A", "alice"))
	if !delivered(t, alice, all, "orders.new") {
		t.Fatal("alice cannot publish orders.new")
	}

	t.Run("limit", func(t *testing.T) {
		vars["PAYLOAD"] = "100"
		if p := planOf(manage.PlanOptions{}); len(p.Changes) != 1 || !fieldChanged(p, "update", "account A", "nats.limits.payload") {
			t.Fatalf("plan = %+v", p.Changes)
		}
		step(manage.ApplyOptions{})
		nc, _ := connect(t, n.ClientURL(), creds("A", "alice"))
		if err := nc.Flush(); err != nil { // the server's INFO with the account's limit comes first
			t.Fatal(err)
		}
		if nc.MaxPayload() != 100 {
			t.Fatalf("max payload %d, want 100", nc.MaxPayload())
		}
		if err := nc.Publish("orders.big", make([]byte, 200)); !errors.Is(err, nats.ErrMaxPayload) {
			t.Fatalf("a 200-byte message: %v", err)
		}
	})
	t.Run("permission", func(t *testing.T) {
		vars["ALICE_PUB"] = "billing.>"
		if p := planOf(manage.PlanOptions{}); len(p.Changes) != 1 || !fieldChanged(p, "update", "user A/alice", "nats.pub.allow") {
			t.Fatalf("plan = %+v", p.Changes)
		}
		step(manage.ApplyOptions{})
		// A changed user's creds are rewritten in the home.
		nc, errs := connect(t, n.ClientURL(), m.Home().CredsPath("A", "alice"))
		if delivered(t, nc, all, "orders.new") {
			t.Fatal("alice still publishes orders.new")
		}
		select {
		case err := <-errs:
			if !strings.Contains(strings.ToLower(err.Error()), "permissions violation") {
				t.Fatalf("error %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no permissions violation reported")
		}
		if !delivered(t, nc, all, "billing.x") {
			t.Fatal("alice cannot publish billing.x")
		}
	})
	t.Run("new user", func(t *testing.T) {
		text = strings.Replace(text, "      # carol\n", "      carol:\n        allow-pub: [carol.>]\n", 1)
		if p := planOf(manage.PlanOptions{}); len(p.Changes) != 1 || !fieldChanged(p, "create", "user A/carol", "nats.pub.allow") {
			t.Fatalf("plan = %+v", p.Changes)
		}
		out := step(manage.ApplyOptions{})
		if len(out.Creds) != 1 || out.Creds[0] != creds("A", "carol") {
			t.Fatalf("creds written: %v", out.Creds)
		}
		if fi, err := os.Stat(creds("A", "carol")); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("carol's creds: %v %v", fi, err)
		}
		nc, _ := connect(t, n.ClientURL(), creds("A", "carol"))
		if !delivered(t, nc, all, "carol.hello") {
			t.Fatal("carol cannot publish carol.hello")
		}
	})
	t.Run("removed user with prune", func(t *testing.T) {
		text = strings.Replace(text, "      bob:\n        allow-pub: [\">\"]\n        allow-sub: [\">\"]\n", "", 1)
		f := parseFile(t, "authority.yaml", text, vars)
		p := plan(t, m, f, manage.PlanOptions{})
		if len(p.Changes) != 0 || len(p.Unmanaged) != 1 || p.Unmanaged[0].String() != "user A/bob" {
			t.Fatalf("without --prune: changes %+v, left alone %+v", p.Changes, p.Unmanaged)
		}
		p = plan(t, m, f, manage.PlanOptions{Prune: true})
		if !fieldChanged(p, "delete", "user A/bob", "") || !fieldChanged(p, "update", "account A", "nats.revocations") {
			t.Fatalf("with --prune: %+v", p.Changes)
		}
		closed := make(chan struct{})
		bob.SetClosedHandler(func(*nats.Conn) { close(closed) })
		apply(t, m, f, manage.ApplyOptions{Prune: true})
		select {
		case <-closed:
		case <-time.After(10 * time.Second):
			t.Fatal("bob's connection is open after he was pruned")
		}
		if nc, err := nats.Connect(n.ClientURL(), nats.UserCredentials(creds("A", "bob")), nats.NoReconnect()); err == nil {
			nc.Close()
			t.Fatal("bob connects after he was pruned")
		}
		if _, err := m.Home().User("A", "bob"); err == nil {
			t.Fatal("bob is still in the home")
		}
	})
	t.Run("export and import", func(t *testing.T) {
		// One file change adds an export and the import that needs it.
		text = strings.Replace(text, "  B:\n", "  B:\n    exports:\n      - {subject: time.now, type: service}\n", 1)
		text = strings.Replace(text, "  B:\n", "    imports:\n      - {account: B, subject: time.now, type: service}\n  B:\n", 1)
		vars["ALICE_PUB"] = "time.now"
		f := parseFile(t, "authority.yaml", text, vars)
		p := plan(t, m, f, manage.PlanOptions{})
		if len(p.Changes) != 3 || !fieldChanged(p, "update", "account B", "nats.exports") ||
			!fieldChanged(p, "update", "account A", "nats.imports") || !fieldChanged(p, "update", "user A/alice", "nats.pub.allow") {
			t.Fatalf("plan = %+v", p.Changes)
		}
		apply(t, m, f, manage.ApplyOptions{})
		clock, _ := connect(t, n.ClientURL(), creds("B", "clock"))
		if _, err := clock.Subscribe("time.now", func(msg *nats.Msg) { _ = msg.Respond([]byte("noon")) }); err != nil {
			t.Fatal(err)
		}
		if err := clock.Flush(); err != nil {
			t.Fatal(err)
		}
		nc, _ := connect(t, n.ClientURL(), m.Home().CredsPath("A", "alice"))
		msg, err := nc.Request("time.now", nil, 5*time.Second)
		if err != nil || string(msg.Data) != "noon" {
			t.Fatalf("alice's request through the import: %v %v", msg, err)
		}
		if p := plan(t, m, f, manage.PlanOptions{}); !p.Empty() {
			t.Fatalf("plan after apply: %+v", p.Changes)
		}
	})
	_ = ctx
}
