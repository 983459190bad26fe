package bench

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/natsauth/natsauth/internal/pgtest"
)

// BenchmarkFirstConnectSideBySide runs, at once in one process, a stock
// nats-server with a `full` resolver directory and natsauth nodes with a
// local copy over SQLite and over PostgreSQL (and, for reference, one over
// SQLite without a copy), all holding the same 100,000 accounts
// (NATSAUTH_BENCH_ACCOUNTS). For each of NATSAUTH_BENCH_SAMPLES random
// accounts it connects a new user once to every server, in an order that
// rotates, so that load from elsewhere on the machine falls on all sides
// alike. Reported per side: first-connect p50 and p99 in milliseconds.
// Run it with -benchtime=1x.
func BenchmarkFirstConnectSideBySide(b *testing.B) {
	set := scaleFixture(b)
	type side struct {
		name string
		url  string
		lat  []time.Duration
	}
	var sides []*side

	dir := b.TempDir()
	set.writeDir(b, dir)
	sides = append(sides, &side{name: "stock-full", url: set.startStock(b, dir)})
	for _, c := range []struct {
		name, url string
		local     bool
	}{
		{"natsauth-sqlite-local", "sqlite://" + filepath.Join(b.TempDir(), "accounts.db"), true},
		{"natsauth-postgres-local", pgtest.Start(b).NewDatabase(b), true},
		{"natsauth-sqlite", "sqlite://" + filepath.Join(b.TempDir(), "accounts.db"), false},
	} {
		set.load(b, c.url)
		var ldir string
		if c.local {
			ldir = b.TempDir()
		}
		n := set.startNode(b, c.url, ldir)
		b.Cleanup(func() { n.Close() })
		if c.local {
			waitSynced(b, n)
		}
		sides = append(sides, &side{name: c.name, url: n.ClientURL()})
	}
	rng := rand.New(rand.NewPCG(7, 8))
	idx := rng.Perm(len(set.accounts))[:min(scaleSample(), len(set.accounts))]
	b.ResetTimer()
	for k, i := range idx {
		a := set.accounts[i]
		for j := range sides {
			sd := sides[(k+j)%len(sides)]
			d, err := firstConnect(a.kp, sd.url)
			if err != nil {
				b.Fatalf("%s: first connect to account %d: %v", sd.name, i, err)
			}
			sd.lat = append(sd.lat, d)
		}
	}
	b.StopTimer()
	for _, sd := range sides {
		slices.Sort(sd.lat)
		b.ReportMetric(float64(sd.lat[len(sd.lat)/2].Microseconds())/1000, sd.name+"-p50-ms")
		b.ReportMetric(float64(sd.lat[len(sd.lat)*99/100].Microseconds())/1000, sd.name+"-p99-ms")
	}
}

// firstConnect connects a new user of the account signed by kp to url and
// returns how long the connect took.
func firstConnect(kp nkeys.KeyPair, url string) (time.Duration, error) {
	ukp, _ := nkeys.CreateUser()
	upub, _ := ukp.PublicKey()
	tok, err := jwt.NewUserClaims(upub).Encode(kp)
	if err != nil {
		return 0, err
	}
	seed, _ := ukp.Seed()
	start := time.Now()
	nc, err := nats.Connect(url, nats.UserJWTAndSeed(tok, string(seed)), nats.MaxReconnects(0))
	d := time.Since(start)
	if err != nil {
		return 0, err
	}
	nc.Close()
	return d, nil
}

// startStock starts stock nats-server with a full resolver on dir.
func (s *scaleSet) startStock(b *testing.B, dir string) string {
	conf := filepath.Join(b.TempDir(), "stock.conf")
	opJWT := filepath.Join(b.TempDir(), "op.jwt")
	if err := os.WriteFile(opJWT, []byte(s.op.JWT), 0o600); err != nil {
		b.Fatal(err)
	}
	c := fmt.Sprintf("host: 127.0.0.1\nport: -1\noperator: %q\nsystem_account: %s\nresolver: {type: full, dir: %q}\n",
		opJWT, s.op.System.Pub, dir)
	if err := os.WriteFile(conf, []byte(c), 0o600); err != nil {
		b.Fatal(err)
	}
	opts, err := server.ProcessConfigFile(conf)
	if err != nil {
		b.Fatal(err)
	}
	opts.NoLog, opts.NoSigs = true, true
	srv, err := server.NewServer(opts)
	if err != nil {
		b.Fatal(err)
	}
	srv.Start()
	if !srv.ReadyForConnections(time.Minute) {
		b.Fatal("stock server not ready")
	}
	b.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	return srv.ClientURL()
}
