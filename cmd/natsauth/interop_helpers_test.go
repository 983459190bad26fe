package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// Helpers for the stock-server interop tests: real, unmodified
// nats-servers in-process, configured by `natsauth generate config`, and
// `natsauth serve` run in-process.

// interopHome is an initialized home whose commands and `serve` share one
// SQLite store.
func interopHome(t *testing.T) *cliHome {
	t.Helper()
	c := newCLIHome(t)
	c.store = "sqlite://" + filepath.Join(t.TempDir(), "accounts.db")
	c.must("init", "--name", "MyOperator")
	return c
}

// interopConfig runs `natsauth generate config` with args and returns the
// configuration with a loopback listen address on a free port added (what
// an operator adds by hand).
func interopConfig(t *testing.T, c *cliHome, args ...string) string {
	t.Helper()
	conf := c.must(append([]string{"generate", "config"}, args...)...)
	return "listen: \"127.0.0.1:-1\"\n" + conf
}

// startStockServer starts a stock nats-server from a configuration text, the way
// nats-server -c does: ProcessConfigFile, NewServer, Start.
func startStockServer(t *testing.T, conf string) *server.Server {
	t.Helper()
	file := filepath.Join(t.TempDir(), "nats-server.conf")
	if err := os.WriteFile(file, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err := server.ProcessConfigFile(file)
	if err != nil {
		t.Fatalf("stock nats-server refuses the configuration: %v\n%s", err, conf)
	}
	opts.NoLog, opts.NoSigs = true, true
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("stock nats-server: %v\n%s", err, conf)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("stock nats-server not ready")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s
}

// interopConnect connects with a user's creds from the home.
func interopConnect(url string, c *cliHome, account, user string, opts ...nats.Option) (*nats.Conn, error) {
	creds := filepath.Join(c.dir, "keys", "creds", "MyOperator", account, user+".creds")
	return nats.Connect(url, append([]nats.Option{nats.UserCredentials(creds), nats.MaxReconnects(0)}, opts...)...)
}

// interopMustConnect connects or fails the test.
func interopMustConnect(t *testing.T, url string, c *cliHome, account, user string) *nats.Conn {
	t.Helper()
	nc, err := interopConnect(url, c, account, user)
	if err != nil {
		t.Fatalf("%s/%s cannot connect to %s: %v", account, user, url, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// interopMustRefuse checks that a user cannot connect.
func interopMustRefuse(t *testing.T, url string, c *cliHome, account, user string) {
	t.Helper()
	nc, err := interopConnect(url, c, account, user)
	if err == nil {
		nc.Close()
		t.Fatalf("%s/%s connected to %s, want a refusal", account, user, url)
	}
	if !strings.Contains(strings.ToLower(err.Error()), "authorization") {
		t.Fatalf("%s/%s: %v, want an authorization violation", account, user, err)
	}
}

var (
	interopServingRe  = regexp.MustCompile(`natsauth serving on (nats://[0-9.:]+)`)
	interopAccountsRe = regexp.MustCompile(`account server listening on (http://[0-9.:]+/jwt/v1/accounts/)`)
)

// interopServed is a `natsauth serve` running in-process.
type interopServed struct {
	url      string // client URL
	accounts string // account-server accounts URL ("" without --account-server)
	out      *syncBuffer
}

// startInteropServe runs `natsauth serve` for the home in-process until the test
// ends, on free ports.
func startInteropServe(t *testing.T, c *cliHome, args ...string) *interopServed {
	t.Helper()
	bg := startBackground(t, append([]string{"serve", "--home", c.dir, "--store", c.store, "-p", "-1", "--log-level", "warn"}, args...)...)
	s := &interopServed{url: bg.wait(t, bg.out, interopServingRe, time.Minute)[1], out: bg.out}
	if m := interopAccountsRe.FindStringSubmatch(bg.out.String()); m != nil {
		s.accounts = m[1]
	}
	return s
}
