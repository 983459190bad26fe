// Package walkthrough sets up the walkthrough's authority — operator
// MyOperator, account MyAccount with its limits and JetStream, users alice,
// bob, admin and responder — in a temporary home, and runs natsauth's node
// on it, for the tests of the examples and of the deploy/ configuration
// files. It does what `natsauth init`, `add account`, `add user` and `serve`
// do, through the same packages.
package walkthrough

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/node"

	// The stores natsauth serve opens, by URL scheme, as in cmd/natsauth.
	_ "github.com/natsauth/natsauth/store/backends"
)

// Names of the walkthrough.
const (
	Operator = "MyOperator"
	Account  = "MyAccount"
)

// Users are the walkthrough's users and their permissions.
var Users = map[string]authority.UserEdit{
	// alice publishes orders.>, receives orders.alice.> and may answer requests.
	"alice": {AllowPub: []string{"orders.>"}, AllowSub: []string{"orders.alice.>", "_INBOX.>"}, RespMax: intp(1)},
	// bob publishes and receives inventory.>, but may not publish inventory.delete.
	"bob": {AllowPubSub: []string{"inventory.>"}, DenyPub: []string{"inventory.delete"}},
	// admin publishes and receives everything.
	"admin": {AllowPubSub: []string{">"}},
	// responder answers requests on orders.status.
	"responder": {AllowSub: []string{"orders.status"}, RespMax: intp(1), RespTTL: durp(5 * time.Second)},
}

func intp(v int) *int                     { return &v }
func durp(v time.Duration) *time.Duration { return &v }

// Limits are the walkthrough's account limits, with JetStream on.
func Limits() authority.AccountEdit {
	return authority.AccountEdit{
		Conns: authority.Int64(1000), Data: authority.Int64(10_000_000_000), Exports: authority.Int64(10),
		Imports: authority.Int64(10), Payload: authority.Int64(1_000_000), Subs: authority.Int64(1000),
		JSMemStorage: authority.Int64(256_000_000), JSDiskStorage: authority.Int64(1_000_000_000),
		JSStreams: authority.Int64(10), JSConsumer: authority.Int64(100),
	}
}

// Setup is a home holding the walkthrough's authority.
type Setup struct {
	t    testing.TB
	Dir  string
	Home *authority.Home
}

// NewHome creates the walkthrough's authority in a temporary home.
func NewHome(t testing.TB) *Setup {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "home")
	h, err := authority.Init(dir, Operator)
	if err != nil {
		t.Fatalf("init home: %v", err)
	}
	if _, err := h.AddAccount(Account, Limits()); err != nil {
		t.Fatalf("add account: %v", err)
	}
	for _, name := range []string{"alice", "bob", "admin", "responder"} {
		if _, err := h.AddUser(Account, name, Users[name]); err != nil {
			t.Fatalf("add user %s: %v", name, err)
		}
	}
	return &Setup{t: t, Dir: dir, Home: h}
}

// Creds is the creds file of a user of MyAccount.
func (s *Setup) Creds(user string) string { return s.Home.CredsPath(Account, user) }

// SysCreds is the creds file of the system account's user sys.
func (s *Setup) SysCreds() string { return s.Home.CredsPath(authority.SystemAccountName, "sys") }

// NodeConfig is what `natsauth serve` builds from the home: trusted
// operator and system account from the home, the home's accounts seeded
// into the store (SQLite in the home unless configFile maps its resolver to
// another), on 127.0.0.1 with random client and monitoring ports.
func (s *Setup) NodeConfig(configFile string) node.Config {
	s.t.Helper()
	cfg, err := node.FromHome(s.Home)
	if err != nil {
		s.t.Fatalf("node config: %v", err)
	}
	flags := node.ServerFlags{Set: map[string]bool{}}
	if configFile == "" {
		flags.Host, flags.Port, flags.HTTPPort, flags.JetStream = "127.0.0.1", -1, -1, true
	}
	cfg.ConfigFile, cfg.Flags = configFile, flags
	cfg.Logger = slog.New(slog.DiscardHandler)
	return cfg
}

// Serve starts a node until the test ends.
func (s *Setup) Serve(cfg node.Config) *node.Node {
	s.t.Helper()
	ctx := context.Background()
	n, err := node.New(ctx, cfg)
	if err != nil {
		s.t.Fatalf("node: %v", err)
	}
	s.t.Cleanup(func() { n.Close() })
	if err := n.Start(ctx); err != nil {
		s.t.Fatalf("start node: %v", err)
	}
	return n
}

// Server is a running natsauth node with the walkthrough's authority.
type Server struct {
	*Setup
	Node *node.Node
	URL  string
}

// Start creates the walkthrough's home and serves it with JetStream on.
func Start(t testing.TB) *Server {
	t.Helper()
	s := NewHome(t)
	n := s.Serve(s.NodeConfig(""))
	return &Server{Setup: s, Node: n, URL: n.ClientURL()}
}

// Connect connects a user of MyAccount until the test ends.
func (s *Server) Connect(user string) *nats.Conn {
	s.t.Helper()
	return Connect(s.t, s.URL, s.Creds(user))
}

// Connect connects with a creds file until the test ends.
func Connect(t testing.TB, url, creds string, opts ...nats.Option) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, append([]nats.Option{nats.UserCredentials(creds), nats.Name(t.Name())}, opts...)...)
	if err != nil {
		t.Fatalf("connect to %s with %s: %v", url, filepath.Base(creds), err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// Monitor is the node's monitoring base URL (http://host:port).
func (s *Server) Monitor() string {
	s.t.Helper()
	addr := s.Node.Server().MonitorAddr()
	if addr == nil {
		s.t.Fatal("monitoring is off")
	}
	return fmt.Sprintf("http://%s", addr)
}
