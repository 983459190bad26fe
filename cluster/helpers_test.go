package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/internal/pgtest"
	"github.com/natsauth/natsauth/internal/testkit"
	"github.com/natsauth/natsauth/node"
	"github.com/natsauth/natsauth/store"
	_ "github.com/natsauth/natsauth/store/backends"
)

// envLog makes the nodes log to stderr (debugging a failure).
const envLog = "NATSAUTH_TEST_LOG"

func TestMain(m *testing.M) {
	if spec := os.Getenv(writerEnv); spec != "" {
		// Re-executed by TestKill9DuringBurst as the writer to kill.
		os.Exit(runWriter(spec))
	}
	pgtest.Main(m)
}

// testLogger discards node logs unless NATSAUTH_TEST_LOG is set.
func testLogger(name string) *slog.Logger {
	if os.Getenv(envLog) == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("node", name)
}

// newHome makes an operator home with the authority package, as
// `natsauth init` does.
func newHome(t testing.TB) *authority.Home {
	t.Helper()
	h, err := authority.Init(filepath.Join(t.TempDir(), "home"), "OP")
	if err != nil {
		t.Fatalf("init home: %v", err)
	}
	return h
}

// freePorts reserves n loopback TCP ports and releases them, so that
// nodes can name each other's cluster ports before any of them starts
// (and a restarted node gets its old port back).
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	ports := make([]int, n)
	ls := make([]net.Listener, n)
	for i := range ls {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("reserve port: %v", err)
		}
		ls[i] = l
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

// routeURLs lists every cluster port as a nats-server route URL.
func routeURLs(ports []int) string {
	urls := make([]string, len(ports))
	for i, p := range ports {
		urls[i] = fmt.Sprintf("nats://127.0.0.1:%d", p)
	}
	return strings.Join(urls, ",")
}

// trustRoot is what a node takes from a home: the operator, the system
// account's key (for the in-process claims responder) and the account
// JWTs it seeds the store with.
type trustRoot struct {
	operatorJWT string
	sysSigner   nkeys.KeyPair
	seed        map[string]string
}

// homeRoot reads the trust root from a home, as `natsauth serve` does.
func homeRoot(t testing.TB, h *authority.Home) trustRoot {
	t.Helper()
	signer, err := h.AccountSigner(h.SystemAccount())
	if err != nil {
		t.Fatal(err)
	}
	seed, err := h.AccountJWTs()
	if err != nil {
		t.Fatal(err)
	}
	return trustRoot{operatorJWT: h.OperatorJWT(), sysSigner: signer, seed: seed}
}

// kitRoot is the trust root of a testkit operator.
func kitRoot(op *testkit.Operator) trustRoot {
	return trustRoot{operatorJWT: op.JWT, sysSigner: op.System.KP, seed: map[string]string{op.System.Pub: op.System.JWT}}
}

// clusterConfigs describes n natsauth nodes of one cluster over one store:
// what `natsauth serve --cluster nats://127.0.0.1:P --routes …` builds
// from a home. Every node routes to every node (a route to itself is
// ignored by nats-server). With js each node runs JetStream in a
// directory of its own.
func clusterConfigs(t testing.TB, root trustRoot, storeURL string, n int, js bool) []node.Config {
	t.Helper()
	ports := freePorts(t, n)
	routes := routeURLs(ports)
	cfgs := make([]node.Config, n)
	for i := range cfgs {
		name := fmt.Sprintf("n%d", i+1)
		fl := node.ServerFlags{
			Host:        "127.0.0.1",
			Port:        -1,
			Name:        name,
			Cluster:     fmt.Sprintf("nats://127.0.0.1:%d", ports[i]),
			ClusterName: "natsauth",
			Routes:      routes,
		}
		if js {
			fl.JetStream = true
			fl.StoreDir = filepath.Join(t.TempDir(), "js-"+name)
		}
		cfgs[i] = node.Config{
			Flags:             fl,
			OperatorJWT:       root.operatorJWT,
			SystemAccountName: authority.SystemAccountName,
			SystemSigner:      root.sysSigner,
			StoreURL:          storeURL,
			Seed:              root.seed,
			Logger:            testLogger(name),
		}
	}
	return cfgs
}

// cluster is a set of running natsauth nodes.
type cluster struct {
	cfgs  []node.Config
	nodes []*node.Node
}

// startCluster starts every node and waits until each has routes to all
// the others.
func startCluster(t testing.TB, cfgs []node.Config) *cluster {
	t.Helper()
	c := &cluster{cfgs: cfgs, nodes: make([]*node.Node, len(cfgs))}
	for i := range cfgs {
		c.start(t, i)
	}
	c.waitRoutes(t)
	return c
}

// start starts node i (again, after stop).
func (c *cluster) start(t testing.TB, i int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := node.New(ctx, c.cfgs[i])
	if err != nil {
		t.Fatalf("node %d: new: %v", i+1, err)
	}
	t.Cleanup(func() { n.Close() })
	if err := n.Start(ctx); err != nil {
		t.Fatalf("node %d: start: %v", i+1, err)
	}
	select {
	case <-n.Resolver().Ready():
	case <-ctx.Done():
		t.Fatalf("node %d: the $SYS claims responder did not subscribe", i+1)
	}
	c.nodes[i] = n
}

// stop shuts node i down.
func (c *cluster) stop(t testing.TB, i int) {
	t.Helper()
	if err := c.nodes[i].Close(); err != nil {
		t.Fatalf("node %d: close: %v", i+1, err)
	}
	c.nodes[i] = nil
}

// server returns the running node whose client URL is url.
func (c *cluster) server(url string) *server.Server {
	for _, n := range c.nodes {
		if n != nil && n.ClientURL() == url {
			return n.Server()
		}
	}
	return nil
}

// urls returns the client URLs of the running nodes.
func (c *cluster) urls() []string {
	var urls []string
	for _, n := range c.nodes {
		if n != nil {
			urls = append(urls, n.ClientURL())
		}
	}
	return urls
}

// waitRoutes waits until every running node has a route to every other
// running node, as /routez reports them.
func (c *cluster) waitRoutes(t testing.TB) {
	t.Helper()
	var servers []*server.Server
	for _, n := range c.nodes {
		if n != nil {
			servers = append(servers, n.Server())
		}
	}
	await(t, 30*time.Second, "a full mesh of routes", func() bool { return meshed(servers) })
}

// meshed reports whether each server's /routez names every other server.
func meshed(servers []*server.Server) bool {
	for _, s := range servers {
		rz, err := s.Routez(&server.RoutezOptions{})
		if err != nil {
			return false
		}
		var remotes []string
		for _, r := range rz.Routes {
			remotes = append(remotes, r.RemoteID)
		}
		for _, o := range servers {
			if o != s && !slices.Contains(remotes, o.ID()) {
				return false
			}
		}
	}
	return true
}

// await polls cond until it holds, failing the test after within, and
// returns how long it took. The deadline only bounds a failure; no test
// asserts on the time taken.
func await(t testing.TB, within time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %s", what, within)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return time.Since(start)
}

// watched is a client connection that records when it was closed.
type watched struct {
	nc       *nats.Conn
	url      string
	cid      uint64       // the server's id of the connection
	closedAt atomic.Int64 // unix nanoseconds, 0 while open
	closed   chan struct{}
}

// watch connects to url with auth and no reconnects, recording the moment
// the server drops the connection.
func watch(t testing.TB, url string, auth nats.Option) *watched {
	t.Helper()
	w := &watched{url: url, closed: make(chan struct{})}
	mark := func() { w.closedAt.CompareAndSwap(0, time.Now().UnixNano()) }
	nc, err := nats.Connect(url, auth, nats.NoReconnect(), nats.Timeout(5*time.Second),
		nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}),
		nats.DisconnectErrHandler(func(*nats.Conn, error) { mark() }),
		nats.ClosedHandler(func(*nats.Conn) { mark(); close(w.closed) }))
	if err != nil {
		t.Fatalf("connect to %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	w.nc = nc
	if w.cid, err = nc.GetClientID(); err != nil {
		t.Fatal(err)
	}
	return w
}

// closedReason returns why s closed the client connection cid, as its
// /connz?state=closed reports it.
func closedReason(t testing.TB, s *server.Server, cid uint64) string {
	t.Helper()
	var reason string
	await(t, 5*time.Second, fmt.Sprintf("closed connection %d in /connz", cid), func() bool {
		cz, err := s.Connz(&server.ConnzOptions{CID: cid, State: server.ConnClosed})
		if err != nil || len(cz.Conns) == 0 {
			return false
		}
		reason = cz.Conns[0].Reason
		return true
	})
	return reason
}

// isClosed reports whether the server has dropped the connection.
func (w *watched) isClosed() bool { return w.closedAt.Load() != 0 }

// when is the time the connection was dropped.
func (w *watched) when() time.Time { return time.Unix(0, w.closedAt.Load()) }

// tryConnect connects once to url and returns the connection, open, or
// the error that refused it.
func tryConnect(url string, auth nats.Option) (*nats.Conn, error) {
	nc, err := nats.Connect(url, auth, nats.NoReconnect(), nats.Timeout(5*time.Second),
		nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}))
	if err != nil {
		return nil, err
	}
	if err := nc.Flush(); err != nil { // the connect INFO has arrived after this
		nc.Close()
		return nil, err
	}
	return nc, nil
}

// creds authenticates as a user of the home, with its creds file.
func creds(h *authority.Home, account, user string) nats.Option {
	return nats.UserCredentials(h.CredsPath(account, user))
}

// openStore opens storeURL the way the CLI does, with the home's policy.
func openStore(t testing.TB, h *authority.Home, storeURL string) store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), storeURL, store.Options{Policy: h.Policy()})
	if err != nil {
		t.Fatalf("open store %s: %v", store.Redact(storeURL), err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
