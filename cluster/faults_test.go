package cluster

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/internal/pgtest"
	"github.com/natsauth/natsauth/store"
)

// outage is how long PostgreSQL stays down in TestPostgresOutage.
const outage = 10 * time.Second

// PostgreSQL stops for 10 seconds while the cluster serves: every connect
// of a known account to every node still succeeds, every write path fails
// with a clear error, and once PostgreSQL is back a revocation written to
// the store closes the user's connections on every node, without a
// restart of anything.
func TestPostgresOutage(t *testing.T) {
	pg := pgtest.StartPrivate(t)
	pgURL := pg.NewDatabase(t)
	h := newHome(t)
	c := startCluster(t, clusterConfigs(t, homeRoot(t, h), pgURL, 3, true))
	setup := openStore(t, h, pgURL)
	acc := addAccount(t, h, "known", setup)
	if _, err := h.AddUser("known", "victim", authority.UserEdit{}); err != nil {
		t.Fatal(err)
	}
	auth, victimAuth := creds(h, "known", "u"), creds(h, "known", "victim")
	var victims []*watched
	for _, url := range c.urls() {
		victims = append(victims, watch(t, url, victimAuth))
	}
	storeW := storePath(openStore(t, h, pgURL))
	pushW := pushPath(t, h, roundRobin(c))
	postW := postPath(t, h, openStore(t, h, pgURL))

	pg.Stop(t)
	down := time.Now()
	edited, err := h.EditAccount("known", authority.AccountEdit{Payload: authority.Int64(8192)})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []writePath{storeW, pushW, postW} {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		start := time.Now()
		err := p.write(ctx, acc.Pub, edited.JWT)
		cancel()
		switch {
		case err == nil:
			t.Errorf("%s write succeeded while PostgreSQL was down", p.name)
		case p.name == "store" && !errors.Is(err, store.ErrUnavailable):
			t.Errorf("store write while PostgreSQL was down: %v, want %v", err, store.ErrUnavailable)
		case !strings.Contains(err.Error(), "unavailable") && !strings.Contains(err.Error(), "unreachable"):
			t.Errorf("%s write while PostgreSQL was down: %v, want an error saying the store is unavailable", p.name, err)
		}
		t.Logf("%s write during the outage refused after %s: %v", p.name, time.Since(start).Round(time.Millisecond), err)
	}
	var attempts int
	for time.Since(down) < outage {
		for _, url := range c.urls() {
			attempts++
			nc, err := tryConnect(url, auth)
			if err != nil {
				t.Errorf("%s, %s into the outage: connect of a known account failed: %v",
					url, time.Since(down).Round(time.Millisecond), err)
				continue
			}
			nc.Close()
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("%d connects to %d nodes during the %s outage", attempts, len(c.nodes), outage)
	pg.Restart(t)
	up := time.Now()

	// A change after the outage reaches every node through the store's
	// watch, re-established by each node on its own.
	revoked, err := h.RevokeUser("known", "victim", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var accepted time.Time
	await(t, 30*time.Second, "store write after PostgreSQL restarted", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := storeW.write(ctx, acc.Pub, revoked.JWT)
		accepted = time.Now()
		return err == nil
	})
	t.Logf("store writable again %s after PostgreSQL restarted", accepted.Sub(up).Round(time.Millisecond))
	var last time.Duration
	for _, w := range victims {
		select {
		case <-w.closed:
		case <-time.After(30 * time.Second):
			t.Fatalf("%s: revoked user still connected 30s after the write", w.url)
		}
		last = max(last, w.when().Sub(accepted))
	}
	t.Logf("revocation after the outage enforced on every node %s after the write was accepted", last)
}

// A node that is shut down and started again rejoins the cluster with
// every change made while it was down: a revocation, a lower limit and a
// new account pushed to another node. The restarted node seeds the home's
// older account JWTs as `serve` does; newer-only keeps the store's.
func TestNodeRestartCatchesUp(t *testing.T) {
	h := newHome(t)
	pgURL := pgtest.Start(t).NewDatabase(t)
	c := startCluster(t, clusterConfigs(t, homeRoot(t, h), pgURL, 3, true))
	st := openStore(t, h, pgURL)
	acc := addAccount(t, h, "A", st)
	if _, err := h.AddUser("A", "victim", authority.UserEdit{}); err != nil {
		t.Fatal(err)
	}
	victimAuth := creds(h, "A", "victim")
	urls := c.urls()
	var victims []*watched
	for _, url := range urls[:2] {
		victims = append(victims, watch(t, url, victimAuth))
	}
	if nc, err := tryConnect(urls[2], victimAuth); err != nil {
		t.Fatalf("node 3 before the restart: %v", err)
	} else {
		nc.Close()
	}

	c.stop(t, 2)
	const limit = 2048
	if _, err := h.EditAccount("A", authority.AccountEdit{Payload: authority.Int64(limit)}); err != nil {
		t.Fatal(err)
	}
	revoked, err := h.RevokeUser("A", "victim", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	mustWrite(t, storePath(st), acc.Pub, revoked.JWT)
	b, err := h.AddAccount("B", authority.AccountEdit{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.AddUser("B", "u", authority.UserEdit{}); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, pushPath(t, h, func() string { return urls[0] }), b.Pub, b.JWT)
	for _, w := range victims {
		select {
		case <-w.closed:
		case <-time.After(15 * time.Second):
			t.Fatalf("%s: revoked user still connected", w.url)
		}
	}

	restarted := time.Now()
	c.start(t, 2)
	c.waitRoutes(t)
	t.Logf("node 3 restarted and routed to both others in %s", time.Since(restarted).Round(time.Millisecond))
	url3 := c.nodes[2].ClientURL()
	if nc, err := tryConnect(url3, victimAuth); err == nil {
		nc.Close()
		t.Error("node 3 accepted a user revoked while it was down")
	}
	nc, err := tryConnect(url3, creds(h, "A", "u"))
	if err != nil {
		t.Fatalf("node 3: connect of A's user: %v", err)
	}
	if got := nc.MaxPayload(); got != limit {
		t.Errorf("node 3: max payload = %d, want %d (lowered while it was down)", got, limit)
	}
	nc.Close()
	if nc, err := tryConnect(url3, creds(h, "B", "u")); err != nil {
		t.Errorf("node 3: connect of the account pushed while it was down: %v", err)
	} else {
		nc.Close()
	}

	// And it follows live changes again.
	u := watch(t, url3, creds(h, "A", "u"))
	again, err := h.RevokeUser("A", "u", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	mustWrite(t, storePath(st), acc.Pub, again.JWT)
	select {
	case <-u.closed:
	case <-time.After(15 * time.Second):
		t.Fatal("node 3: user revoked after the restart still connected")
	}
}
