package main

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// Response permissions: a responder may publish to the reply subject of a
// request it received only with --allow-pub-response, and only within
// --response-ttl.
func TestE2EResponsePermissions(t *testing.T) {
	t.Parallel()
	h := walkthroughHome(t)
	const ttl = time.Second
	h.must("add", "user", "-n", "slowpoke", "--allow-sub", "orders.slow", "--allow-pub-response", "--response-ttl", ttl.String())
	h.must("add", "user", "-n", "chatty", "--allow-sub", "orders.chat", "--allow-pub-response=2")
	s := h.serve()
	admin := s.connect(t, "MyAccount", "admin")

	// responder answers every request on subject as user.
	respond := func(t *testing.T, user, subject string) *client {
		c := s.connect(t, "MyAccount", user)
		_, err := c.Subscribe(subject, func(m *nats.Msg) { _ = m.Respond([]byte(user + " answers " + string(m.Data))) })
		if err != nil {
			t.Fatal(err)
		}
		c.flush(t)
		return c
	}

	t.Run("alice_with_allow-pub-response_answers", func(t *testing.T) {
		alice := respond(t, "alice", "orders.alice.status")
		msg, err := admin.Request("orders.alice.status", []byte("123"), 5*time.Second)
		if err != nil {
			t.Fatalf("request: %v", err)
		}
		if got, want := string(msg.Data), "alice answers 123"; got != want {
			t.Fatalf("reply = %q, want %q", got, want)
		}
		alice.flush(t)
		alice.noErr(t)
		// alice may still not publish to an inbox she was not asked on.
		if err := alice.Publish(admin.NewRespInbox(), []byte("unasked")); err != nil {
			t.Fatal(err)
		}
		alice.flush(t)
		alice.wantErr(t, nats.ErrPermissionViolation, "publish to \"_INBOX.")
	})

	t.Run("bob_without_it_cannot", func(t *testing.T) {
		bob := respond(t, "bob", "inventory.query")
		_, err := admin.Request("inventory.query", []byte("42"), 500*time.Millisecond)
		if !errors.Is(err, nats.ErrTimeout) {
			t.Fatalf("request answered by bob: err = %v, want a timeout", err)
		}
		bob.wantErr(t, nats.ErrPermissionViolation, "publish to \"_INBOX.")
	})

	t.Run("allow-pub-response=2", func(t *testing.T) {
		chatty := s.connect(t, "MyAccount", "chatty")
		reqs, err := chatty.SubscribeSync("orders.chat")
		if err != nil {
			t.Fatal(err)
		}
		chatty.flush(t)
		inbox := admin.NewRespInbox()
		replies, err := admin.SubscribeSync(inbox)
		if err != nil {
			t.Fatal(err)
		}
		if err := admin.PublishRequest("orders.chat", inbox, []byte("hi")); err != nil {
			t.Fatal(err)
		}
		admin.flush(t)
		m, err := reqs.NextMsg(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range []string{"one", "two"} {
			if err := m.Respond([]byte(r)); err != nil {
				t.Fatal(err)
			}
		}
		chatty.flush(t)
		chatty.noErr(t)
		for _, want := range []string{"one", "two"} {
			if got := receive(t, replies); got != want {
				t.Fatalf("reply = %q, want %q", got, want)
			}
		}
		if err := m.Respond([]byte("three")); err != nil {
			t.Fatal(err)
		}
		chatty.flush(t)
		chatty.wantErr(t, nats.ErrPermissionViolation, "publish to \""+inbox+"\"")
		admin.flush(t)
		nothing(t, replies)
	})

	t.Run("response-ttl", func(t *testing.T) {
		slow := s.connect(t, "MyAccount", "slowpoke")
		reqs, err := slow.SubscribeSync("orders.slow")
		if err != nil {
			t.Fatal(err)
		}
		slow.flush(t)
		inbox := admin.NewRespInbox()
		replies, err := admin.SubscribeSync(inbox)
		if err != nil {
			t.Fatal(err)
		}
		// ask sends a request and returns it as the responder got it.
		ask := func(data string) *nats.Msg {
			if err := admin.PublishRequest("orders.slow", inbox, []byte(data)); err != nil {
				t.Fatal(err)
			}
			admin.flush(t)
			m, err := reqs.NextMsg(5 * time.Second)
			if err != nil {
				t.Fatalf("responder got no request: %v", err)
			}
			return m
		}
		// Within the TTL the reply goes through.
		if err := ask("fast").Respond([]byte("in time")); err != nil {
			t.Fatal(err)
		}
		slow.flush(t)
		if got := receive(t, replies); got != "in time" {
			t.Fatalf("reply = %q", got)
		}
		slow.noErr(t)
		// After the TTL it is refused.
		m := ask("slow")
		time.Sleep(ttl + 500*time.Millisecond)
		if err := m.Respond([]byte("too late")); err != nil {
			t.Fatal(err)
		}
		slow.flush(t)
		slow.wantErr(t, nats.ErrPermissionViolation, "publish to \""+inbox+"\"")
		admin.flush(t)
		nothing(t, replies)
	})
}

// Request-reply as in the walkthrough: a server answers orders.status, a
// client with an inbox asks.
func TestE2ERequestReply(t *testing.T) {
	t.Parallel()
	h := newE2EHome(t)
	h.must("add", "account", "-n", "MyAccount")
	h.must("add", "user", "-n", "responder", "--allow-sub", "orders.status", "--allow-pub-response", "--response-ttl", "5s")
	h.must("add", "user", "-n", "shop", "--allow-pub", "orders.status", "--allow-sub", "_INBOX.>")
	s := h.serve()
	srv := s.connect(t, "MyAccount", "responder")
	if _, err := srv.Subscribe("orders.status", func(m *nats.Msg) {
		_ = m.Respond([]byte("order " + string(m.Data) + ": shipped"))
	}); err != nil {
		t.Fatal(err)
	}
	srv.flush(t)
	shop := s.connect(t, "MyAccount", "shop")
	for i := range 5 {
		id := fmt.Sprint(100 + i)
		msg, err := shop.Request("orders.status", []byte(id), 5*time.Second)
		if err != nil {
			t.Fatalf("request %s: %v", id, err)
		}
		if got, want := string(msg.Data), "order "+id+": shipped"; got != want {
			t.Fatalf("reply = %q, want %q", got, want)
		}
	}
	srv.flush(t)
	srv.noErr(t)
	shop.noErr(t)
}

// Queue groups: each message goes to exactly one member of the group, while
// a plain subscriber gets every message.
func TestE2EQueueGroup(t *testing.T) {
	t.Parallel()
	h := walkthroughHome(t)
	s := h.serve()
	const members, msgs = 3, 60
	var mu sync.Mutex
	got := map[string][]int{} // message → members that got it
	perMember := make([]int, members)
	var workers []*client
	var subs []*nats.Subscription
	for i := range members {
		w := s.connect(t, "MyAccount", "worker")
		sub, err := w.QueueSubscribe("orders.process", "workers", func(m *nats.Msg) {
			mu.Lock()
			defer mu.Unlock()
			got[string(m.Data)] = append(got[string(m.Data)], i)
			perMember[i]++
		})
		if err != nil {
			t.Fatal(err)
		}
		w.flush(t)
		workers = append(workers, w)
		subs = append(subs, sub)
	}
	admin := s.connect(t, "MyAccount", "admin")
	all, err := admin.SubscribeSync("orders.process")
	if err != nil {
		t.Fatal(err)
	}
	alice := s.connect(t, "MyAccount", "alice")
	for i := range msgs {
		if err := alice.Publish("orders.process", []byte(fmt.Sprint("order-", i))); err != nil {
			t.Fatal(err)
		}
	}
	alice.flush(t)
	for _, w := range workers {
		w.flush(t)
	}
	admin.flush(t)
	// Everything delivered is queued once the flushes return; wait until
	// the handlers have run on all of it.
	within(t, 5*time.Second, "all messages handled by the group", func() bool {
		for _, sub := range subs {
			if n, _, err := sub.Pending(); err != nil || n > 0 {
				return false
			}
		}
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, c := range perMember {
			n += c
		}
		return n >= msgs
	})
	mu.Lock()
	defer mu.Unlock()
	for i := range msgs {
		id := fmt.Sprint("order-", i)
		if len(got[id]) != 1 {
			t.Errorf("%s delivered to members %v, want exactly one", id, got[id])
		}
	}
	if len(got) != msgs {
		t.Errorf("group got %d distinct messages, want %d", len(got), msgs)
	}
	t.Logf("messages per member: %v", perMember)
	for i := range msgs {
		if d := receive(t, all); d != fmt.Sprint("order-", i) {
			t.Fatalf("plain subscriber got %q, want order-%d", d, i)
		}
	}
	for _, w := range workers {
		w.noErr(t)
	}
}
