package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/natsauth/natsauth/internal/pgtest"
	"github.com/natsauth/natsauth/internal/testkit"
	"github.com/natsauth/natsauth/node"
	"github.com/natsauth/natsauth/store"
)

// scaleAccounts is how many accounts BenchmarkScale loads
// (NATSAUTH_BENCH_ACCOUNTS, default 100000).
func scaleAccounts() int {
	if n, err := strconv.Atoi(os.Getenv("NATSAUTH_BENCH_ACCOUNTS")); err == nil && n > 0 {
		return n
	}
	return 100_000
}

// scaleSample is how many never-seen accounts are connected to per side
// (NATSAUTH_BENCH_SAMPLES, default 1000).
func scaleSample() int {
	if n, err := strconv.Atoi(os.Getenv("NATSAUTH_BENCH_SAMPLES")); err == nil && n > 0 {
		return n
	}
	return 1000
}

type scaleAccount struct {
	pub string
	jwt string
	kp  nkeys.KeyPair
}

type scaleSet struct {
	op       *testkit.Operator
	accounts []scaleAccount
}

var (
	scaleOnce sync.Once
	scaleData *scaleSet
)

// scaleFixture signs n account JWTs once per process.
func scaleFixture(b *testing.B) *scaleSet {
	scaleOnce.Do(func() {
		n := scaleAccounts()
		op := testkit.NewOperator(b)
		set := &scaleSet{op: op, accounts: make([]scaleAccount, n)}
		var wg sync.WaitGroup
		workers := 4
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := w; i < n; i += workers {
					kp, _ := nkeys.CreateAccount()
					pub, _ := kp.PublicKey()
					ac := jwt.NewAccountClaims(pub)
					ac.Name = fmt.Sprintf("acc-%d", i)
					tok, err := ac.Encode(op.SigningKP)
					if err != nil {
						panic(err)
					}
					set.accounts[i] = scaleAccount{pub: pub, jwt: tok, kp: kp}
				}
			}(w)
		}
		wg.Wait()
		scaleData = set
	})
	return scaleData
}

// load puts every account into the store behind url, 16 writers at once.
func (s *scaleSet) load(b *testing.B, url string) {
	ctx := context.Background()
	st, err := store.Open(ctx, url, store.Options{Policy: s.op.Policy()})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	all := append([]scaleAccount{{pub: s.op.System.Pub, jwt: s.op.System.JWT}}, s.accounts...)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < len(all); i += 16 {
				if _, err := st.Put(ctx, all[i].pub, all[i].jwt); err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
}

// writeDir writes every account as <pub>.jwt, nats-server's full format.
func (s *scaleSet) writeDir(b *testing.B, dir string) {
	all := append([]scaleAccount{{pub: s.op.System.Pub, jwt: s.op.System.JWT}}, s.accounts...)
	for _, a := range all {
		if err := os.WriteFile(filepath.Join(dir, a.pub+".jwt"), []byte(a.jwt), 0o600); err != nil {
			b.Fatal(err)
		}
	}
}

// firstConnects connects once to each of scaleSample random accounts the
// server has not loaded yet and reports p50/p99 connect latency.
func (s *scaleSet) firstConnects(b *testing.B, url string) {
	rng := rand.New(rand.NewPCG(1, 2))
	idx := rng.Perm(len(s.accounts))[:min(scaleSample(), len(s.accounts))]
	lat := make([]time.Duration, 0, len(idx))
	for _, i := range idx {
		a := s.accounts[i]
		ukp, _ := nkeys.CreateUser()
		upub, _ := ukp.PublicKey()
		uc := jwt.NewUserClaims(upub)
		tok, err := uc.Encode(a.kp)
		if err != nil {
			b.Fatal(err)
		}
		seed, _ := ukp.Seed()
		start := time.Now()
		nc, err := nats.Connect(url, nats.UserJWTAndSeed(tok, string(seed)), nats.MaxReconnects(0))
		d := time.Since(start)
		if err != nil {
			b.Fatalf("first connect to account %d: %v", i, err)
		}
		nc.Close()
		lat = append(lat, d)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "connect-p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "connect-p99-ms")
}

// BenchmarkScale loads 100,000 accounts (NATSAUTH_BENCH_ACCOUNTS) into
// SQLite, PostgreSQL and a full-resolver directory, then measures how long
// a server takes to become ready and the latency of the first connect to
// random accounts. The -local variants give the node a local copy of the
// store (node.Config.LocalCopyDir): a first run fills it (logged), then
// the measured run starts with it (ready-ms), syncs it with the store in
// the background (sync-ms), and serves first connects from it; heap-mb and
// rss-mb are what the node added to the process. Run it with
// -benchtime=1x: each sub-benchmark is one measurement, reported as
// metrics.
func BenchmarkScale(b *testing.B) {
	set := scaleFixture(b)
	b.Logf("%d accounts", len(set.accounts))
	natsauth := func(b *testing.B, url string, local bool) {
		set.load(b, url)
		var dir string
		if local {
			dir = b.TempDir()
			start := time.Now()
			n := set.startNode(b, url, dir)
			waitSynced(b, n)
			b.Logf("filling an empty local copy with %d accounts took %s", len(set.accounts)+1, time.Since(start).Round(time.Millisecond))
			n.Close()
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			heap0, rss0 := memNow()
			start := time.Now()
			n := set.startNode(b, url, dir)
			ready := time.Since(start)
			b.ReportMetric(float64(ready.Microseconds())/1000, "ready-ms")
			if local {
				waitSynced(b, n)
				b.ReportMetric(float64(time.Since(start).Microseconds())/1000, "sync-ms")
				heap1, rss1 := memNow()
				b.ReportMetric(heap1-heap0, "heap-mb")
				b.ReportMetric(rss1-rss0, "rss-mb")
			}
			set.firstConnects(b, n.ClientURL())
			n.Close()
		}
	}
	for _, local := range []bool{false, true} {
		suffix := map[bool]string{false: "", true: "-local"}[local]
		b.Run("natsauth-sqlite"+suffix, func(b *testing.B) {
			natsauth(b, "sqlite://"+filepath.Join(b.TempDir(), "accounts.db"), local)
		})
		b.Run("natsauth-postgres"+suffix, func(b *testing.B) {
			natsauth(b, pgtest.Start(b).NewDatabase(b), local)
		})
	}
	b.Run("stock-full-dir", func(b *testing.B) {
		dir := b.TempDir()
		set.writeDir(b, dir)
		conf := filepath.Join(b.TempDir(), "stock.conf")
		opJWT := filepath.Join(b.TempDir(), "op.jwt")
		if err := os.WriteFile(opJWT, []byte(set.op.JWT), 0o600); err != nil {
			b.Fatal(err)
		}
		c := fmt.Sprintf("host: 127.0.0.1\nport: -1\noperator: %q\nsystem_account: %s\nresolver: {type: full, dir: %q}\n",
			opJWT, set.op.System.Pub, dir)
		if err := os.WriteFile(conf, []byte(c), 0o600); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			heap0, rss0 := memNow()
			start := time.Now()
			opts, err := server.ProcessConfigFile(conf)
			if err != nil {
				b.Fatal(err)
			}
			opts.NoLog, opts.NoSigs = true, true
			s, err := server.NewServer(opts)
			if err != nil {
				b.Fatal(err)
			}
			s.Start()
			if !s.ReadyForConnections(time.Minute) {
				b.Fatal("stock server not ready")
			}
			b.ReportMetric(float64(time.Since(start).Microseconds())/1000, "ready-ms")
			heap1, rss1 := memNow()
			b.ReportMetric(heap1-heap0, "heap-mb")
			b.ReportMetric(rss1-rss0, "rss-mb")
			set.firstConnects(b, s.ClientURL())
			s.Shutdown()
			s.WaitForShutdown()
		}
	})
}

// startNode starts a node over url, with a local copy in dir unless dir
// is empty.
func (s *scaleSet) startNode(b *testing.B, url, dir string) *node.Node {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n, err := node.New(ctx, node.Config{
		Flags:       node.ServerFlags{Host: "127.0.0.1", Port: -1},
		OperatorJWT: s.op.JWT, SystemAccountName: "SYS", SystemSigner: s.op.System.KP,
		StoreURL: url, LocalCopyDir: dir,
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := n.Start(ctx); err != nil {
		b.Fatal(err)
	}
	return n
}

// waitSynced waits until the node's local copy is in sync with its store.
func waitSynced(b *testing.B, n *node.Node) {
	deadline := time.Now().Add(10 * time.Minute)
	for !n.Resolver().LocalSynced() {
		if time.Now().After(deadline) {
			b.Fatal("local copy not synced after 10 minutes")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// memNow returns the Go heap in use and the process's resident set, in
// MiB, after a garbage collection.
func memNow() (heap, rss float64) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	heap = float64(ms.HeapInuse) / (1 << 20)
	if raw, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(raw), "\n") {
			if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
				rss = float64(kb) / 1024
			}
		}
	}
	return heap, rss
}
