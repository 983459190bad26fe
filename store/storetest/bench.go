package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/natsauth/natsauth/internal/testkit"
	"github.com/natsauth/natsauth/store"
)

// BenchGet measures Get of random accounts among n stored ones, on an
// instance opened after they were written (nothing cached in the process).
// Besides ns/op it reports p50-ns and p99-ns per Get.
func BenchGet(b *testing.B, be Backend, n int) {
	op := testkit.NewOperator(b)
	opts := store.Options{Policy: op.Policy()}
	open := be.New(b)
	w := open(b, opts)
	if be.ReadOnly {
		w = be.Writer(b, opts)
	}
	ctx := context.Background()
	keys := make([]string, n)
	for i := range keys {
		acc := op.NewAccount(b, fmt.Sprintf("A%d", i), nil)
		if _, err := w.Put(ctx, acc.Pub, acc.JWT); err != nil {
			b.Fatalf("put: %v", err)
		}
		keys[i] = acc.Pub
	}
	s := w
	if be.Persistent || be.Shared || be.ReadOnly {
		s = open(b, opts)
		b.Cleanup(func() { _ = s.Close() })
		if s != w {
			_ = w.Close()
		}
	} else {
		b.Cleanup(func() { _ = w.Close() })
	}
	rng := rand.New(rand.NewPCG(1, 2))
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		k := keys[rng.IntN(n)]
		t0 := time.Now()
		if _, err := s.Get(ctx, k); err != nil {
			b.Fatalf("get: %v", err)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
}
