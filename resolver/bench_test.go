package resolver_test

import (
	"testing"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/natsauth/natsauth/internal/testkit"
	"github.com/natsauth/natsauth/resolver"
)

// BenchmarkFetchHit measures a cached Fetch; compare with
// BenchmarkMemAccResolverFetch (nats-server's own in-memory resolver).
func BenchmarkFetchHit(b *testing.B) {
	op := testkit.NewOperator(b)
	a := op.NewAccount(b, "A", nil)
	st := memStore(b, op)
	mustPut(b, st, a)
	mustPut(b, st, op.System)
	r := resolver.New(st, resolver.Options{Policy: op.Policy()})
	embedded(b, op, r) // started by a server, as in use
	if _, err := r.Fetch(a.Pub); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := r.Fetch(a.Pub); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkMemAccResolverFetch(b *testing.B) {
	op := testkit.NewOperator(b)
	a := op.NewAccount(b, "A", nil)
	var m server.MemAccResolver
	_ = m.Store(a.Pub, a.JWT)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := m.Fetch(a.Pub); err != nil {
				b.Fatal(err)
			}
		}
	})
}
