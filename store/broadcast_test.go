package store_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
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

// A run of failed polls is logged once; the first success after it sends
// watchers one reset; successes without failures send nothing.
func TestPollHealth(t *testing.T) {
	var b store.Broadcaster
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := b.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	log := slog.New(slog.NewTextHandler(&logs, nil))
	var h store.PollHealth
	h.Succeeded(log, "polling", &b)
	for range 3 {
		h.Failed(log, "polling", errors.New("disk gone"))
	}
	if !h.Failing() {
		t.Fatal("not failing after failures")
	}
	if n := strings.Count(logs.String(), "polling failed"); n != 1 {
		t.Errorf("failure logged %d times, want once:\n%s", n, logs.String())
	}
	h.Succeeded(log, "polling", &b)
	h.Succeeded(log, "polling", &b)
	select {
	case ev := <-ch:
		if ev.Kind != store.EventReset {
			t.Fatalf("event %v, want reset", ev.Kind)
		}
	default:
		t.Fatal("no reset after recovery")
	}
	select {
	case ev := <-ch:
		t.Fatalf("second event %v: one reset per recovery", ev.Kind)
	default:
	}
	if !strings.Contains(logs.String(), "polling works again") {
		t.Errorf("recovery not logged:\n%s", logs.String())
	}
}
