// Package console is natsauth's HTTP API and web console: one front door
// over the management core (package manage). Every change it makes goes
// through a manage.Manager method, so it is validated, audited with the
// console user as actor and published to the home's servers like a CLI
// change; reads come from the home, the audit log and the servers (over
// the system account).
//
// The API is JSON, described by the OpenAPI document at /api/openapi.json
// (built from the same route table that registers the handlers). The web
// console is plain HTML, CSS and JavaScript embedded in the binary.
//
// Users sign in with a console user (package access): a session cookie
// (HttpOnly, SameSite=Strict, Secure behind TLS) and a CSRF token that
// every change must carry in the X-CSRF-Token header; scripts use API
// tokens (Authorization: Bearer). Failed sign-ins are rate limited.
package console

import (
	"context"
	"embed"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsauth/natsauth/audit"
	"github.com/natsauth/natsauth/console/access"
	"github.com/natsauth/natsauth/manage"
	"github.com/natsauth/natsauth/sysevents"
)

//go:embed web
var webFS embed.FS

// Config configures a console.
type Config struct {
	// Manager is the management core over the home (required).
	Manager *manage.Manager
	// Access keeps the console users (required).
	Access *access.Access
	// Connect dials the servers as a system-account user, for live state
	// and auth failures; nil runs without them.
	Connect func(ctx context.Context) (*nats.Conn, error)
	// Secure marks cookies Secure: set it when the console is served over
	// TLS (or behind a TLS-terminating proxy).
	Secure bool
	// Logger gets operational messages (never a secret); nil discards.
	Logger *slog.Logger
	// LoginLimit is how many failed sign-ins an address or user name may
	// have in LoginWindow before more are refused with 429 (default 5 in
	// 15 minutes).
	LoginLimit  int
	LoginWindow time.Duration
}

// Server is the console: an http.Handler plus the follower of the
// servers' auth failures.
type Server struct {
	cfg     Config
	m       *manage.Manager
	acc     *access.Access
	log     *slog.Logger
	mux     *http.ServeMux
	routes  []route
	limiter *limiter
	events  *eventLog
	// failStore keeps the auth failures across restarts (failurelog.go);
	// nil keeps them in memory only.
	failStore   failureStore
	failStoreAt string
	pending     chan sysevents.Record
	keeping     atomic.Bool // failures go to failStore
	dropped     atomic.Uint64

	mu     sync.Mutex
	nc     *nats.Conn
	stopEv func()
	closed bool
	wg     sync.WaitGroup
	cancel context.CancelFunc
}

// New builds a console; Start begins following auth failures.
func New(cfg Config) (*Server, error) {
	if cfg.Manager == nil || cfg.Access == nil {
		return nil, errors.New("console: Manager and Access are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.LoginLimit <= 0 {
		cfg.LoginLimit = 5
	}
	if cfg.LoginWindow <= 0 {
		cfg.LoginWindow = 15 * time.Minute
	}
	s := &Server{cfg: cfg, m: cfg.Manager, acc: cfg.Access, log: cfg.Logger, mux: http.NewServeMux(),
		limiter: newLimiter(cfg.LoginLimit, cfg.LoginWindow), events: newEventLog(FailureKeep),
		pending: make(chan sysevents.Record, 4096)}
	s.routes = s.table()
	for _, rt := range s.routes {
		s.mux.Handle(rt.Method+" "+rt.Path, s.wrap(rt))
	}
	static, _ := fs.Sub(webFS, "web")
	files := http.FileServerFS(static)
	s.mux.Handle("GET /static/", http.StripPrefix("/static/", files))
	s.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, static, "index.html")
	})
	s.mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, notFound("no such API endpoint: "+r.Method+" "+r.URL.Path+" (see /api/openapi.json)"))
	})
	return s, nil
}

// Start reads the accounts into the core's index, connects to the servers
// (when Config.Connect is set) and follows
// their auth failures until Close. A failed connection is retried in the
// background; the console serves without live state meanwhile.
func (s *Server) Start(ctx context.Context) error {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.mu.Lock()
	s.cancel = cancel
	s.mu.Unlock()
	s.openFailures(ctx)
	// Read every account now rather than on the first list request.
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.m.WarmIndex(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("console: reading the accounts failed", "error", err)
		}
	}()
	if s.cfg.Connect == nil {
		return nil
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.follow(ctx)
	}()
	return nil
}

// Close stops following and closes the system connection.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	if s.cancel != nil {
		s.cancel()
	}
	s.mu.Unlock()
	s.wg.Wait()
	s.mu.Lock()
	if s.stopEv != nil {
		s.stopEv()
	}
	if s.nc != nil {
		s.nc.Close()
		s.nc = nil
	}
	s.mu.Unlock()
	s.closeFailures() // no event arrives any more
	return nil
}

// ServeHTTP serves the API and the web console with security headers.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	if s.cfg.Secure {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
	s.mux.ServeHTTP(w, r)
}

// Routes lists the registered API routes as "METHOD /path".
func (s *Server) Routes() []string {
	out := make([]string, len(s.routes))
	for i, rt := range s.routes {
		out[i] = rt.Method + " " + rt.Path
	}
	return out
}

// need says who may call a route.
type need int

const (
	public  need = iota // no sign-in
	signed              // any signed-in user (scoping is the handler's)
	opRead              // operator-wide reading: operator roles
	opAdmin             // operator-wide change: operator admins
)

// route is one API endpoint: registered on the mux and described in the
// OpenAPI document from the same entry.
type route struct {
	Method, Path string
	Summary      string
	Need         need
	Change       bool // changes something: CSRF-checked, audited by the core
	Body         any  // request body type (for the OpenAPI document)
	Reply        any  // response body type
	Query        []param
	h            func(*call) error
}

type param struct{ Name, Desc string }

// call is one request being served.
type call struct {
	w    http.ResponseWriter
	r    *http.Request
	ctx  context.Context // carries the actor
	user *access.User    // nil on public routes
	s    *Server
}

// wrap authenticates, authorizes, checks CSRF and turns errors into
// problem documents.
func (s *Server) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
		c := &call{w: w, r: r, ctx: r.Context(), s: s}
		if rt.Need != public {
			u, viaCookie, csrf, err := s.authenticate(r)
			if err != nil {
				writeProblem(w, toProblem(err, nil))
				return
			}
			c.user = u
			if rt.Change && viaCookie && !csrfOK(r, csrf) {
				writeProblem(w, problem(http.StatusForbidden, "csrf", "Missing or wrong CSRF token",
					"changes made with a session cookie need the X-CSRF-Token header from /api/session, from the console's own origin"))
				return
			}
			switch {
			case rt.Need == opRead && u.Role.Scoped():
				writeProblem(w, forbidden("only operator admins and observers may see this"))
				return
			case rt.Need == opAdmin && u.Role != access.OperatorAdmin:
				writeProblem(w, forbidden("only operator admins may do this"))
				return
			}
			c.ctx = audit.WithActor(r.Context(), audit.Actor{Via: audit.ViaConsole, Remote: r.RemoteAddr,
				Principal: u.Label(), Command: rt.Method + " " + rt.Path})
		}
		if err := rt.h(c); err != nil {
			p := toProblem(err, fieldsOf(rt.Body))
			if p.Status >= 500 {
				s.log.Warn("console request failed", "route", rt.Method+" "+rt.Path, "status", p.Status, "error", p.Detail)
			}
			p.Instance = r.URL.Path
			writeProblem(w, p)
		}
	})
}

// authenticate finds the user of a request: an API token (Authorization:
// Bearer) or a session cookie. viaCookie says the second, which needs CSRF
// protection; csrf is then the session's token.
func (s *Server) authenticate(r *http.Request) (u *access.User, viaCookie bool, csrf string, err error) {
	if h := r.Header.Get("Authorization"); h != "" {
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			return nil, false, "", access.ErrUnauthorized
		}
		u, _, err := s.acc.TokenUser(r.Context(), strings.TrimSpace(tok))
		return u, false, "", err
	}
	ck, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil, false, "", access.ErrUnauthorized
	}
	sess, u, err := s.acc.Session(r.Context(), ck.Value)
	if err != nil {
		return nil, false, "", err
	}
	return u, true, sess.CSRF, nil
}

// authorize refuses a user who may not read (or, with change, change) an
// account.
func (c *call) authorize(account string, change bool) error {
	if change && !c.user.CanChange(account) {
		return forbidden("your role (" + string(c.user.Role) + ") may not change account " + account)
	}
	if !c.user.CanRead(account) {
		return forbidden("your role is scoped to account " + c.user.Account)
	}
	return nil
}
