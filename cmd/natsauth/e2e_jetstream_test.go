package main

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsauth/natsauth/node"
)

// JetStream as in the walkthrough: a file stream on orders.> and a durable
// consumer with acks, in an account with JetStream limits; an account
// without them gets JetStream's "not enabled" error.
func TestE2EJetStream(t *testing.T) {
	t.Parallel()
	h := newE2EHome(t)
	h.must("add", "account", "-n", "MyAccount", "--js-mem-storage", "64MB", "--js-disk-storage", "1GB",
		"--js-streams", "10", "--js-consumer", "100")
	h.must("add", "user", "-n", "admin", "-a", "MyAccount", "--allow-pubsub", ">")
	h.must("add", "account", "-n", "Plain")
	h.must("add", "user", "-n", "admin", "-a", "Plain", "--allow-pubsub", ">")
	s := h.serve("--js")

	t.Run("stream_and_durable_consumer", func(t *testing.T) {
		nc := s.connect(t, "MyAccount", "admin")
		js, err := nc.JetStream()
		if err != nil {
			t.Fatal(err)
		}
		info, err := js.AddStream(&nats.StreamConfig{Name: "ORDERS", Subjects: []string{"orders.>"}, Storage: nats.FileStorage})
		if err != nil {
			t.Fatalf("add stream: %v", err)
		}
		if info.Config.Storage != nats.FileStorage {
			t.Fatalf("stream storage = %v, want file", info.Config.Storage)
		}
		const n = 5
		for i := range n {
			ack, err := js.Publish(fmt.Sprintf("orders.new.%d", i), []byte(fmt.Sprint("Order #", i)))
			if err != nil {
				t.Fatalf("publish: %v", err)
			}
			if ack.Stream != "ORDERS" || ack.Sequence != uint64(i+1) {
				t.Fatalf("ack = %+v, want ORDERS seq %d", ack, i+1)
			}
		}
		// A durable push consumer with explicit acks; ack 3 of 5.
		got := make(chan *nats.Msg, n)
		sub, err := js.Subscribe("orders.>", func(m *nats.Msg) { got <- m },
			nats.Durable("order-processor"), nats.ManualAck(), nats.AckExplicit(), nats.AckWait(time.Minute))
		if err != nil {
			t.Fatalf("subscribe: %v", err)
		}
		defer sub.Unsubscribe()
		const acked = 3
		for i := range n {
			select {
			case m := <-got:
				if want := fmt.Sprint("Order #", i); string(m.Data) != want {
					t.Fatalf("message %d = %q, want %q", i, m.Data, want)
				}
				if i < acked {
					if err := m.AckSync(); err != nil {
						t.Fatalf("ack: %v", err)
					}
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("consumer got %d of %d messages", i, n)
			}
		}
		ci, err := js.ConsumerInfo("ORDERS", "order-processor")
		if err != nil {
			t.Fatal(err)
		}
		if ci.Config.Durable != "order-processor" || ci.Delivered.Consumer != n || ci.AckFloor.Consumer != acked || ci.NumAckPending != n-acked {
			t.Fatalf("consumer: durable %q delivered %d ack floor %d ack pending %d, want order-processor %d %d %d",
				ci.Config.Durable, ci.Delivered.Consumer, ci.AckFloor.Consumer, ci.NumAckPending, n, acked, n-acked)
		}
		si, err := js.StreamInfo("ORDERS")
		if err != nil {
			t.Fatal(err)
		}
		if si.State.Msgs != n {
			t.Fatalf("stream holds %d messages, want %d", si.State.Msgs, n)
		}
		// The file stream lives in the home's JetStream directory.
		if !hasDir(t, node.DefaultJetStreamDir(h.dir), "ORDERS") {
			t.Fatalf("no ORDERS directory under %s", node.DefaultJetStreamDir(h.dir))
		}
		// The account's JetStream limits are the ones the CLI set.
		ai, err := js.AccountInfo()
		if err != nil {
			t.Fatal(err)
		}
		if ai.Limits.MaxMemory != 64_000_000 || ai.Limits.MaxStore != 1_000_000_000 || ai.Limits.MaxStreams != 10 || ai.Limits.MaxConsumers != 100 {
			t.Fatalf("account limits = %+v", ai.Limits)
		}
	})

	t.Run("account_without_jetstream", func(t *testing.T) {
		nc := s.connect(t, "Plain", "admin")
		js, err := nc.JetStream()
		if err != nil {
			t.Fatal(err)
		}
		_, err = js.AccountInfo()
		checkNotEnabled(t, "account info", err)
		_, err = js.AddStream(&nats.StreamConfig{Name: "ORDERS", Subjects: []string{"orders.>"}, Storage: nats.FileStorage})
		checkNotEnabled(t, "add stream", err)
	})
}

// checkNotEnabled wants JetStream's "not enabled for account" error.
func checkNotEnabled(t *testing.T, op string, err error) {
	t.Helper()
	if !errors.Is(err, nats.ErrJetStreamNotEnabledForAccount) {
		t.Fatalf("%s: %v, want %v", op, err, nats.ErrJetStreamNotEnabledForAccount)
	}
	var jsErr nats.JetStreamError
	if !errors.As(err, &jsErr) || jsErr.APIError() == nil {
		t.Fatalf("%s: %v is not a JetStream API error", op, err)
	}
	if got := jsErr.APIError().ErrorCode; got != nats.JSErrCodeJetStreamNotEnabledForAccount {
		t.Fatalf("%s: error code %d, want %d", op, got, nats.JSErrCodeJetStreamNotEnabledForAccount)
	}
	if !strings.Contains(err.Error(), "not enabled") {
		t.Fatalf("%s: %q does not say JetStream is not enabled", op, err)
	}
	t.Logf("%s: %v (code %d)", op, err, jsErr.APIError().ErrorCode)
}

// hasDir reports whether a directory named name exists under root.
func hasDir(t *testing.T, root, name string) bool {
	t.Helper()
	found := false
	err := filepath.WalkDir(root, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == name {
			found = true
			return fs.SkipAll
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", root, err)
	}
	return found
}
