package manage

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/claims"
	"github.com/natsauth/natsauth/serving"
	"github.com/natsauth/natsauth/store"
)

// Remote says how to reach servers outside the home's registry: NATS
// servers over the system account, and account servers over HTTP.
type Remote struct {
	Servers        []string // NATS URLs (nats, tls, ws, wss)
	AccountServers []string // account-server URLs
	// Creds of a system-account user; empty uses the home's system user.
	Creds string
	// TLSCA verifies tls:// and https:// servers; TLSCert and TLSKey are
	// a client certificate for mutual TLS.
	TLSCA, TLSCert, TLSKey string
	// Wait is how long to gather every NATS server's answer to a request
	// (default claims.DefaultWait).
	Wait time.Duration
}

// Check reports every problem with r at once, before anything is sent.
func (r Remote) Check() error {
	var problems []string
	if r.Wait < 0 {
		problems = append(problems, fmt.Sprintf("timeout %s: must be positive", r.Wait))
	}
	for _, s := range r.Servers {
		if err := claims.CheckNATSURL(s); err != nil {
			problems = append(problems, err.Error())
		}
	}
	for _, s := range r.AccountServers {
		if _, err := claims.NewAccountServer(s, nil); err != nil {
			problems = append(problems, err.Error())
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// orDefault is r, or — when it names no server — the operator's
// account_server_url.
func (r Remote) orDefault(h *authority.Home, verb string) (Remote, error) {
	if len(r.Servers)+len(r.AccountServers) > 0 {
		return r, nil
	}
	if u := h.Operator().AccountServerURL; u != "" {
		if strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://") {
			r.AccountServers = []string{u}
		} else {
			r.Servers = []string{u}
		}
		return r, nil
	}
	return r, fmt.Errorf("%s: where to? give --server nats://HOST:4222 and/or --account-server http://HOST:9090 "+
		"(the operator names no account_server_url)", verb)
}

// Connect connects to the NATS server at url as a system-account user:
// r.Creds, else the home's system user.
func (m *Manager) Connect(r Remote, url, name string) (*nats.Conn, error) {
	return ConnectSystem(m.home, r, url, name)
}

// SystemConnector returns a function that connects as a system-account
// user (r.Creds, else the home's system user) to the first of r.Servers
// that accepts — or, when r names none, of the home's running natsauth
// serve (their client URLs in the registry, read at each call). A front
// door that shows live state (the console) dials with it.
func (m *Manager) SystemConnector(r Remote, name string) func(context.Context) (*nats.Conn, error) {
	return func(context.Context) (*nats.Conn, error) {
		urls := r.Servers
		if len(urls) == 0 {
			srvs, err := serving.List(m.home.Dir())
			if err != nil {
				return nil, err
			}
			for _, s := range srvs {
				if s.ClientURL != "" {
					urls = append(urls, s.ClientURL)
				}
			}
		}
		if len(urls) == 0 {
			return nil, errors.New("no running natsauth serve of this home and no --server")
		}
		var errs []error
		for _, u := range urls {
			nc, err := ConnectSystem(m.home, r, u, name)
			if err == nil {
				return nc, nil
			}
			errs = append(errs, err)
		}
		return nil, errors.Join(errs...)
	}
}

// ConnectSystem connects to url as a system-account user: r.Creds, else
// the system user of h (which may be nil when r.Creds is set).
func ConnectSystem(h *authority.Home, r Remote, url, name string) (*nats.Conn, error) {
	creds := r.Creds
	if creds == "" {
		if h == nil {
			return nil, errors.New("a system-account user's creds are needed (--creds)")
		}
		p, err := h.SystemUserCreds()
		if err != nil {
			return nil, fmt.Errorf("%w (pass --creds of a system-account user)", err)
		}
		creds = p
	}
	if _, err := os.Stat(creds); err != nil {
		return nil, fmt.Errorf("creds: %w", err)
	}
	opts := []nats.Option{nats.Name(name), nats.UserCredentials(creds), nats.Timeout(max(r.Wait, 5*time.Second)),
		nats.NoReconnect(), nats.DontRandomize()}
	if r.TLSCA != "" {
		opts = append(opts, nats.RootCAs(r.TLSCA))
	}
	if r.TLSCert != "" || r.TLSKey != "" {
		opts = append(opts, nats.ClientCert(r.TLSCert, r.TLSKey))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to %s as a system-account user: %w", store.Redact(url), err)
	}
	return nc, nil
}

// httpClient is the client for account servers.
func (r Remote) httpClient(timeout time.Duration) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if r.TLSCA != "" {
		pem, err := os.ReadFile(r.TLSCA)
		if err != nil {
			return nil, fmt.Errorf("tls ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls ca %s: no PEM certificates in it", r.TLSCA)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr, Timeout: timeout}, nil
}

// Answer is one line of a push or pull report: one server's answer, or a
// failure to get one.
type Answer struct {
	Op       string `json:"op"` // push, prune, pull
	Target   string `json:"target"`
	Account  string `json:"account,omitempty"` // name in the home
	Pub      string `json:"pub,omitempty"`
	Server   string `json:"server,omitempty"`
	ServerID string `json:"server_id,omitempty"`
	OK       bool   `json:"ok"`
	Code     int    `json:"code,omitempty"`
	Message  string `json:"message"`
}

// String renders the answer for people, on one line, e.g.
// "push A nats://127.0.0.1:4222: server n1 (NABC...): ok".
func (a Answer) String() string {
	var b strings.Builder
	b.WriteString(a.Op)
	if a.Account != "" {
		b.WriteString(" " + a.Account)
	}
	b.WriteString(" " + a.Target + ": ")
	if a.Server != "" {
		b.WriteString("server " + a.Server)
		if a.ServerID != "" && a.ServerID != a.Server {
			b.WriteString(" (" + a.ServerID + ")")
		}
		b.WriteString(": ")
	}
	if a.OK {
		b.WriteString("ok")
	} else {
		b.WriteString("FAILED")
	}
	if a.Code != 0 {
		fmt.Fprintf(&b, " (%d)", a.Code)
	}
	if a.Message != "" {
		b.WriteString(": " + a.Message)
	}
	return b.String()
}

// Report collects the answers of a push or pull; OnAnswer, when set, sees
// each as it comes.
type Report struct {
	Answers  []Answer
	OnAnswer func(Answer)
}

// MarshalJSON encodes the report as {"ok": no failures, "results":
// [every answer]}: what push and pull print with --json.
func (r *Report) MarshalJSON() ([]byte, error) {
	res := r.Answers
	if res == nil {
		res = []Answer{}
	}
	return json.Marshal(struct {
		OK      bool     `json:"ok"`
		Results []Answer `json:"results"`
	}{r.Failures() == 0, res})
}

func (r *Report) add(a Answer) {
	r.Answers = append(r.Answers, a)
	if r.OnAnswer != nil {
		r.OnAnswer(a)
	}
}

// Failures counts the answers that are refusals or failures.
func (r *Report) Failures() int {
	n := 0
	for _, a := range r.Answers {
		if !a.OK {
			n++
		}
	}
	return n
}

func replyAnswer(op, target string, acc *authority.AccountInfo, rep claims.Reply) Answer {
	a := Answer{Op: op, Target: target, Server: rep.Server.Name, ServerID: rep.Server.ID, OK: rep.OK(), Message: rep.Message}
	if a.Server == "" {
		a.Server = rep.Server.ID
	}
	if !a.OK && rep.Code != 0 {
		a.Code = rep.Code
	}
	if acc != nil {
		a.Account, a.Pub = acc.Name, acc.Pub
	}
	return a
}

func errAnswer(op, target string, acc *authority.AccountInfo, err error) Answer {
	a := Answer{Op: op, Target: target, Message: err.Error()}
	if acc != nil {
		a.Account, a.Pub = acc.Name, acc.Pub
	}
	return a
}

// selectAccounts returns the named accounts, or every account when all.
func (m *Manager) selectAccounts(names []string, all bool) ([]authority.AccountInfo, error) {
	if all {
		return m.home.Accounts()
	}
	var out []authority.AccountInfo
	for _, n := range names {
		acc, err := m.home.Account(n)
		if err != nil {
			return nil, err
		}
		out = append(out, *acc)
	}
	return out, nil
}

// maxInFlight bounds the claims requests in flight at once: each waits out
// the answer window, so they run together, but not thousands at once.
const maxInFlight = 32

// forEach calls f(0..n-1), at most maxInFlight at a time.
func forEach(n int, f func(i int)) {
	sem := make(chan struct{}, maxInFlight)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			f(i)
		})
	}
	wg.Wait()
}

func sortReplies(rs []claims.Reply) {
	sort.SliceStable(rs, func(i, j int) bool { return rs[i].Server.String() < rs[j].Server.String() })
}

// when formats unix seconds for messages.
func when(sec int64) string { return time.Unix(sec, 0).UTC().Format(time.RFC3339) }

// newestValid returns the newest JWT of acc among tokens that passes the
// home's trust policy, reporting the invalid ones.
func (m *Manager) newestValid(acc *authority.AccountInfo, cands []candidate, rep *Report) (*candidate, *jwt.AccountClaims) {
	var best *candidate
	var bestClaims *jwt.AccountClaims
	for i := range cands {
		c := &cands[i]
		ac, err := m.home.Policy().CheckAccount(acc.Pub, c.token)
		if err != nil {
			rep.add(errAnswer("pull", c.source, acc, fmt.Errorf("the server sent an invalid JWT: %w", err)))
			continue
		}
		if best == nil || ac.IssuedAt > bestClaims.IssuedAt {
			best, bestClaims = c, ac
		}
	}
	return best, bestClaims
}

// candidate is one JWT fetched for an account, with where it came from.
type candidate struct {
	source string
	token  string
}
