package postgres_test

import (
	"context"
	"os"
	"testing"

	"github.com/natsauth/natsauth/internal/pgtest"
	"github.com/natsauth/natsauth/store"
	_ "github.com/natsauth/natsauth/store/backends"
	"github.com/natsauth/natsauth/store/storetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// backend runs the suite on a fresh database of the shared test server per
// case; each opener call is an independent Store (its own pool and
// listener) on that database.
func backend() storetest.Backend {
	return storetest.Backend{
		Name: "postgres",
		New: func(t testing.TB) func(testing.TB, store.Options) store.Store {
			return storetest.Opener(pgtest.Start(t).NewDatabase(t))
		},
		Persistent: true,
		Shared:     true,
	}
}

func TestConformance(t *testing.T) {
	storetest.Run(t, backend())
}

func BenchmarkColdGet(b *testing.B) {
	storetest.BenchGet(b, backend(), 1000)
}

// open opens a validated store on url for a test.
func open(t testing.TB, url string, opts store.Options) store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), url, opts)
	if err != nil {
		t.Fatalf("open %s: %v", store.Redact(url), err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// Newer-only holds between OS processes writing one database.
func TestNewerOnlyAcrossProcesses(t *testing.T) {
	url := ""
	// In the child processes CrossProcess reads the URL from its spec; they
	// must not start a server of their own.
	if os.Getenv("NATSAUTH_STORETEST_CHILD") == "" {
		url = pgtest.Start(t).NewDatabase(t)
	}
	storetest.CrossProcess(t, "TestNewerOnlyAcrossProcesses", url, 3, 80)
}
