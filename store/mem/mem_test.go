package mem_test

import (
	"testing"

	"github.com/natsauth/natsauth/store"
	_ "github.com/natsauth/natsauth/store/backends"
	"github.com/natsauth/natsauth/store/mem"
	"github.com/natsauth/natsauth/store/storetest"
)

// backend: each instance is its own map (mem stores share nothing).
var backend = storetest.Backend{
	Name: "mem",
	New: func(testing.TB) func(testing.TB, store.Options) store.Store {
		return storetest.Opener("mem://")
	},
}

func TestConformance(t *testing.T) { storetest.Run(t, backend) }

func BenchmarkGet(b *testing.B) { storetest.BenchGet(b, backend, 1000) }

func TestNewIsEmpty(t *testing.T) {
	keys, err := mem.New().List(t.Context())
	if err != nil || len(keys) != 0 {
		t.Fatalf("List = %v, %v", keys, err)
	}
}
