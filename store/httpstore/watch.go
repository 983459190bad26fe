package httpstore

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/natsauth/natsauth/store"
)

// watchIdle is how long a watch stream may stay silent (the server sends a
// keep-alive every 10 s) before the store reconnects.
const watchIdle = 35 * time.Second

// Watch streams the account server's changes (its /jwt/v1/watch
// extension). Watch returns once the server has registered the watch, so
// every later change is delivered. When the stream breaks the store
// reconnects with backoff and sends store.EventReset once it is back,
// since changes may have been missed. If the server cannot be reached at
// first, Watch still returns a channel, which starts with EventReset once
// the server answers. A server without the extension (404, 501) fails
// with store.ErrWatchUnsupported.
func (s *Store) Watch(ctx context.Context) (<-chan store.Event, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.ctx, cancel)
	out := make(chan store.Event, 256)
	h := &handshake{ch: make(chan error, 1)}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(out)
		defer stop()
		defer cancel()
		s.watchLoop(ctx, out, h)
	}()
	select {
	case err := <-h.ch:
		if err != nil {
			cancel()
			return nil, err
		}
	case <-time.After(2 * s.timeout):
		if h.abandon() {
			// The loop reported just now.
			if err := <-h.ch; err != nil {
				cancel()
				return nil, err
			}
		} else {
			s.log.Warn("watch: account server has not answered yet; will keep trying", "url", s.URL())
		}
	case <-ctx.Done():
		// The caller gave up, or the loop ended after reporting.
		select {
		case err := <-h.ch:
			if err != nil {
				return nil, err
			}
		default:
		}
	}
	return out, nil
}

// handshake passes the outcome of the first watch connection to Watch,
// unless Watch stopped waiting.
type handshake struct {
	mu   sync.Mutex
	done bool
	ch   chan error // buffered 1
}

// report hands err to Watch; false if Watch no longer waits.
func (h *handshake) report(err error) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.done {
		return false
	}
	h.done = true
	h.ch <- err
	return true
}

// abandon stops waiting; true if a report was already made.
func (h *handshake) abandon() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	was := h.done
	h.done = true
	return was
}

// watchLoop keeps one watch stream connected until ctx ends. Every
// connection after the one Watch waited for starts with EventReset.
func (s *Store) watchLoop(ctx context.Context, out chan<- store.Event, h *handshake) {
	first := true
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		onReady := func() bool {
			backoff = 100 * time.Millisecond
			if first {
				first = false
				if h.report(nil) {
					return true
				}
			}
			// A reconnect, or a first connection Watch did not wait for:
			// changes may have been missed.
			return emit(ctx, out, store.Event{Kind: store.EventReset})
		}
		err := s.stream1(ctx, out, onReady)
		if ctx.Err() != nil {
			return
		}
		if first {
			first = false
			if errors.Is(err, store.ErrWatchUnsupported) {
				if !h.report(err) {
					s.log.Error("watch: account server cannot stream changes", "url", s.URL(), "err", err)
				}
				return
			}
			// Unreachable for now: let Watch return; the first successful
			// connection will start with a reset.
			h.report(nil)
		}
		s.log.Warn("watch stream interrupted; reconnecting", "url", s.URL(), "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// stream1 runs one connection of the watch stream until it breaks.
func (s *Store) stream1(ctx context.Context, out chan<- store.Event, onReady func() bool) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.watchU.String(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Cache-Control", "no-cache")
	resp, err := s.stream.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	defer drain(resp.Body)
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusNotImplemented:
		return fmt.Errorf("watch %s: %w (%s)", s.URL(), store.ErrWatchUnsupported, resp.Status)
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("watch %s: %w: answered %s", s.URL(), store.ErrUnavailable, resp.Status)
	}
	// Reconnect when the stream goes silent for longer than the keep-alive.
	idle := time.AfterFunc(watchIdle, cancel)
	defer idle.Stop()

	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 2*maxJWTBytes+4096)
	var data bytes.Buffer
	for sc.Scan() {
		idle.Reset(watchIdle)
		line := sc.Bytes()
		switch {
		case len(line) == 0: // dispatch
			if data.Len() == 0 {
				continue
			}
			var ev struct {
				Kind    string `json:"kind"`
				Account string `json:"account"`
				JWT     string `json:"jwt"`
			}
			err := json.Unmarshal(data.Bytes(), &ev)
			data.Reset()
			if err != nil {
				return fmt.Errorf("watch %s: bad event: %w", s.URL(), err)
			}
			ok := true
			switch ev.Kind {
			case "ready":
				ok = onReady()
			case "put":
				s.forget(ev.Account)
				ok = emit(ctx, out, store.Event{Kind: store.EventPut, Account: ev.Account, JWT: ev.JWT})
			case "delete":
				s.forget(ev.Account)
				ok = emit(ctx, out, store.Event{Kind: store.EventDelete, Account: ev.Account})
			case "reset":
				s.forgetAll()
				ok = emit(ctx, out, store.Event{Kind: store.EventReset})
			}
			if !ok {
				return ctx.Err()
			}
		case line[0] == ':': // comment / keep-alive
		case bytes.HasPrefix(line, []byte("data:")):
			if data.Len() > 0 {
				data.WriteByte('\n')
			}
			data.Write(bytes.TrimPrefix(bytes.TrimPrefix(line, []byte("data:")), []byte(" ")))
		default: // event:, id:, retry: — not used
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("watch %s: %w: %w", s.URL(), store.ErrUnavailable, err)
	}
	return fmt.Errorf("watch %s: %w: stream ended", s.URL(), store.ErrUnavailable)
}

func emit(ctx context.Context, out chan<- store.Event, ev store.Event) bool {
	select {
	case out <- ev:
		return true
	case <-ctx.Done():
		return false
	}
}

// forget drops a cached JWT that a change made stale.
func (s *Store) forget(account string) {
	s.mu.Lock()
	s.cache.remove(strings.TrimSpace(account))
	s.mu.Unlock()
}

func (s *Store) forgetAll() {
	s.mu.Lock()
	s.cache = newLRU(s.cache.max)
	s.mu.Unlock()
}
