package callout_test

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsauth/natsauth/callout"
)

// BenchmarkCalloutConnect measures connects per second and connect
// latency (nats.Connect until the server accepted the client) on one
// embedded nats-server in operator mode, side by side in one run:
//
//   - creds: a plain user JWT + nonce signature (no callout),
//   - password: a natsauth password user through the gateway, its check
//     cached after the first connect (a reconnect storm's case),
//   - password-argon2id: the same with the cache off, argon2id (OWASP
//     costs) on every connect,
//   - oidc: an OpenID Connect token through the gateway (signature checked
//     on every connect, keys cached).
//
// Four clients connect in parallel. Reported: connects/s, p50-ms, p99-ms.
// Run with: go test ./callout -run '^$' -bench BenchmarkCalloutConnect -benchtime 2000x
func BenchmarkCalloutConnect(b *testing.B) {
	e := newEnv(b, envOpts{defaultHashCost: true})
	if err := e.users.Add(context.Background(), "alice", "correct horse", []string{"staff"}); err != nil {
		b.Fatal(err)
	}
	registerOps(e.op)
	token := e.op.MustToken(b, "orders-svc", "s3cret-orders")
	start := func(cache time.Duration) *callout.Service {
		s, err := callout.New(callout.Config{Home: e.home, Account: "AUTH", RulesFile: e.rules, Users: e.users,
			Connect: e.serviceConnect(), SystemConnect: e.systemConnect(), Throttle: &callout.Throttle{Disabled: true},
			PasswordCache: cache, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Start(context.Background()); err != nil {
			b.Fatal(err)
		}
		return s
	}
	cases := []struct {
		name  string
		cache time.Duration // 0: no gateway
		opt   nats.Option
	}{
		{"creds", 0, nats.UserCredentials(e.home.CredsPath("APP", "watcher"))},
		{"password", 10 * time.Minute, nats.UserInfo("alice", "correct horse")},
		{"password-argon2id", -1, nats.UserInfo("alice", "correct horse")},
		{"oidc", 10 * time.Minute, nats.Token(token)},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			if c.cache != 0 {
				s := start(c.cache)
				defer s.Close()
			}
			url := e.node.ClientURL()
			// One connect outside the timing warms caches (keys, discovery).
			nc, err := nats.Connect(url, c.opt, nats.MaxReconnects(0))
			if err != nil {
				b.Fatalf("warm-up connect: %v", err)
			}
			nc.Close()
			var mu sync.Mutex
			lat := make([]time.Duration, 0, b.N)
			b.SetParallelism(2) // 2 × GOMAXPROCS clients
			b.ResetTimer()
			began := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				mine := make([]time.Duration, 0, 256)
				for pb.Next() {
					t0 := time.Now()
					nc, err := nats.Connect(url, c.opt, nats.MaxReconnects(0))
					d := time.Since(t0)
					if err != nil {
						b.Errorf("connect: %v", err)
						return
					}
					mine = append(mine, d)
					nc.Close()
				}
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			})
			elapsed := time.Since(began)
			b.StopTimer()
			if len(lat) == 0 {
				return
			}
			slices.Sort(lat)
			pct := func(p float64) float64 {
				return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
			}
			b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "connects/s")
			b.ReportMetric(pct(0.50), "p50-ms")
			b.ReportMetric(pct(0.99), "p99-ms")
		})
	}
}
