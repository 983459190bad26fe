package main

import (
	"testing"

	"github.com/nats-io/nats.go"
)

// walkthroughHome sets up the walkthrough's account and users through the
// CLI, with the walkthrough's flags, plus users for wildcard, queue and
// request-reply permissions.
func walkthroughHome(t *testing.T) *e2eHome {
	t.Helper()
	h := newE2EHome(t)
	h.must("add", "account", "-n", "MyAccount")
	h.must("edit", "account", "MyAccount", "--max-connections", "1000", "--max-data", "10GB",
		"--max-exports", "10", "--max-imports", "10", "--max-payload", "1MB", "--max-subscriptions", "1000")
	h.must("add", "user", "-n", "alice", "--allow-pub", "orders.>", "--allow-sub", "orders.alice.>", "--allow-pub-response")
	h.must("add", "user", "-n", "bob", "--allow-pub", "inventory.>", "--allow-sub", "inventory.>", "--deny-pub", "inventory.delete")
	h.must("add", "user", "-n", "admin", "--allow-pub", ">", "--allow-sub", ">")
	h.must("add", "user", "-n", "tracker", "--allow-pub", "orders.*.status", "--allow-sub", "orders.*.status")
	h.must("add", "user", "-n", "worker", "--allow-sub", "orders.process workers")
	h.must("add", "user", "-n", "auditor", "--allow-pubsub", "orders.>", "--deny-pubsub", "orders.secret.>", "--deny-sub", "orders.private")
	return h
}

// A permission check: user does op on subject and is allowed or denied.
// For subscriptions, admin publishes to pubTo (subject when empty).
type permCase struct {
	user    string
	op      string // "pub", "sub" or "qsub" (queue group "workers", or queue)
	subject string
	queue   string
	pubTo   string
	allowed bool
}

func TestE2EWalkthroughPermissions(t *testing.T) {
	t.Parallel()
	h := walkthroughHome(t)
	s := h.serve()
	cases := []permCase{
		// alice: pub orders.>, sub orders.alice.>
		{user: "alice", op: "pub", subject: "orders.new", allowed: true},
		{user: "alice", op: "pub", subject: "orders.alice.1", allowed: true},
		{user: "alice", op: "pub", subject: "orders", allowed: false},
		{user: "alice", op: "pub", subject: "inventory.x", allowed: false},
		{user: "alice", op: "sub", subject: "orders.alice.inbox", allowed: true},
		{user: "alice", op: "sub", subject: "orders.alice.>", pubTo: "orders.alice.a.b", allowed: true},
		{user: "alice", op: "sub", subject: "orders.new", allowed: false},
		{user: "alice", op: "sub", subject: "orders.>", pubTo: "orders.bob.1", allowed: false},
		// bob: pub/sub inventory.>, but not pub inventory.delete
		{user: "bob", op: "pub", subject: "inventory.x", allowed: true},
		{user: "bob", op: "pub", subject: "inventory.a.b", allowed: true},
		{user: "bob", op: "pub", subject: "inventory.delete", allowed: false},
		{user: "bob", op: "pub", subject: "orders.new", allowed: false},
		{user: "bob", op: "sub", subject: "inventory.x", allowed: true},
		{user: "bob", op: "sub", subject: "inventory.delete", allowed: true},
		{user: "bob", op: "sub", subject: "orders.new", allowed: false},
		// admin: >
		{user: "admin", op: "pub", subject: "anything.at.all", allowed: true},
		{user: "admin", op: "pub", subject: "inventory.delete", allowed: true},
		{user: "admin", op: "sub", subject: ">", pubTo: "some.subject", allowed: true},
		// * wildcard: orders.*.status matches exactly one token
		{user: "tracker", op: "pub", subject: "orders.bob.status", allowed: true},
		{user: "tracker", op: "pub", subject: "orders.status", allowed: false},
		{user: "tracker", op: "pub", subject: "orders.bob.x.status", allowed: false},
		{user: "tracker", op: "pub", subject: "orders.bob.status.x", allowed: false},
		{user: "tracker", op: "sub", subject: "orders.alice.status", allowed: true},
		{user: "tracker", op: "sub", subject: "orders.*.status", pubTo: "orders.carol.status", allowed: true},
		{user: "tracker", op: "sub", subject: "orders.alice.x.status", allowed: false},
		{user: "tracker", op: "sub", subject: "orders.>", pubTo: "orders.alice.status", allowed: false},
		// queue permission "orders.process workers"
		{user: "worker", op: "qsub", subject: "orders.process", queue: "workers", allowed: true},
		{user: "worker", op: "qsub", subject: "orders.process", queue: "others", allowed: false},
		{user: "worker", op: "sub", subject: "orders.process", allowed: false},
		// --allow-pubsub, --deny-pubsub, --deny-sub
		{user: "auditor", op: "pub", subject: "orders.x", allowed: true},
		{user: "auditor", op: "sub", subject: "orders.x", allowed: true},
		{user: "auditor", op: "pub", subject: "orders.secret.a", allowed: false},
		{user: "auditor", op: "sub", subject: "orders.secret.a", allowed: false},
		{user: "auditor", op: "sub", subject: "orders.private", allowed: false},
		{user: "auditor", op: "pub", subject: "orders.private", allowed: true},
	}
	admin := s.connect(t, "MyAccount", "admin")
	for _, c := range cases {
		verdict := "denied"
		if c.allowed {
			verdict = "allowed"
		}
		t.Run(label(c.user, " ", c.op, " ", c.subject, " ", c.queue, " ", verdict), func(t *testing.T) {
			u := s.connect(t, "MyAccount", c.user)
			switch c.op {
			case "pub":
				checkPub(t, u, admin, c)
			default:
				checkSub(t, u, admin, c)
			}
		})
	}
}

// checkPub publishes as u while watcher (full rights) listens.
func checkPub(t *testing.T, u, watcher *client, c permCase) {
	t.Helper()
	sub, err := watcher.SubscribeSync(c.subject)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	watcher.flush(t)
	if err := u.Publish(c.subject, []byte("from "+c.user)); err != nil {
		t.Fatalf("publish: %v", err)
	}
	u.flush(t)
	watcher.flush(t)
	if c.allowed {
		if got := receive(t, sub); got != "from "+c.user {
			t.Fatalf("watcher got %q", got)
		}
		u.noErr(t)
		return
	}
	u.wantErr(t, nats.ErrPermissionViolation, `publish to "`+c.subject+`"`)
	nothing(t, sub)
}

// checkSub subscribes as u while publisher (full rights) publishes.
func checkSub(t *testing.T, u, publisher *client, c permCase) {
	t.Helper()
	var sub *nats.Subscription
	var err error
	if c.op == "qsub" {
		sub, err = u.QueueSubscribeSync(c.subject, c.queue)
	} else {
		sub, err = u.SubscribeSync(c.subject)
	}
	if err != nil {
		t.Fatal(err)
	}
	u.flush(t)
	to := c.pubTo
	if to == "" {
		to = c.subject
	}
	if err := publisher.Publish(to, []byte("to "+c.user)); err != nil {
		t.Fatal(err)
	}
	publisher.flush(t)
	u.flush(t)
	if c.allowed {
		if got := receive(t, sub); got != "to "+c.user {
			t.Fatalf("got %q", got)
		}
		u.noErr(t)
		return
	}
	u.wantErr(t, nats.ErrPermissionViolation, `subscription to "`+c.subject+`"`)
	nothing(t, sub)
}
