package console_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/natsauth/natsauth/store/backends"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/console"
	"github.com/natsauth/natsauth/console/access"
	"github.com/natsauth/natsauth/internal/password"
	"github.com/natsauth/natsauth/internal/pgtest"
	"github.com/natsauth/natsauth/manage"
	"github.com/natsauth/natsauth/node"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// benchAccounts is how many accounts the list benchmarks load
// (NATSAUTH_BENCH_ACCOUNTS, default 10000).
func benchAccounts() int {
	if n, err := strconv.Atoi(os.Getenv("NATSAUTH_BENCH_ACCOUNTS")); err == nil && n > 0 {
		return n
	}
	return 10_000
}

// writeAccounts adds n accounts to the home's files directly, in nsc's
// layout and signed by the operator's signing key — what nsc writing into
// the home does — because adding 10,000 through the core (each one
// published and fsynced) would make the fixture, not the list, the
// benchmark.
func writeAccounts(b testing.TB, h *authority.Home, n int) {
	b.Helper()
	signer, err := h.OperatorSigner()
	if err != nil {
		b.Fatal(err)
	}
	dir := filepath.Join(h.StoresDir(), h.OperatorName(), "accounts")
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += 4 {
				kp, _ := nkeys.CreateAccount()
				pub, _ := kp.PublicKey()
				ac := jwt.NewAccountClaims(pub)
				ac.Name = fmt.Sprintf("acct-%05d", i)
				ac.Limits.Conn = int64(i % 1000)
				if i%7 == 0 {
					ac.Tags = jwt.TagList{"team:payments"}
				}
				tok, err := ac.Encode(signer)
				if err == nil {
					d := filepath.Join(dir, ac.Name)
					if err = os.MkdirAll(d, 0o700); err == nil {
						err = os.WriteFile(filepath.Join(d, ac.Name+".jwt"), []byte(tok), 0o600)
					}
				}
				if err != nil {
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

// listEnv is a console over a home of benchAccounts() accounts, signed in
// as an operator observer, without servers.
type listEnv struct {
	srv       *console.Server
	cookie    *http.Cookie
	firstScan time.Duration
}

func newListEnv(b *testing.B) *listEnv {
	b.Helper()
	ctx := context.Background()
	cfg := manage.Config{Home: filepath.Join(b.TempDir(), "home"), ApplyTimeout: -1}
	m, _, err := manage.Init(ctx, cfg, "Op")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { m.Close() })
	writeAccounts(b, m.Home(), benchAccounts())
	acc, _ := access.OpenMemory(access.Options{Password: password.Fast})
	if _, err := acc.AddUser(ctx, "watcher", access.OperatorObserver, "", "watcher password 1"); err != nil {
		b.Fatal(err)
	}
	srv, err := console.New(console.Config{Manager: m, Access: acc, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	id, _, err := acc.NewSession(ctx, "watcher")
	if err != nil {
		b.Fatal(err)
	}
	e := &listEnv{srv: srv, cookie: &http.Cookie{Name: "natsauth_session", Value: id}}
	e.firstScan = e.get(b, "/api/accounts") // the first query scans the home
	return e
}

// get serves one request in process and returns how long the server took.
func (e *listEnv) get(b testing.TB, path string) time.Duration {
	req := httptest.NewRequest("GET", path, nil)
	req.AddCookie(e.cookie)
	rec := httptest.NewRecorder()
	start := time.Now()
	e.srv.ServeHTTP(rec, req)
	took := time.Since(start)
	if rec.Code != 200 {
		b.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body.String())
	}
	return took
}

// reportPercentiles reports p50 and p99 of the samples in milliseconds.
func reportPercentiles(b *testing.B, samples []time.Duration, prefix string) {
	if len(samples) == 0 {
		return
	}
	slices.Sort(samples)
	pct := func(p float64) float64 {
		return float64(samples[min(len(samples)-1, int(p*float64(len(samples))))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), prefix+"p50-ms")
	b.ReportMetric(pct(0.99), prefix+"p99-ms")
}

// accountListPaths are the list requests a person makes: pages anywhere
// in the list, and searches by name, key prefix and tag.
func accountListPaths(n int) []string {
	var out []string
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 64; i++ {
		out = append(out, fmt.Sprintf("/api/accounts?offset=%d&limit=50", r.IntN(n)))
	}
	for _, q := range []string{"acct-0", "acct-09", "acct-04321", "team:payments", "nothing-matches", "A"} {
		out = append(out, "/api/accounts?q="+q+"&limit=50")
		out = append(out, "/api/accounts?q="+q+"&offset=100&limit=50")
	}
	return out
}

// BenchmarkAccountListAPI: GET /api/accounts with 10,000 accounts, server
// time per request (handler in process: auth, index, JSON).
func BenchmarkAccountListAPI(b *testing.B) {
	e := newListEnv(b)
	paths := accountListPaths(benchAccounts())
	samples := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		samples = append(samples, e.get(b, paths[i%len(paths)]))
	}
	b.StopTimer()
	reportPercentiles(b, samples, "")
	b.ReportMetric(float64(e.firstScan.Milliseconds()), "first-scan-ms")
}

// BenchmarkAccountListPage: everything the server does to show the
// accounts page with 10,000 accounts — the HTML, script and style, the
// session, and the first page of accounts — as one sample.
func BenchmarkAccountListPage(b *testing.B) {
	e := newListEnv(b)
	pages := []string{"/", "/static/app.js", "/static/app.css", "/api/session"}
	paths := accountListPaths(benchAccounts())
	samples := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var took time.Duration
		for _, p := range pages {
			took += e.get(b, p)
		}
		took += e.get(b, paths[i%len(paths)])
		samples = append(samples, took)
	}
	b.StopTimer()
	reportPercentiles(b, samples, "")
	b.ReportMetric(float64(e.firstScan.Milliseconds()), "first-scan-ms")
}

// freePorts returns n free loopback ports.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var out []int
	var lns []net.Listener
	for i := 0; i < n; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		out = append(out, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		ln.Close()
	}
	return out
}

// BenchmarkChangeToEnforced: a revocation through the API on a 3-node
// cluster of natsauth serve nodes sharing one PostgreSQL store, timed
// from sending the request until the user's connection on the last of the
// three nodes is closed (enforced), and the API's own answer time (the
// core answers once every node acknowledged). Run with -benchtime=200x.
func BenchmarkChangeToEnforced(b *testing.B) {
	ctx := context.Background()
	pgURL := pgtest.Start(b).NewDatabase(b)
	cfg := manage.Config{Home: filepath.Join(b.TempDir(), "home"), Store: pgURL, ApplyTimeout: 5 * time.Second}
	m, _, err := manage.Init(ctx, cfg, "Op")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { m.Close() })
	if _, _, err := m.AddAccount(ctx, "A", authority.AccountEdit{}); err != nil {
		b.Fatal(err)
	}
	ports := freePorts(b, 3)
	var routes []string
	for _, p := range ports {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", p))
	}
	var nodes []*node.Node
	for i := 0; i < 3; i++ {
		h, err := authority.Open(cfg.Home)
		if err != nil {
			b.Fatal(err)
		}
		ncfg, err := node.FromHome(h)
		if err != nil {
			b.Fatal(err)
		}
		ncfg.StoreURL = pgURL
		ncfg.Flags = node.ServerFlags{Host: "127.0.0.1", Port: -1, Name: fmt.Sprintf("n%d", i+1),
			Cluster: routes[i], ClusterName: "bench", Routes: strings.Join(routes, ",")}
		ncfg.Logger = slog.New(slog.DiscardHandler)
		n, err := node.New(ctx, ncfg)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { n.Close() })
		if err := n.Start(ctx); err != nil {
			b.Fatal(err)
		}
		nodes = append(nodes, n)
	}
	acc, _ := access.OpenMemory(access.Options{Password: password.Fast})
	acc.AddUser(ctx, "admin", access.OperatorAdmin, "", "admin password 1")
	srv, err := console.New(console.Config{Manager: m, Access: acc, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	b.Cleanup(hs.Close)
	tok, _, _ := acc.NewToken(ctx, "admin", "bench", 0)
	var enforced, answered []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		name := fmt.Sprintf("u%d", i)
		if _, err := m.AddUser(ctx, "A", name, authority.UserEdit{AllowPubSub: []string{">"}}, authority.UserIssue{}); err != nil {
			b.Fatal(err)
		}
		var wg sync.WaitGroup
		closedAt := make([]time.Time, len(nodes))
		for j, n := range nodes {
			nc, err := nats.Connect(n.ClientURL(), nats.UserCredentials(m.Home().CredsPath("A", name)), nats.NoReconnect(),
				nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}))
			if err != nil {
				b.Fatal(err)
			}
			wg.Add(1)
			nc.SetClosedHandler(func(*nats.Conn) { closedAt[j] = time.Now(); wg.Done() })
		}
		req, _ := http.NewRequest("POST", hs.URL+"/api/accounts/A/users/"+name+"/revoke", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		b.StartTimer()
		start := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		answered = append(answered, time.Since(start))
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("revoke: %d", resp.StatusCode)
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			b.Fatal("the revocation was not enforced on every node within 10s")
		}
		last := closedAt[0]
		for _, t := range closedAt {
			if t.After(last) {
				last = t
			}
		}
		enforced = append(enforced, last.Sub(start))
	}
	b.StopTimer()
	reportPercentiles(b, enforced, "enforced-")
	reportPercentiles(b, answered, "api-")
}
