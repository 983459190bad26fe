package node

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsauth/natsauth/internal/pgtest"
	"github.com/natsauth/natsauth/internal/testkit"
	"github.com/natsauth/natsauth/store"
	_ "github.com/natsauth/natsauth/store/backends"
)

// outageLength is how long PostgreSQL stays down in TestStoreOutageNoConnectFails.
const outageLength = 10 * time.Second

// Issue 11, item 1: serve on PostgreSQL with accounts A..J; PostgreSQL
// stops for 10 s while clients connect to random accounts every 100 ms.
// No connect fails — not for accounts nobody used before the outage, and
// not on a node (re)started while PostgreSQL is down: each node keeps a
// local copy of every account of the store.
func TestStoreOutageNoConnectFails(t *testing.T) {
	pg := pgtest.StartPrivate(t)
	url := pg.NewDatabase(t)
	f := newFixture(t)
	seed := map[string]string{f.op.System.Pub: f.op.System.JWT}
	type account struct {
		name string
		user *testkit.User
	}
	var accounts []account
	for i := range 10 {
		name := string(rune('A' + i))
		a := f.op.NewAccount(t, name, nil)
		seed[a.Pub] = a.JWT
		accounts = append(accounts, account{name, a.NewUser(t, "u", nil)})
	}
	config := func() Config {
		cfg := f.config(t)
		cfg.StoreURL, cfg.Seed = url, seed
		cfg.LocalCopyDir = t.TempDir()
		return cfg
	}
	running := startNode(t, config())
	// The second node runs once before the outage (its copy is filled),
	// is stopped, and is started again while PostgreSQL is down.
	restartedCfg := config()
	first := startNode(t, restartedCfg)
	waitLocalSynced(t, first)
	waitLocalSynced(t, running)
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}

	pg.Stop(t)
	down := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	restarted, err := New(ctx, restartedCfg)
	if err != nil {
		cancel()
		t.Fatalf("node started during the outage: New: %v", err)
	}
	t.Cleanup(func() { restarted.Close() })
	err = restarted.Start(ctx)
	cancel()
	if err != nil {
		t.Fatalf("node started during the outage: Start: %v", err)
	}
	t.Logf("node started %s into the outage", time.Since(down).Round(time.Millisecond))

	nodes := map[string]*Node{"running node": running, "node started during the outage": restarted}
	rng := rand.New(rand.NewPCG(11, 1))
	attempts, failures := 0, 0
	for time.Since(down) < outageLength {
		a := accounts[rng.IntN(len(accounts))]
		for what, n := range nodes {
			attempts++
			if err := tryConnect(n.ClientURL(), a.user); err != nil {
				failures++
				t.Errorf("%s, %s into the outage: connect to account %s failed: %v",
					what, time.Since(down).Round(time.Millisecond), a.name, err)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	pg.Restart(t)
	t.Logf("%d of %d connects failed during the %s outage", failures, attempts, outageLength)
	if attempts < 100 {
		t.Errorf("only %d connects during the outage", attempts)
	}

	// Once PostgreSQL is back, the node started during the outage opens the
	// store and follows it: an account added now connects on it.
	st, err := store.Open(context.Background(), url, store.Options{Policy: f.op.Policy()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	k := f.op.NewAccount(t, "K", nil)
	if _, err := st.Put(context.Background(), k.Pub, k.JWT); err != nil {
		t.Fatal(err)
	}
	ku := k.NewUser(t, "u", nil)
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := tryConnect(restarted.ClientURL(), ku)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("account added after the outage, on the node started during it: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	waitLocalSynced(t, restarted)
}

func tryConnect(url string, u *testkit.User) error {
	seed, err := u.KP.Seed()
	if err != nil {
		return err
	}
	nc, err := nats.Connect(url, nats.UserJWTAndSeed(u.JWT, string(seed)), nats.MaxReconnects(0), nats.Timeout(3*time.Second))
	if err != nil {
		return err
	}
	nc.Close()
	return nil
}

func waitLocalSynced(t *testing.T, n *Node) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !n.Resolver().LocalSynced() {
		if time.Now().After(deadline) {
			t.Fatal(fmt.Sprintf("local copy of %s not synced after 30s", n.ClientURL()))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
