package livetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsauth/natsauth/authority"
)

// Cross-account JetStream: account B pulls from and is pushed to by
// durable consumers of account A's stream, acking each message; revoking
// the grant cuts B off.
func TestConsumerGrantPullAndPush(t *testing.T) {
	h := newHome(t)
	ok(t)(h.AddAccount("A", authority.AccountEdit{JSMemStorage: authority.Int64(-1), JSDiskStorage: authority.Int64(-1)}))
	ok(t)(h.AddAccount("B", authority.AccountEdit{}))
	ok(t)(h.AddUser("A", "u", authority.UserEdit{}))
	ok(t)(h.AddUser("B", "u", authority.UserEdit{}))
	pull := authority.ConsumerGrant{Stream: "ORDERS", Consumer: "pull", Importer: "B"}
	push := authority.ConsumerGrant{Stream: "ORDERS", Consumer: "push", Importer: "B", DeliverSubject: "deliver.b.orders"}
	gp := get[*authority.ConsumerShare](t)(h.GrantConsumer("A", pull))
	ok(t)(h.GrantConsumer("A", push))
	if gp.APIPrefix != "JS.A.API" {
		t.Errorf("api prefix %q", gp.APIPrefix)
	}
	e := serve(t, h)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// A creates the stream and both consumers, and publishes.
	ajs := get[jetstream.JetStream](t)(jetstream.New(e.connect("A", "u")))
	ok(t)(ajs.CreateStream(ctx, jetstream.StreamConfig{Name: "ORDERS", Subjects: []string{"orders.>"}, Storage: jetstream.MemoryStorage}))
	ok(t)(ajs.CreateOrUpdateConsumer(ctx, "ORDERS", jetstream.ConsumerConfig{Durable: "pull", AckPolicy: jetstream.AckExplicitPolicy}))
	ok(t)(ajs.CreateOrUpdateConsumer(ctx, "ORDERS", jetstream.ConsumerConfig{Durable: "push", AckPolicy: jetstream.AckExplicitPolicy,
		DeliverSubject: "deliver.b.orders", FlowControl: true, IdleHeartbeat: time.Second}))
	const n = 5
	for i := 0; i < n; i++ {
		ok(t)(ajs.Publish(ctx, fmt.Sprintf("orders.%d", i), []byte("order")))
	}

	// B pulls through its API prefix and acks.
	bnc := e.connect("B", "u")
	bjs := get[jetstream.JetStream](t)(jetstream.NewWithAPIPrefix(bnc, gp.APIPrefix))
	pc := get[jetstream.Consumer](t)(bjs.Consumer(ctx, "ORDERS", "pull"))
	batch := get[jetstream.MessageBatch](t)(pc.Fetch(n, jetstream.FetchMaxWait(5*time.Second)))
	got := 0
	for m := range batch.Messages() {
		noErr(t, m.DoubleAck(ctx))
		got++
	}
	noErr(t, batch.Error())
	if got != n {
		t.Fatalf("pulled %d messages, want %d", got, n)
	}
	// B's own JetStream API (it has none) is not A's.
	if _, err := jetstream.New(bnc); err == nil {
		if _, err := get[jetstream.JetStream](t)(jetstream.New(bnc)).Consumer(ctx, "ORDERS", "pull"); err == nil {
			t.Errorf("B reached A's consumer through its own $JS.API")
		}
	}

	// B is pushed to and acks.
	pushc := get[jetstream.PushConsumer](t)(bjs.PushConsumer(ctx, "ORDERS", "push"))
	acked := make(chan struct{}, n)
	cc := get[jetstream.ConsumeContext](t)(pushc.Consume(func(m jetstream.Msg) {
		if m.DoubleAck(ctx) == nil {
			acked <- struct{}{}
		}
	}))
	defer cc.Stop()
	for i := 0; i < n; i++ {
		select {
		case <-acked:
		case <-ctx.Done():
			t.Fatalf("push: %d of %d messages acked", i, n)
		}
	}
	// A sees every message acked on both consumers.
	type infoer interface {
		Info(context.Context) (*jetstream.ConsumerInfo, error)
	}
	for name, c := range map[string]infoer{
		"pull": get[jetstream.Consumer](t)(ajs.Consumer(ctx, "ORDERS", "pull")),
		"push": get[jetstream.PushConsumer](t)(ajs.PushConsumer(ctx, "ORDERS", "push")),
	} {
		within(t, 5*time.Second, name+" consumer acked", func() bool {
			info, err := c.Info(ctx)
			return err == nil && info.NumAckPending == 0 && info.AckFloor.Stream == n
		})
	}
	cc.Stop()

	// Revoking the pull grant cuts B off from the consumer.
	rs := get[*authority.ConsumerShare](t)(h.RevokeConsumer("A", pull))
	e.publish(rs.Exporter, rs.Importer)
	within(t, 5*time.Second, "revoked consumer unreachable", func() bool {
		c, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		_, err := bjs.Consumer(c, "ORDERS", "pull")
		return err != nil
	})
	if _, err := h.RevokeConsumer("A", pull); !errors.Is(err, authority.ErrNotFound) {
		t.Errorf("second revoke = %v, want ErrNotFound", err)
	}
}
