package console

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/natsauth/natsauth/audit"
	"github.com/natsauth/natsauth/console/access"
)

// sessionCookie names the session cookie.
const sessionCookie = "natsauth_session"

// csrfOK checks a cookie-authenticated change: the X-CSRF-Token header
// carries the session's token, and a browser's Origin (when sent) is the
// console's own.
func csrfOK(r *http.Request, want string) bool {
	got := r.Header.Get("X-CSRF-Token")
	if want == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return false
	}
	return sameOrigin(r)
}

// sameOrigin is false when the browser says the request comes from
// another site.
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return false
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return false
		}
	}
	return true
}

// LoginRequest signs a console user in.
type LoginRequest struct {
	Name     string `json:"name"`
	Password string `json:"password"`
}

// SessionInfo is the signed-in user and the CSRF token for changes.
type SessionInfo struct {
	User    UserView  `json:"user"`
	CSRF    string    `json:"csrf,omitempty"`
	Expires time.Time `json:"expires,omitzero"`
	// Operator is the operator's name.
	Operator string `json:"operator"`
}

// UserView is a console user as the API shows it (no password hash).
type UserView struct {
	Name    string      `json:"name"`
	Role    access.Role `json:"role"`
	Account string      `json:"account,omitempty"`
	Created time.Time   `json:"created,omitzero"`
}

func viewUser(u *access.User) UserView {
	return UserView{Name: u.Name, Role: u.Role, Account: u.Account, Created: u.Created}
}

func (s *Server) login(c *call) error {
	var req LoginRequest
	if err := decode(c.r, &req); err != nil {
		return err
	}
	if !sameOrigin(c.r) {
		return problem(http.StatusForbidden, "csrf", "Cross-site sign-in refused", "sign in from the console's own pages")
	}
	ip := clientIP(c.r)
	if wait := s.limiter.blocked(ip, req.Name); wait > 0 {
		c.w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		return problem(http.StatusTooManyRequests, "rate-limited", "Too many failed sign-ins",
			fmt.Sprintf("try again in %s", wait.Round(time.Second)))
	}
	u, err := s.acc.Authenticate(c.r.Context(), req.Name, req.Password)
	if errors.Is(err, access.ErrBadPassword) {
		s.limiter.fail(ip, req.Name)
		s.log.Info("console sign-in refused", "user", req.Name, "remote", ip)
		return problem(http.StatusUnauthorized, "bad-login", "Wrong user name or password", "check both and try again")
	}
	if err != nil {
		return err
	}
	s.limiter.success(ip, req.Name)
	id, sess, err := s.acc.NewSession(c.r.Context(), u.Name)
	if err != nil {
		return err
	}
	http.SetCookie(c.w, &http.Cookie{Name: sessionCookie, Value: id, Path: "/", HttpOnly: true,
		Secure: s.cfg.Secure, SameSite: http.SameSiteStrictMode, Expires: sess.Expires})
	writeJSON(c.w, http.StatusOK, SessionInfo{User: viewUser(u), CSRF: sess.CSRF, Expires: sess.Expires,
		Operator: s.m.Home().OperatorName()})
	return nil
}

func (s *Server) logout(c *call) error {
	if ck, err := c.r.Cookie(sessionCookie); err == nil {
		if err := s.acc.EndSession(c.r.Context(), ck.Value); err != nil {
			return err
		}
	}
	http.SetCookie(c.w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true,
		Secure: s.cfg.Secure, SameSite: http.SameSiteStrictMode, MaxAge: -1})
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) session(c *call) error {
	info := SessionInfo{User: viewUser(c.user), Operator: s.m.Home().OperatorName()}
	if ck, err := c.r.Cookie(sessionCookie); err == nil && c.r.Header.Get("Authorization") == "" {
		if sess, _, err := s.acc.Session(c.r.Context(), ck.Value); err == nil {
			info.CSRF, info.Expires = sess.CSRF, sess.Expires
		}
	}
	writeJSON(c.w, http.StatusOK, info)
	return nil
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// limiter counts failed sign-ins per address and per user name in a
// sliding window.
type limiter struct {
	mu     sync.Mutex
	limit  int
	window time.Duration
	fails  map[string][]time.Time
	now    func() time.Time
}

func newLimiter(limit int, window time.Duration) *limiter {
	return &limiter{limit: limit, window: window, fails: map[string][]time.Time{}, now: time.Now}
}

func (l *limiter) keys(ip, name string) []string { return []string{"ip " + ip, "user " + name} }

// blocked says how long ip or name must wait, 0 when they may try.
func (l *limiter) blocked(ip, name string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	var wait time.Duration
	for _, k := range l.keys(ip, name) {
		ts := l.recent(k, now)
		if len(ts) >= l.limit {
			wait = max(wait, ts[len(ts)-l.limit].Add(l.window).Sub(now))
		}
	}
	return wait
}

func (l *limiter) fail(ip, name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	for _, k := range l.keys(ip, name) {
		l.fails[k] = append(l.recent(k, now), now)
	}
	if len(l.fails) > 100000 { // bound memory under a spray of names
		for k := range l.fails {
			if len(l.recent(k, now)) == 0 {
				delete(l.fails, k)
			}
		}
	}
}

// success forgets the user name's failures (not the address's).
func (l *limiter) success(_, name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.fails, "user "+name)
}

func (l *limiter) recent(k string, now time.Time) []time.Time {
	ts := l.fails[k]
	i := 0
	for i < len(ts) && !ts[i].After(now.Add(-l.window)) {
		i++
	}
	ts = ts[i:]
	if len(ts) == 0 {
		delete(l.fails, k)
	} else {
		l.fails[k] = ts
	}
	return ts
}

// actorOf is the audit actor of a console user's request.
func actorOf(r *http.Request, u *access.User, what string) audit.Actor {
	return audit.Actor{Via: audit.ViaConsole, Remote: r.RemoteAddr, Principal: u.Label(), Command: what}
}
