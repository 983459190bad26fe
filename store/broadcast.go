package store

import (
	"context"
	"log/slog"
	"sync"
)

// watchBuffer is how many events a slow watcher may fall behind before it
// is sent a Reset instead of the events it missed.
const watchBuffer = 4096

// Broadcaster fans events out to watchers. Backends embed one to implement
// Watcher. A watcher that falls behind receives EventReset once it catches
// up, never a silently shortened history. The zero value is ready to use.
type Broadcaster struct {
	mu     sync.Mutex
	subs   map[*watchSub]struct{}
	closed bool
}

type watchSub struct {
	ch     chan Event
	missed bool // events were dropped; send Reset when room appears
}

// Watch registers a watcher until ctx ends or Close is called.
func (b *Broadcaster) Watch(ctx context.Context) (<-chan Event, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, ErrClosed
	}
	if b.subs == nil {
		b.subs = map[*watchSub]struct{}{}
	}
	s := &watchSub{ch: make(chan Event, watchBuffer)}
	b.subs[s] = struct{}{}
	go func() {
		<-ctx.Done()
		b.mu.Lock()
		defer b.mu.Unlock()
		if _, ok := b.subs[s]; ok {
			delete(b.subs, s)
			close(s.ch)
		}
	}()
	return s.ch, nil
}

// Publish delivers ev to every watcher without blocking.
func (b *Broadcaster) Publish(ev Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.subs {
		if s.missed {
			select {
			case s.ch <- Event{Kind: EventReset}:
				s.missed = false
			default:
				continue
			}
		}
		select {
		case s.ch <- ev:
		default:
			s.missed = true
		}
	}
}

// Watchers reports how many watchers are registered.
func (b *Broadcaster) Watchers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs)
}

// Close closes every watcher channel; later Watch calls fail.
func (b *Broadcaster) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	for s := range b.subs {
		delete(b.subs, s)
		close(s.ch)
	}
}

// PollHealth is the one failure/recovery rule of the polling watchers (the
// SQLite change-log poller, the directory poller): a run of failed polls
// is logged once, and the first poll that works again says so and sends
// every watcher EventReset, since changes may have been missed meanwhile.
// The zero value is ready to use; one goroutine uses it.
type PollHealth struct {
	failing bool
}

// Failed records a failed poll of what (e.g. "reading the change log");
// the first failure of a run is logged at error level.
func (p *PollHealth) Failed(log *slog.Logger, what string, err error) {
	if !p.failing {
		log.Error(what+" failed; retrying", "err", err)
		p.failing = true
	}
}

// Succeeded records a poll that worked. After failures it logs that what
// works again and publishes EventReset through b.
func (p *PollHealth) Succeeded(log *slog.Logger, what string, b *Broadcaster) {
	if !p.failing {
		return
	}
	p.failing = false
	log.Info(what + " works again; watchers reset")
	b.Publish(Event{Kind: EventReset})
}

// Failing reports whether the last poll failed.
func (p *PollHealth) Failing() bool { return p.failing }
