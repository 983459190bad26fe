package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/pflag"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/claims"
)

// remoteFlags are the flags push and pull share: where the servers are
// and how to reach them.
type remoteFlags struct {
	account        string
	all            bool
	servers        []string
	accountServers []string
	creds          string
	timeout        time.Duration
	tlsCA          string
	asJSON         bool
}

func (f *remoteFlags) bind(fl *pflag.FlagSet, verb string) {
	fl.StringVarP(&f.account, "account", "a", "", "account to "+verb)
	fl.BoolVarP(&f.all, "all", "A", false, verb+" every account of the home")
	fl.StringArrayVar(&f.servers, "server", nil,
		"NATS URL of a natsauth node or a stock nats-server with a full resolver (repeatable)")
	fl.StringArrayVar(&f.accountServers, "account-server", nil,
		"account server URL, e.g. http://host:9090 or http://host:9090/jwt/v1 (repeatable)")
	fl.StringVar(&f.creds, "creds", "", "system-account user creds for --server (default: the home's system user)")
	fl.DurationVar(&f.timeout, "timeout", claims.DefaultWait,
		"how long to gather the answers of every NATS server to each request")
	fl.StringVar(&f.tlsCA, "tls-ca", "", "CA file to verify tls:// and https:// servers")
	fl.BoolVar(&f.asJSON, "json", false, "print the results as JSON")
}

// check reports flag combinations that cannot work, before anything is
// sent.
func (f *remoteFlags) check(verb string) error {
	var problems []string
	if f.all && f.account != "" {
		problems = append(problems, "give -a ACCOUNT or -A, not both")
	}
	if f.timeout <= 0 {
		problems = append(problems, fmt.Sprintf("--timeout %s: must be positive", f.timeout))
	}
	for _, s := range f.servers {
		u, err := url.Parse(s)
		if err != nil || u.Host == "" {
			problems = append(problems, fmt.Sprintf("--server %q: not a URL (nats://host:4222)", redactURL(s)))
			continue
		}
		switch u.Scheme {
		case "nats", "tls", "ws", "wss":
		default:
			problems = append(problems, fmt.Sprintf("--server %s: scheme %q is not a NATS scheme (nats, tls, ws, wss); use --account-server for http(s)",
				redactURL(s), u.Scheme))
		}
	}
	for _, s := range f.accountServers {
		if _, err := claims.NewAccountServer(s, nil); err != nil {
			problems = append(problems, fmt.Sprintf("--account-server: %v", err))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s: %s", verb, strings.Join(problems, "; "))
	}
	return nil
}

// targets resolves where to talk to: the flags, or else the operator's
// account_server_url.
func (f *remoteFlags) targets(h *authority.Home, verb string) (servers, accountServers []string, err error) {
	servers, accountServers = f.servers, f.accountServers
	if len(servers)+len(accountServers) > 0 {
		return servers, accountServers, nil
	}
	if u := h.Operator().AccountServerURL; u != "" {
		if strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://") {
			return nil, []string{u}, nil
		}
		return []string{u}, nil, nil
	}
	return nil, nil, fmt.Errorf("%s: where to? give --server nats://HOST:4222 and/or --account-server http://HOST:9090 "+
		"(the operator names no account_server_url)", verb)
}

// selectAccounts returns the accounts named by -a / -A.
func (f *remoteFlags) selectAccounts(h *authority.Home) ([]authority.AccountInfo, error) {
	if f.all {
		return h.Accounts()
	}
	if f.account == "" {
		return nil, nil
	}
	acc, err := h.Account(f.account)
	if err != nil {
		return nil, err
	}
	return []authority.AccountInfo{*acc}, nil
}

// connect connects a system-account user to one NATS URL.
func (f *remoteFlags) connect(h *authority.Home, rawURL, name string) (*nats.Conn, error) {
	creds := f.creds
	if creds == "" {
		p, err := h.SystemUserCreds()
		if err != nil {
			return nil, fmt.Errorf("%w (pass --creds of a system-account user)", err)
		}
		creds = p
	}
	if _, err := os.Stat(creds); err != nil {
		return nil, fmt.Errorf("--creds: %w", err)
	}
	opts := []nats.Option{
		nats.Name(name),
		nats.UserCredentials(creds),
		nats.Timeout(max(f.timeout, 5*time.Second)),
		nats.NoReconnect(),
		nats.DontRandomize(),
	}
	if f.tlsCA != "" {
		opts = append(opts, nats.RootCAs(f.tlsCA))
	}
	nc, err := nats.Connect(rawURL, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", redactURL(rawURL), err)
	}
	return nc, nil
}

// httpClient is the client for account servers.
func (f *remoteFlags) httpClient() (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if f.tlsCA != "" {
		pem, err := os.ReadFile(f.tlsCA)
		if err != nil {
			return nil, fmt.Errorf("--tls-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--tls-ca %s: no PEM certificates in it", f.tlsCA)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr, Timeout: publishTimeout}, nil
}

// result is one line of a push or pull report: one server's answer, or a
// failure to get one.
type result struct {
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

// report collects results and prints them as they come, or as JSON at the
// end.
type report struct {
	out     io.Writer
	asJSON  bool
	results []result
}

func (r *report) add(res result) {
	r.results = append(r.results, res)
	if r.asJSON {
		return
	}
	var b strings.Builder
	b.WriteString(res.Op)
	if res.Account != "" {
		b.WriteString(" " + res.Account)
	}
	b.WriteString(" " + res.Target + ": ")
	if res.Server != "" {
		b.WriteString("server " + res.Server)
		if res.ServerID != "" && res.ServerID != res.Server {
			b.WriteString(" (" + res.ServerID + ")")
		}
		b.WriteString(": ")
	}
	if res.OK {
		b.WriteString("ok")
	} else {
		b.WriteString("FAILED")
	}
	if res.Code != 0 {
		fmt.Fprintf(&b, " (%d)", res.Code)
	}
	if res.Message != "" {
		b.WriteString(": " + res.Message)
	}
	fmt.Fprintln(r.out, b.String())
}

func (r *report) failures() int {
	n := 0
	for _, res := range r.results {
		if !res.OK {
			n++
		}
	}
	return n
}

// finish prints the JSON report (with --json) and returns an error when
// anything failed, so the command exits non-zero.
func (r *report) finish(verb string) error {
	failed := r.failures()
	if r.asJSON {
		res := r.results
		if res == nil {
			res = []result{}
		}
		b, err := json.MarshalIndent(struct {
			OK      bool     `json:"ok"`
			Results []result `json:"results"`
		}{failed == 0, res}, "", "  ")
		if err != nil {
			return fmt.Errorf("%s: encode report: %w", verb, err)
		}
		fmt.Fprintln(r.out, string(b))
	}
	if failed > 0 {
		return fmt.Errorf("%s: %d of %d answers were refusals or failures (see above)", verb, failed, len(r.results))
	}
	if !r.asJSON {
		fmt.Fprintf(r.out, "%s: %d answers, all ok\n", verb, len(r.results))
	}
	return nil
}

// replyResult turns one server's answer into a result.
func replyResult(op, target string, acc *authority.AccountInfo, rep claims.Reply) result {
	res := result{Op: op, Target: target, Server: rep.Server.Name, ServerID: rep.Server.ID,
		OK: rep.OK(), Message: rep.Message}
	if res.Server == "" {
		res.Server = rep.Server.ID
	}
	if !res.OK && rep.Code != 0 {
		res.Code = rep.Code
	}
	if acc != nil {
		res.Account, res.Pub = acc.Name, acc.Pub
	}
	return res
}

// errResult is a result for a request that got no answer.
func errResult(op, target string, acc *authority.AccountInfo, err error) result {
	res := result{Op: op, Target: target, Message: err.Error()}
	if acc != nil {
		res.Account, res.Pub = acc.Name, acc.Pub
	}
	return res
}
