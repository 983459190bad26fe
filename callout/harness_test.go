package callout_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/natsauth/natsauth/audit"
	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/callout"
	"github.com/natsauth/natsauth/callout/userdb"
	"github.com/natsauth/natsauth/internal/oidctest"
	"github.com/natsauth/natsauth/internal/password"
	"github.com/natsauth/natsauth/internal/pgtest"
	"github.com/natsauth/natsauth/internal/tlsgen"
	"github.com/natsauth/natsauth/node"
	_ "github.com/natsauth/natsauth/store/backends"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// env is a natsauth home with a callout account AUTH (auth user
// "callout"), an application account APP allowed for it, a real
// nats-server in operator mode serving them (default_sentinel set, so
// token and password clients need no creds), a real OpenID provider and a
// password user database.
type env struct {
	t     testing.TB
	dir   string
	home  *authority.Home
	node  *node.Node
	op    *oidctest.Provider
	users *userdb.DB
	rules string // rules file path
	audit *audit.Memory
	logs  *syncBuffer
	tls   *tlsgen.Files
	app   *authority.AccountInfo

	connectFn, systemFn callout.ConnectFunc
}

type envOpts struct {
	curve      bool // the callout account encrypts requests
	signingKey bool // APP signs users with a signing key
	tls        bool // the server requires verified client certificates

	defaultHashCost bool // hash passwords with userdb.DefaultParams
	postgres        bool // password users in PostgreSQL (a fleet's store) instead of SQLite
}

const rulesTmpl = `
ttl: 1h
providers:
  - name: corp
    issuer: %[1]s
    audiences: [nats]
    ca_file: %[2]s
rules:
  - name: ops
    match:
      source: oidc
      provider: corp
      claims:
        groups: {contains: ops}
    account: APP
    permissions:
      pub: {allow: ["orders.{{ .Claims.sub }}.>", "teams.{{ index .Claims.groups 0 }}.>", "$SYS.REQ.USER.INFO"]}
      sub: {allow: ["_INBOX.>", "orders.{{ .Claims.sub }}.>"]}
  - name: short
    match:
      source: oidc
      claims: {groups: {contains: short}}
    account: APP
    permissions:
      pub: {allow: ["short.>"]}
      sub: {allow: ["_INBOX.>"]}
    ttl: 2s
  - name: staff
    match:
      source: password
      claims: {groups: {contains: staff}}
    account: APP
    permissions:
      pub: {allow: ["staff.{{ .Username }}.>", "$SYS.REQ.USER.INFO"]}
      sub: {allow: ["_INBOX.>", "staff.>"]}
  - name: devices
    match:
      source: tls
      cert: {o: "natsauth development"}
    account: APP
    permissions:
      pub: {allow: ["devices.{{ .Cert.CommonName | replace \" \" \"-\" }}.>", "$SYS.REQ.USER.INFO"]}
      sub: {allow: ["_INBOX.>"]}
`

func newEnv(t testing.TB, o envOpts) *env {
	t.Helper()
	dir := t.TempDir()
	h, err := authority.Init(filepath.Join(dir, "home"), "TestOp")
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err = h.AddAccount("AUTH", authority.AccountEdit{})
	must(err)
	appEdit := authority.AccountEdit{}
	if o.signingKey {
		appEdit.AddSigningKeys = []string{""}
	}
	_, err = h.AddAccount("APP", appEdit)
	must(err)
	_, err = h.AddUser("AUTH", "callout", authority.UserEdit{})
	must(err)
	_, err = h.AddUser("APP", "watcher", authority.UserEdit{})
	must(err)
	ce := authority.AuthCalloutEdit{AuthUsers: []string{"callout"}, AllowedAccounts: []string{"APP"}}
	if o.curve {
		ce.Curve = authority.GenerateCurve
	}
	_, err = h.EditAuthCallout("AUTH", ce)
	must(err)
	e := &env{t: t, dir: dir, home: h, audit: &audit.Memory{}, logs: &syncBuffer{}}
	e.app, err = h.Account("APP")
	must(err)
	e.op = oidctest.Start(t)
	e.rules = filepath.Join(dir, "rules.yaml")
	e.writeRules(fmt.Sprintf(rulesTmpl, e.op.Issuer, e.op.CAFile))
	params := password.Fast // fast for tests; benchmarks use the defaults
	if o.defaultHashCost {
		params = userdb.DefaultParams
	}
	usersURL := "sqlite://" + filepath.Join(dir, "home", "accounts.db")
	if o.postgres {
		usersURL = pgtest.Start(t).NewDatabase(t)
	}
	e.users, err = userdb.Open(context.Background(), usersURL, userdb.Options{Audit: e.audit, Params: params})
	must(err)
	t.Cleanup(func() { e.users.Close() })
	if o.tls {
		e.tls, err = tlsgen.Generate(filepath.Join(dir, "tls"), tlsgen.Options{})
		must(err)
	}
	e.startNode()
	return e
}

func (e *env) writeRules(s string) {
	e.t.Helper()
	tmp := e.rules + ".tmp"
	if err := os.WriteFile(tmp, []byte(s), 0o600); err != nil {
		e.t.Fatal(err)
	}
	if err := os.Rename(tmp, e.rules); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) startNode() {
	t := e.t
	t.Helper()
	jwts, err := e.home.AccountJWTs()
	if err != nil {
		t.Fatal(err)
	}
	sysKP, err := e.home.AccountSigner(e.home.SystemAccount())
	if err != nil {
		t.Fatal(err)
	}
	flags := node.ServerFlags{Host: "127.0.0.1", Port: -1}
	if e.tls != nil {
		flags.TLSCert, flags.TLSKey, flags.TLSCA, flags.TLSVerify = e.tls.ServerCert, e.tls.ServerKey, e.tls.CA, true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	n, err := node.New(ctx, node.Config{Flags: flags, OperatorJWT: e.home.OperatorJWT(), SystemAccountName: "SYS",
		SystemSigner: sysKP, StoreURL: "mem://", Seed: jwts})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	// What `serve --callout` does: clients without creds are the
	// sentinel; the gateway connects in process.
	e.connectFn, e.systemFn, err = callout.PrepareNode(n, e.home, "AUTH")
	if err != nil {
		t.Fatal(err)
	}
	if n.Options().DefaultSentinel == "" {
		t.Fatal("PrepareNode set no sentinel")
	}
	// A loaded CI machine must not turn a slow answer into a refusal.
	n.Options().AuthTimeout = 5
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	e.node = n
}

// publishAccount pushes the home's JWT of an account to the node's store,
// as `natsauth edit` does; the node applies it live.
func (e *env) publishAccount(name string) {
	e.t.Helper()
	acc, err := e.home.Account(name)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.node.Store().Put(context.Background(), acc.Pub, acc.JWT); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) serviceConnect() callout.ConnectFunc { return e.connectFn }

func (e *env) systemConnect() callout.ConnectFunc { return e.systemFn }

// service starts a gateway instance; mod adjusts its configuration.
func (e *env) service(mod func(*callout.Config)) (*callout.Service, *prometheus.Registry) {
	e.t.Helper()
	reg := prometheus.NewRegistry()
	cfg := callout.Config{
		Home: e.home, Account: "AUTH", RulesFile: e.rules, Users: e.users, UserPoll: 50 * time.Millisecond,
		Connect: e.serviceConnect(), SystemConnect: e.systemConnect(), Audit: e.audit, Registerer: reg,
		Throttle: &callout.Throttle{Disabled: true},
		Logger:   slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if mod != nil {
		mod(&cfg)
	}
	s, err := callout.New(cfg)
	if err != nil {
		e.t.Fatalf("callout.New: %v", err)
	}
	if err := s.Start(context.Background()); err != nil {
		e.t.Fatalf("callout Start: %v", err)
	}
	e.t.Cleanup(func() { s.Close() })
	return s, reg
}

// connect connects a client; it is closed when the test ends.
func (e *env) connect(opts ...nats.Option) (*nats.Conn, error) {
	o := append([]nats.Option{nats.MaxReconnects(0), nats.Timeout(5 * time.Second)}, opts...)
	if e.tls != nil {
		o = append(o, nats.RootCAs(e.tls.CA))
	}
	nc, err := nats.Connect(e.node.ClientURL(), o...)
	if err == nil {
		e.t.Cleanup(nc.Close)
	}
	return nc, err
}

func (e *env) mustConnect(opts ...nats.Option) *nats.Conn {
	e.t.Helper()
	nc, err := e.connect(opts...)
	if err != nil {
		e.t.Fatalf("connect: %v", err)
	}
	return nc
}

// refused asserts the connect fails as an authorization failure.
func (e *env) refused(what string, opts ...nats.Option) {
	e.t.Helper()
	nc, err := e.connect(opts...)
	if err == nil {
		nc.Close()
		e.t.Errorf("%s: connected, want refused", what)
		return
	}
	if !strings.Contains(strings.ToLower(err.Error()), "authorization") {
		e.t.Errorf("%s: error %v, want an authorization violation", what, err)
	}
}

// userInfo asks the server who the connection is.
type userInfo struct {
	Account     string `json:"account"`
	UserID      string `json:"user"`
	Permissions struct {
		Publish struct {
			Allow []string `json:"allow"`
			Deny  []string `json:"deny"`
		} `json:"publish"`
		Subscribe struct {
			Allow []string `json:"allow"`
		} `json:"subscribe"`
	} `json:"permissions"`
	Expires time.Duration `json:"expires"`
}

func whoami(t *testing.T, nc *nats.Conn) userInfo {
	t.Helper()
	m, err := nc.Request("$SYS.REQ.USER.INFO", nil, 5*time.Second)
	if err != nil {
		t.Fatalf("user info: %v", err)
	}
	var resp struct {
		Data  userInfo `json:"data"`
		Error any      `json:"error"`
	}
	if err := json.Unmarshal(m.Data, &resp); err != nil || resp.Error != nil {
		t.Fatalf("user info %s: %v", m.Data, err)
	}
	return resp.Data
}

// counter reads natsauth_callout_decisions_total{result, reason}, summed
// over accounts.
func counter(t *testing.T, reg *prometheus.Registry, result, reason string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != "natsauth_callout_decisions_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if label(m, "result") == result && label(m, "reason") == reason {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// eventually polls cond until it holds or 10 seconds pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: did not happen within 10s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// closedWith returns a channel closed when the connection is closed, and
// the last async error it saw.
func closedWith(nc *nats.Conn) (<-chan struct{}, func() error) {
	ch := make(chan struct{})
	var mu sync.Mutex
	var last error
	nc.SetClosedHandler(func(*nats.Conn) { close(ch) })
	nc.SetErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		mu.Lock()
		last = err
		mu.Unlock()
	})
	return ch, func() error { mu.Lock(); defer mu.Unlock(); return last }
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
