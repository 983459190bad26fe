package bench

import (
	"context"
	"testing"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/natsauth/natsauth/resolver"
	"github.com/natsauth/natsauth/store"
)

// BenchmarkFetchCached compares a cached Fetch of natsauth's resolver —
// bare, and with the Prometheus observer `natsauth serve` installs — with
// nats-server's own MemAccResolver. (nats-server calls Fetch only for an
// account it has not loaded, so none of these is on a message path.)
func BenchmarkFetchCached(b *testing.B) {
	f := newFixture(b)
	st, err := store.Open(context.Background(), "mem://", store.Options{Policy: f.op.Policy()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	if _, err := st.Put(context.Background(), f.acc.Pub, f.acc.JWT); err != nil {
		b.Fatal(err)
	}
	run := func(b *testing.B, r server.AccountResolver) {
		if _, err := r.Fetch(f.acc.Pub); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := r.Fetch(f.acc.Pub); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	b.Run("stock-MemAccResolver", func(b *testing.B) {
		var m server.MemAccResolver
		_ = m.Store(f.acc.Pub, f.acc.JWT)
		run(b, &m)
	})
	b.Run("natsauth", func(b *testing.B) {
		n := startNatsauth(b, f, "mem://")
		r := resolver.New(st, resolver.Options{Policy: f.op.Policy()})
		if err := r.Start(n.Server()); err != nil { // its clock runs once started, as in use
			b.Fatal(err)
		}
		b.Cleanup(r.Close)
		run(b, r)
	})
	b.Run("natsauth-serve-with-metrics", func(b *testing.B) {
		run(b, startNatsauth(b, f, "mem://").Resolver()) // the resolver serve runs, Prometheus observer included
	})
}
