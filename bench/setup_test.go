package bench

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/natsauth/natsauth/internal/pgtest"
	"github.com/natsauth/natsauth/internal/testkit"
	"github.com/natsauth/natsauth/node"
	_ "github.com/natsauth/natsauth/store/backends"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// fixture is one operator with an account and a user, shared by both sides.
type fixture struct {
	op   *testkit.Operator
	acc  *testkit.Account
	user *testkit.User
	seed string
}

func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	op := testkit.NewOperator(tb)
	acc := op.NewAccount(tb, "BENCH", func(ac *jwt.AccountClaims) {
		ac.Limits.JetStreamLimits.DiskStorage = -1
		ac.Limits.JetStreamLimits.MemoryStorage = -1
	})
	u := acc.NewUser(tb, "bench", nil)
	seed, err := u.KP.Seed()
	if err != nil {
		tb.Fatal(err)
	}
	return &fixture{op: op, acc: acc, user: u, seed: string(seed)}
}

func (f *fixture) connect(tb testing.TB, url string) *nats.Conn {
	tb.Helper()
	nc, err := nats.Connect(url, nats.UserJWTAndSeed(f.user.JWT, f.seed), nats.MaxReconnects(0))
	if err != nil {
		tb.Fatalf("connect: %v", err)
	}
	tb.Cleanup(nc.Close)
	return nc
}

// startStock runs stock nats-server in operator mode with its built-in
// memory resolver preloaded with the fixture's accounts.
func startStock(tb testing.TB, f *fixture) string {
	tb.Helper()
	res := &server.MemAccResolver{}
	for _, a := range []*testkit.Account{f.op.System, f.acc} {
		if err := res.Store(a.Pub, a.JWT); err != nil {
			tb.Fatal(err)
		}
	}
	opts := &server.Options{
		Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true,
		TrustedOperators: []*jwt.OperatorClaims{f.op.Claims},
		SystemAccount:    f.op.System.Pub,
		AccountResolver:  res,
	}
	s, err := server.NewServer(opts)
	if err != nil {
		tb.Fatal(err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		tb.Fatal("stock server not ready")
	}
	tb.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s.ClientURL()
}

// startNatsauth runs a natsauth node over storeURL ("" = SQLite in a temp
// dir, the embedded default) seeded with the fixture's accounts.
func startNatsauth(tb testing.TB, f *fixture, storeURL string, tweak ...func(*server.Options)) *node.Node {
	tb.Helper()
	if storeURL == "" {
		storeURL = "sqlite://" + filepath.Join(tb.TempDir(), "accounts.db")
	}
	cfg := node.Config{
		Flags:             node.ServerFlags{Host: "127.0.0.1", Port: -1},
		OperatorJWT:       f.op.JWT,
		SystemAccountName: "SYS",
		SystemSigner:      f.op.System.KP,
		StoreURL:          storeURL,
		Seed:              map[string]string{f.op.System.Pub: f.op.System.JWT, f.acc.Pub: f.acc.JWT},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := node.New(ctx, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	for _, t := range tweak {
		t(n.Options())
	}
	if err := n.Start(ctx); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { n.Close() })
	return n
}

// sides runs fn against stock nats-server and against natsauth, as
// sub-benchmarks of one benchmark. Go repeats each sub-benchmark -count
// times in a row, so scripts/bench runs the binary once per repetition and
// flips the order with NATSAUTH_BENCH_NATSAUTH_FIRST=1 every other time:
// drift on a shared machine then falls on both sides alike.
func sides(b *testing.B, fn func(b *testing.B, url string, f *fixture)) {
	stock := func(b *testing.B) {
		f := newFixture(b)
		fn(b, startStock(b, f), f)
	}
	natsauth := func(b *testing.B) {
		f := newFixture(b)
		fn(b, startNatsauth(b, f, "").ClientURL(), f)
	}
	if os.Getenv("NATSAUTH_BENCH_NATSAUTH_FIRST") == "1" {
		b.Run("natsauth", natsauth)
		b.Run("stock", stock)
		return
	}
	b.Run("stock", stock)
	b.Run("natsauth", natsauth)
}
