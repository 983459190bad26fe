package cluster

import (
	"context"
	"fmt"
	"math"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"

	"github.com/natsauth/natsauth/internal/pgtest"
	"github.com/natsauth/natsauth/internal/testkit"
	"github.com/natsauth/natsauth/store"
)

// BenchmarkRevocationPropagation measures, in one run, how long after a
// revocation is accepted the revoked user's connection is closed on the
// last of three nodes, three ways:
//
//   - natsauth-store: three natsauth nodes sharing one PostgreSQL store;
//     the revocation is written to the store (what the CLI does) and
//     reaches the nodes through the store's watch (LISTEN/NOTIFY);
//   - natsauth-push: the same nodes; the revocation is pushed with
//     $SYS.REQ.CLAIMS.UPDATE to one node (in turn) and is accepted when
//     the first node answers;
//   - stock-push: three stock nats-servers with `full` resolvers in one
//     cluster, pushed the same way (what `nsc push` does).
//
// Each iteration runs all three, in an order that rotates, so that load
// from elsewhere on the machine falls on all of them alike. One
// measurement connects a new user to the three nodes, revokes it and
// waits until the three connections are closed. Reported per way, in
// milliseconds: p50 and p99 from "write accepted" to "closed on the last
// node"; the p50 of the write itself (until accepted); and p50 and p99
// end to end (from the start of the write to closed on the last node).
// ns/op is the time of the three writes and propagations together. Run it with
// -benchtime=200x (see docs/BENCHMARKS-propagation.md).
func BenchmarkRevocationPropagation(b *testing.B) {
	op := testkit.NewOperator(b)
	base := time.Now().Unix() - 1_000_000 // every revision gets a greater iat
	// One account per way: each account's JWT grows by one revocation per
	// iteration, and a larger JWT takes longer to decode and apply.
	nAcc := op.NewAccount(b, "NATSAUTH", nil)
	nAcc.Reissue(b, base, nil)
	pAcc := op.NewAccount(b, "NATSAUTH-PUSH", nil)
	pAcc.Reissue(b, base, nil)
	sAcc := op.NewAccount(b, "STOCK", nil)
	sAcc.Reissue(b, base, nil)
	sys := op.System.NewUser(b, "sys", nil)
	sysAuth := nats.UserJWTAndSeed(sys.JWT, userSeed(b, sys))

	pgURL := pgtest.Start(b).NewDatabase(b)
	st, err := store.Open(context.Background(), pgURL, store.Options{Policy: op.Policy()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	for _, a := range []*testkit.Account{nAcc, pAcc} {
		if _, err := st.Put(context.Background(), a.Pub, a.JWT); err != nil {
			b.Fatal(err)
		}
	}
	cfgs := clusterConfigs(b, kitRoot(op), pgURL, 3, false)
	if os.Getenv("NATSAUTH_BENCH_LOCAL_COPY") != "" {
		// As natsauth serve from a home runs: each node keeps a local copy.
		for i := range cfgs {
			cfgs[i].LocalCopyDir = b.TempDir()
		}
	}
	na := startCluster(b, cfgs).urls()
	var stock []string
	for _, s := range startStock(b, op, []*testkit.Account{sAcc}, 3) {
		stock = append(stock, s.ClientURL())
	}
	iat := base
	ways := []*way{
		{name: "natsauth-store", urls: na, acc: nAcc, iat: &iat, path: storePath(st)},
		{name: "natsauth-push", urls: na, acc: pAcc, iat: &iat, path: benchPush(b, na, sysAuth)},
		{name: "stock-push", urls: stock, acc: sAcc, iat: &iat, path: benchPush(b, stock, sysAuth)},
	}
	b.ResetTimer()
	b.StopTimer()
	for i := range b.N {
		for k := range ways {
			ways[(i+k)%len(ways)].revoke(b, i)
		}
	}
	for _, w := range ways {
		w.report(b)
	}
}

// way is one way of propagating a revocation, with its measurements.
type way struct {
	name   string
	urls   []string
	acc    *testkit.Account
	iat    *int64
	path   writePath
	lat    []time.Duration // accepted → closed on the last node
	writes []time.Duration // write → accepted
	e2e    []time.Duration // write → closed on the last node
}

// revoke connects a new user to every node, revokes it through the way's
// path and waits until every connection is closed. Only the write and
// the wait are timed.
func (w *way) revoke(b *testing.B, i int) {
	u := w.acc.NewUser(b, fmt.Sprintf("u%d", i), nil)
	auth := nats.UserJWTAndSeed(u.JWT, userSeed(b, u))
	conns := make([]*watched, len(w.urls))
	for k, url := range w.urls {
		conns[k] = watch(b, url, auth)
	}
	*w.iat++
	token := w.acc.Reissue(b, *w.iat, func(ac *jwt.AccountClaims) { ac.Revoke(u.Pub) })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b.StartTimer()
	start := time.Now()
	err := w.path.write(ctx, w.acc.Pub, token)
	accepted := time.Now()
	if err != nil {
		b.Fatalf("%s: write: %v", w.name, err)
	}
	var last time.Duration
	for _, c := range conns {
		select {
		case <-c.closed:
		case <-time.After(10 * time.Second):
			b.Fatalf("%s: %s: revoked user still connected after 10s", w.name, c.url)
		}
		last = max(last, c.when().Sub(accepted))
	}
	b.StopTimer()
	w.lat = append(w.lat, last)
	w.writes = append(w.writes, accepted.Sub(start))
	w.e2e = append(w.e2e, accepted.Sub(start)+last)
	for _, c := range conns {
		c.nc.Close()
	}
}

// report adds the way's percentiles to the benchmark's metrics.
func (w *way) report(b *testing.B) {
	slices.Sort(w.lat)
	slices.Sort(w.writes)
	slices.Sort(w.e2e)
	b.ReportMetric(ms(percentile(w.lat, 0.50)), w.name+"-p50-ms")
	b.ReportMetric(ms(percentile(w.lat, 0.99)), w.name+"-p99-ms")
	b.ReportMetric(ms(percentile(w.writes, 0.50)), w.name+"-write-p50-ms")
	b.ReportMetric(ms(percentile(w.e2e, 0.50)), w.name+"-e2e-p50-ms")
	b.ReportMetric(ms(percentile(w.e2e, 0.99)), w.name+"-e2e-p99-ms")
}

// benchPush pushes $SYS.REQ.CLAIMS.UPDATE to the servers in turn, over
// connections made once.
func benchPush(b *testing.B, urls []string, auth nats.Option) writePath {
	conns := make([]*nats.Conn, len(urls))
	for i, url := range urls {
		nc, err := nats.Connect(url, auth)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(nc.Close)
		conns[i] = nc
	}
	next := 0
	return writePath{name: "push", write: func(ctx context.Context, _, token string) error {
		nc := conns[next%len(conns)]
		next++
		return pushClaims(ctx, nc, token)
	}}
}

// percentile returns the q-quantile of sorted durations (nearest rank).
func percentile(sorted []time.Duration, q float64) time.Duration {
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(i, 0)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func userSeed(t testing.TB, u *testkit.User) string {
	t.Helper()
	seed, err := u.KP.Seed()
	if err != nil {
		t.Fatal(err)
	}
	return string(seed)
}
