package store_test

import (
	"context"
	"testing"

	"github.com/natsauth/natsauth/store"
)

func TestBroadcasterFansOutInOrder(t *testing.T) {
	var b store.Broadcaster
	ctx := t.Context()
	c1, err := b.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c2, _ := b.Watch(ctx)
	if b.Watchers() != 2 {
		t.Fatalf("Watchers = %d", b.Watchers())
	}
	for _, a := range []string{"A", "B", "C"} {
		b.Publish(store.Event{Kind: store.EventPut, Account: a})
	}
	for _, c := range []<-chan store.Event{c1, c2} {
		for _, want := range []string{"A", "B", "C"} {
			if ev := <-c; ev.Account != want {
				t.Fatalf("got %s, want %s", ev.Account, want)
			}
		}
	}
}

func TestBroadcasterSlowWatcherGetsReset(t *testing.T) {
	var b store.Broadcaster
	slow, _ := b.Watch(t.Context())
	const n = 5000 // more than the buffer
	for i := range n {
		b.Publish(store.Event{Kind: store.EventPut, Account: string(rune('A' + i%26))})
	}
	got := 0
	for len(slow) > 0 {
		<-slow
		got++
	}
	if got >= n {
		t.Fatalf("buffer held all %d events; test does not overflow it", n)
	}
	// Once there is room, the next publish is preceded by a Reset.
	b.Publish(store.Event{Kind: store.EventDelete, Account: "Z"})
	if ev := <-slow; ev.Kind != store.EventReset {
		t.Fatalf("after overflow got %v, want reset", ev.Kind)
	}
	if ev := <-slow; ev.Kind != store.EventDelete || ev.Account != "Z" {
		t.Fatalf("after reset got %+v", ev)
	}
}

func TestBroadcasterEnds(t *testing.T) {
	var b store.Broadcaster
	ctx, cancel := context.WithCancel(t.Context())
	byCtx, _ := b.Watch(ctx)
	byClose, _ := b.Watch(t.Context())
	cancel()
	for range byCtx {
	}
	b.Publish(store.Event{Kind: store.EventPut, Account: "A"})
	if ev := <-byClose; ev.Account != "A" {
		t.Fatalf("remaining watcher got %+v", ev)
	}
	b.Close()
	if _, ok := <-byClose; ok {
		t.Fatal("channel open after Close")
	}
	if _, err := b.Watch(t.Context()); err == nil {
		t.Fatal("Watch after Close succeeded")
	}
	b.Publish(store.Event{Kind: store.EventPut}) // no panic after Close
}
