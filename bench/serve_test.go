package bench

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// BenchmarkPubSub measures publish→subscribe throughput: one publisher and
// one subscriber connection of the same authenticated account.
func BenchmarkPubSub(b *testing.B) {
	for _, size := range []struct {
		name string
		n    int
	}{{"16B", 16}, {"1KiB", 1024}} {
		b.Run(size.name, func(b *testing.B) {
			sides(b, func(b *testing.B, url string, f *fixture) {
				pubSub(b, url, f, size.n)
			})
		})
	}
}

func pubSub(b *testing.B, url string, f *fixture, size int) {
	sub := f.connect(b, url)
	pub := f.connect(b, url)
	var got atomic.Int64
	done := make(chan struct{})
	want := int64(b.N)
	s, err := sub.Subscribe("bench.data", func(*nats.Msg) {
		if got.Add(1) == want {
			close(done)
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.SetPendingLimits(-1, -1); err != nil {
		b.Fatal(err)
	}
	if err := sub.Flush(); err != nil {
		b.Fatal(err)
	}
	payload := make([]byte, size)
	b.SetBytes(int64(size))
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if err := pub.Publish("bench.data", payload); err != nil {
			b.Fatal(err)
		}
	}
	if err := pub.Flush(); err != nil {
		b.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		b.Fatalf("received %d of %d messages", got.Load(), want)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}

// BenchmarkConnect measures authenticated connects: creds, server nonce
// signed, connection confirmed with a PING round trip, then closed.
func BenchmarkConnect(b *testing.B) {
	sides(b, func(b *testing.B, url string, f *fixture) {
		f.connect(b, url).Close() // the account is loaded before timing
		b.ResetTimer()
		start := time.Now()
		for i := 0; i < b.N; i++ {
			nc, err := nats.Connect(url, nats.UserJWTAndSeed(f.user.JWT, f.seed), nats.MaxReconnects(0))
			if err != nil {
				b.Fatal(err)
			}
			nc.Close()
		}
		b.StopTimer()
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "connects/s")
	})
}

// BenchmarkConnectParallel is BenchmarkConnect from GOMAXPROCS clients.
func BenchmarkConnectParallel(b *testing.B) {
	sides(b, func(b *testing.B, url string, f *fixture) {
		f.connect(b, url).Close()
		b.ResetTimer()
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				nc, err := nats.Connect(url, nats.UserJWTAndSeed(f.user.JWT, f.seed), nats.MaxReconnects(0))
				if err != nil {
					b.Error(err)
					return
				}
				nc.Close()
			}
		})
		b.StopTimer()
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "connects/s")
	})
}
