// Package accountserver serves account JWTs over HTTP with the API of the
// nats-account-server, which nats-server's URL(...) resolver and nsc
// push/pull speak, over any store.Store.
//
// Routes (the account paths also answer under the shorter /accounts/ prefix):
//
//	GET  /jwt/v1/accounts/                 200, the probe nats-server sends at start
//	GET  /jwt/v1/accounts/?list=true       JSON array of account keys (natsauth extension)
//	GET  /jwt/v1/accounts/<pub>            the raw JWT, ETag "<jti>", 304 on If-None-Match
//	     ?check=true                       404 when the JWT has expired
//	     ?decode=true                      JSON {"header", "claims"}
//	     ?text=true                        the raw JWT as text/plain
//	POST /jwt/v1/accounts/<pub>            store a JWT (validated like every write path)
//	POST /jwt/v1/activations               keep an activation token (signed by an account of the store)
//	GET  /jwt/v1/activations/<hash>        an activation token kept, by its hash
//	GET  /jwt/v1/operator                  the operator JWT
//	GET  /jwt/v1/watch                     Server-Sent Events of store changes (natsauth extension)
//	GET  /jwt/v1/help                      a text description of the API
//	GET  /healthz                          {"status":"ok"}, 503 when the store is down
//
// With a Notifier, every change the store reports — whichever path made it —
// is announced, so stock nats-servers apply it live.
package accountserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nkeys"

	"github.com/natsauth/natsauth/store"
	"github.com/natsauth/natsauth/trust"
)

// DefaultMaxBodyBytes is the largest POST body read (1 MiB).
const DefaultMaxBodyBytes = trust.MaxJWTSize

// DefaultHeartbeat is how often an idle watch stream gets a keep-alive comment.
const DefaultHeartbeat = 10 * time.Second

// Options configure a Server.
type Options struct {
	// OperatorJWT is served at /jwt/v1/operator; empty answers 404.
	OperatorJWT string
	// Policy is the trust policy the store was opened with. The store
	// itself validates every write; the server only reports the trusted
	// operator and system account keys on /healthz.
	Policy *trust.Policy
	// Logger receives request errors and announcement failures; nil discards.
	Logger *slog.Logger
	// MaxBodyBytes bounds a POST body; 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Notifier, if set, announces every stored change (see Start).
	Notifier Notifier
	// Heartbeat is the keep-alive interval of watch streams; 0 means
	// DefaultHeartbeat.
	Heartbeat time.Duration
	// Now returns the current time (for ?check=true); nil means time.Now.
	Now func() time.Time
	// Activations keeps pushed activation tokens; nil keeps them in
	// memory (NewMemActivations).
	Activations Activations
}

// Server is the account server's http.Handler.
type Server struct {
	st   store.Store
	acts Activations
	opts Options
	log  *slog.Logger

	// done is closed by Close; it ends watch streams and the announcer.
	done      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
	mu        sync.Mutex
	cancel    context.CancelFunc
	started   bool
}

// New returns a Server over st. It starts nothing; call Start to announce
// changes and Close to stop.
func New(st store.Store, opts Options) *Server {
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = DefaultHeartbeat
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	opts.OperatorJWT = strings.TrimSpace(opts.OperatorJWT)
	acts := opts.Activations
	if acts == nil {
		acts = NewMemActivations()
	}
	return &Server{st: st, acts: acts, opts: opts, log: log, done: make(chan struct{})}
}

// Start starts announcing store changes through the Notifier, if one is
// configured. The store must implement store.Watcher then. Start returns
// once the watch is registered, so every later change is announced.
func (s *Server) Start(ctx context.Context) error {
	if s.opts.Notifier == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return errors.New("account server: already started")
	}
	select {
	case <-s.done:
		return errors.New("account server: closed")
	default:
	}
	w, ok := s.st.(store.Watcher)
	if !ok {
		return errors.New("account server: announcements need a store that can watch for changes")
	}
	ctx, cancel := context.WithCancel(ctx)
	events, err := w.Watch(ctx)
	if err != nil {
		cancel()
		return fmt.Errorf("account server: watch the store for announcements: %w", err)
	}
	s.started, s.cancel = true, cancel
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.announce(ctx, w, events)
	}()
	return nil
}

// Close ends the watch streams (their handlers return promptly, so an
// http.Server can then shut down) and stops the announcer, waiting for it.
// It does not close the store.
func (s *Server) Close() error {
	s.closeOnce.Do(func() { close(s.done) })
	s.mu.Lock()
	if s.cancel != nil {
		s.cancel()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

// ServeHTTP routes a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case p == "/healthz":
		s.only(w, r, s.health, http.MethodGet, http.MethodHead)
	case p == "/jwt/v1/operator":
		s.only(w, r, s.operator, http.MethodGet, http.MethodHead)
	case p == "/jwt/v1/help":
		s.only(w, r, s.help, http.MethodGet, http.MethodHead)
	case p == "/jwt/v1/watch", p == "/watch":
		s.only(w, r, s.watch, http.MethodGet)
	case p == "/jwt/v1/accounts", p == "/jwt/v1/accounts/", p == "/accounts", p == "/accounts/":
		s.only(w, r, s.accountsRoot, http.MethodGet, http.MethodHead)
	case p == "/jwt/v1/activations", p == "/jwt/v1/activations/":
		s.activations(w, r, "")
	case strings.HasPrefix(p, "/jwt/v1/activations/"):
		s.activations(w, r, strings.TrimPrefix(p, "/jwt/v1/activations/"))
	case strings.HasPrefix(p, "/jwt/v1/accounts/"):
		s.account(w, r, strings.TrimPrefix(p, "/jwt/v1/accounts/"))
	case strings.HasPrefix(p, "/accounts/"):
		s.account(w, r, strings.TrimPrefix(p, "/accounts/"))
	default:
		s.fail(w, r, http.StatusNotFound, "no such path; see /jwt/v1/help", nil)
	}
}

// only runs h if the request method is one of methods, else answers 405.
func (s *Server) only(w http.ResponseWriter, r *http.Request, h http.HandlerFunc, methods ...string) {
	for _, m := range methods {
		if r.Method == m {
			h(w, r)
			return
		}
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	s.fail(w, r, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed", nil)
}

func (s *Server) account(w http.ResponseWriter, r *http.Request, key string) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		s.getAccount(w, r, key)
	case http.MethodPost:
		s.postAccount(w, r, key)
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		s.fail(w, r, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed", nil)
	}
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	if err := s.ping(r.Context()); err != nil {
		s.log.Warn("health check: store unavailable", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "error": "store unavailable"})
		return
	}
	res := map[string]any{"status": "ok"}
	if p := s.opts.Policy; p != nil {
		ops := p.Operators()
		sort.Strings(ops)
		res["operators"] = ops
		if sys := p.SystemAccount(); sys != "" {
			res["system_account"] = sys
		}
	}
	writeJSON(w, http.StatusOK, res)
}

// probeKey is a well-formed account key (from a fixed, public seed) that
// no real account uses; reading it tells whether the store answers.
var probeKey = func() string {
	var raw [32]byte
	copy(raw[:], "natsauth account server probe")
	kp, err := nkeys.FromRawSeed(nkeys.PrefixByteAccount, raw[:])
	if err != nil {
		panic("accountserver: probe key: " + err.Error())
	}
	pub, err := kp.PublicKey()
	if err != nil {
		panic("accountserver: probe key: " + err.Error())
	}
	return pub
}()

// Pinger is implemented by store backends that can check their connection
// more cheaply than a read.
type Pinger interface {
	Ping(ctx context.Context) error
}

func (s *Server) ping(ctx context.Context) error {
	if p, ok := store.Unwrap(s.st).(Pinger); ok {
		return p.Ping(ctx)
	}
	if p, ok := s.st.(Pinger); ok {
		return p.Ping(ctx)
	}
	_, err := s.st.Get(ctx, probeKey)
	if err == nil || errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

func (s *Server) operator(w http.ResponseWriter, r *http.Request) {
	if s.opts.OperatorJWT == "" {
		s.fail(w, r, http.StatusNotFound, "no operator jwt is configured", nil)
		return
	}
	w.Header().Set("Content-Type", "application/jwt")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(s.opts.OperatorJWT))
}

func (s *Server) help(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(helpText))
}

const helpText = `natsauth account server — the nats-account-server JWT API

GET  /jwt/v1/accounts/             200 (nats-server's resolver probe)
GET  /jwt/v1/accounts/?list=true   JSON array of stored account keys (natsauth extension)
GET  /jwt/v1/accounts/<pubkey>     the account JWT (application/jwt), ETag "<jti>";
                                   If-None-Match -> 304; unknown -> 404; bad key -> 400
     ?check=true                   404 if the JWT has expired
     ?decode=true                  JSON of the JWT header and claims
     ?text=true                    the JWT as text/plain
POST /jwt/v1/accounts/<pubkey>     store the account JWT in the body; 200 when stored,
                                   400 invalid, 409 older than the stored one, 413 too large
POST /jwt/v1/activations           keep the activation token in the body (signed by an
                                   account of the store or one of its signing keys)
GET  /jwt/v1/activations/<hash>    a kept activation token; unknown -> 404
GET  /jwt/v1/operator              the operator JWT
GET  /jwt/v1/watch                 Server-Sent Events of store changes (natsauth extension)
GET  /healthz                      {"status":"ok"}; 503 when the store is unavailable

The account paths are also served under /accounts/.
`
