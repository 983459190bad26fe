package accountserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/natsauth/natsauth/store"
)

// WatchEvent is one message of the /jwt/v1/watch stream, a natsauth
// extension of the account-server API. Each Server-Sent Event carries one
// JSON WatchEvent in its data field:
//
//	data: {"kind":"ready"}                             the watch is registered
//	data: {"kind":"put","account":"A...","jwt":"..."}  a JWT was created or updated
//	data: {"kind":"delete","account":"A..."}           a JWT was deleted
//	data: {"kind":"reset"}                             changes may have been missed
//
// Comment lines (": ping") keep an idle stream alive. A client that
// reconnects must assume it missed changes.
type WatchEvent struct {
	Kind    string `json:"kind"`
	Account string `json:"account,omitempty"`
	JWT     string `json:"jwt,omitempty"`
}

// Watch-event kinds on the wire.
const (
	KindReady  = "ready"
	KindPut    = "put"
	KindDelete = "delete"
	KindReset  = "reset"
)

// writeTimeout bounds one write to a watch stream, so a client that stops
// reading is dropped instead of holding the handler forever.
const writeTimeout = 10 * time.Second

func (s *Server) watch(w http.ResponseWriter, r *http.Request) {
	select {
	case <-s.done:
		w.Header().Set("Retry-After", "1")
		s.fail(w, r, http.StatusServiceUnavailable, "the account server is shutting down", nil)
		return
	default:
	}
	wt, ok := s.st.(store.Watcher)
	if !ok {
		s.fail(w, r, http.StatusNotImplemented, "this store cannot watch for changes", nil)
		return
	}
	ctx := r.Context()
	events, err := wt.Watch(ctx)
	if err != nil {
		if errors.Is(err, store.ErrWatchUnsupported) {
			s.fail(w, r, http.StatusNotImplemented, "this store cannot watch for changes", nil)
			return
		}
		s.storeFail(w, r, "watch", err)
		return
	}
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	send := func(b []byte) error {
		_ = rc.SetWriteDeadline(time.Now().Add(writeTimeout))
		if _, err := w.Write(b); err != nil {
			return err
		}
		return rc.Flush()
	}
	if err := send(sseData(WatchEvent{Kind: KindReady})); err != nil {
		return
	}
	tick := time.NewTicker(s.opts.Heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.done:
			return
		case <-tick.C:
			if err := send([]byte(": ping\n\n")); err != nil {
				return
			}
		case ev, ok := <-events:
			if !ok {
				return // the store closed
			}
			if err := send(sseData(wireEvent(ev))); err != nil {
				s.log.Debug("watch stream ended", "remote", r.RemoteAddr, "err", err)
				return
			}
		}
	}
}

func wireEvent(ev store.Event) WatchEvent {
	switch ev.Kind {
	case store.EventPut:
		return WatchEvent{Kind: KindPut, Account: ev.Account, JWT: ev.JWT}
	case store.EventDelete:
		return WatchEvent{Kind: KindDelete, Account: ev.Account}
	default:
		return WatchEvent{Kind: KindReset}
	}
}

func sseData(ev WatchEvent) []byte {
	b, err := json.Marshal(ev)
	if err != nil {
		b = []byte(`{"kind":"reset"}`)
	}
	return fmt.Appendf(nil, "data: %s\n\n", b)
}
