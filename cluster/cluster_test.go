package cluster

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/internal/pgtest"
	"github.com/natsauth/natsauth/store"
)

// serverMaxPayload is nats-server's default max_payload, what a client is
// told while its account sets no lower limit.
const serverMaxPayload = 1 << 20

// Three natsauth nodes sharing one PostgreSQL store form one cluster, and a
// change made by any write path is enforced on every node: a lower max
// payload, a new account with its user, and a revocation that closes the
// user's connections on every node.
func TestClusterPropagation(t *testing.T) {
	h := newHome(t)
	pgURL := pgtest.Start(t).NewDatabase(t)
	c := startCluster(t, clusterConfigs(t, homeRoot(t, h), pgURL, 3, true))
	for i, n := range c.nodes {
		rz, err := n.Server().Routez(nil)
		if err != nil {
			t.Fatal(err)
		}
		if !n.Server().JetStreamEnabled() {
			t.Errorf("node %d: JetStream is off", i+1)
		}
		t.Logf("node %d (%s): %d route connections, cluster %q", i+1, n.ClientURL(), rz.NumRoutes, n.Server().ClusterName())
	}
	// The CLI and the account server each hold their own handle on the
	// store, as separate processes would.
	setup := openStore(t, h, pgURL)
	paths := []writePath{
		storePath(openStore(t, h, pgURL)),
		pushPath(t, h, roundRobin(c)),
		postPath(t, h, openStore(t, h, pgURL)),
	}
	for _, p := range paths {
		t.Run(p.name, func(t *testing.T) {
			t.Run("limit", func(t *testing.T) { checkLimitChange(t, h, c, setup, p) })
			t.Run("new-account-user", func(t *testing.T) { checkNewAccount(t, h, c, p) })
			t.Run("revocation", func(t *testing.T) { checkRevocation(t, h, c, setup, p) })
		})
	}
}

// checkLimitChange lowers an account's max payload through p: new
// connections to every node are told the new limit, and connections made
// before the change are held to it by the server.
func checkLimitChange(t *testing.T, h *authority.Home, c *cluster, setup store.Store, p writePath) {
	const limit = 4096
	name := "limit-" + p.name
	acc := addAccount(t, h, name, setup)
	auth := creds(h, name, "u")
	var before []*watched
	for _, url := range c.urls() {
		w := watch(t, url, auth)
		if err := w.nc.Flush(); err != nil {
			t.Fatal(err)
		}
		if got := w.nc.MaxPayload(); got != serverMaxPayload {
			t.Fatalf("%s: max payload before the change = %d, want %d", url, got, serverMaxPayload)
		}
		before = append(before, w)
	}
	edited, err := h.EditAccount(name, authority.AccountEdit{Payload: authority.Int64(limit)})
	if err != nil {
		t.Fatal(err)
	}
	accepted := mustWrite(t, p, acc.Pub, edited.JWT)
	took := enforcedOn(t, c.urls(), accepted, "max payload "+fmt.Sprint(limit), func(url string) bool {
		nc, err := tryConnect(url, auth)
		if err != nil {
			t.Fatalf("connect to %s after the limit change: %v", url, err)
		}
		defer nc.Close()
		return nc.MaxPayload() == limit
	})
	t.Logf("%s: max payload %d enforced (new connection's INFO) %s after the write was accepted", p.name, limit, took)
	// A connection made before the change was told 1 MiB, so its client
	// sends a bigger message; the server refuses it and closes the
	// connection.
	for _, w := range before {
		if err := w.nc.Publish("big", make([]byte, limit+1)); err != nil {
			t.Fatalf("%s: publish: %v", w.url, err)
		}
		w.nc.Flush()
		select {
		case <-w.closed:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: connection made before the change was not closed for a %d byte message", w.url, limit+1)
		}
		if got, want := closedReason(t, c.server(w.url), w.cid), server.MaxPayloadExceeded.String(); got != want {
			t.Errorf("%s: connection closed for %q, want %q", w.url, got, want)
		}
	}
}

// checkNewAccount creates an account and user that no node knows, writes
// the account through p, and waits until its user can connect to every
// node. Each node has refused the user just before, so an "unknown
// account" answer is cached at the moment of the write.
func checkNewAccount(t *testing.T, h *authority.Home, c *cluster, p writePath) {
	name := "new-" + p.name
	acc, err := h.AddAccount(name, authority.AccountEdit{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.AddUser(name, "u", authority.UserEdit{}); err != nil {
		t.Fatal(err)
	}
	auth := creds(h, name, "u")
	for _, url := range c.urls() {
		if nc, err := tryConnect(url, auth); err == nil {
			nc.Close()
			t.Fatalf("%s: user of an account not yet written connected", url)
		}
	}
	accepted := mustWrite(t, p, acc.Pub, acc.JWT)
	took := enforcedOn(t, c.urls(), accepted, "connect of the new user", func(url string) bool {
		nc, err := tryConnect(url, auth)
		if err != nil {
			return false
		}
		nc.Close()
		return true
	})
	t.Logf("%s: new account's user connects to every node %s after the write was accepted", p.name, took)
}

// checkRevocation connects one user to every node, revokes it through p,
// and waits until every one of those connections is closed; then no node
// accepts the user again.
func checkRevocation(t *testing.T, h *authority.Home, c *cluster, setup store.Store, p writePath) {
	name := "revoke-" + p.name
	acc := addAccount(t, h, name, setup)
	auth := creds(h, name, "u")
	var conns []*watched
	for _, url := range c.urls() {
		conns = append(conns, watch(t, url, auth))
	}
	revoked, err := h.RevokeUser(name, "u", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	accepted := mustWrite(t, p, acc.Pub, revoked.JWT)
	var last time.Duration
	var each []string
	for _, w := range conns {
		select {
		case <-w.closed:
		case <-time.After(15 * time.Second):
			t.Fatalf("%s: revoked user's connection still open", w.url)
		}
		// The client may read EOF before the -ERR; the server says why.
		if got, want := closedReason(t, c.server(w.url), w.cid), server.Revocation.String(); got != want {
			t.Errorf("%s: connection closed for %q, want %q", w.url, got, want)
		}
		d := w.when().Sub(accepted)
		last = max(last, d)
		each = append(each, d.Round(time.Microsecond).String())
	}
	t.Logf("%s: revoked user's connections closed on every node %s after the write was accepted (per node: %s)",
		p.name, last, strings.Join(each, ", "))
	for _, url := range c.urls() {
		if nc, err := tryConnect(url, auth); err == nil {
			nc.Close()
			t.Errorf("%s: revoked user connected again", url)
		}
	}
}

// addAccount creates an account with one user "u" in the home and puts it
// into the store.
func addAccount(t testing.TB, h *authority.Home, name string, st store.Store) *authority.AccountInfo {
	t.Helper()
	acc, err := h.AddAccount(name, authority.AccountEdit{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.AddUser(name, "u", authority.UserEdit{}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Put(t.Context(), acc.Pub, acc.JWT); err != nil {
		t.Fatalf("put account %s: %v", name, err)
	}
	return acc
}

// enforcedOn polls check on every url until it holds on each, and
// returns how long after since it held on the last one.
func enforcedOn(t testing.TB, urls []string, since time.Time, what string, check func(url string) bool) time.Duration {
	t.Helper()
	pending := append([]string(nil), urls...)
	var last time.Duration
	deadline := time.Now().Add(15 * time.Second)
	for len(pending) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%s not enforced on %v within 15s", what, pending)
		}
		var still []string
		for _, url := range pending {
			if check(url) {
				last = max(last, time.Since(since))
			} else {
				still = append(still, url)
			}
		}
		pending = still
		if len(pending) > 0 {
			time.Sleep(2 * time.Millisecond)
		}
	}
	return last
}
