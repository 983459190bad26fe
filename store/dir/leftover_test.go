package dir_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/natsauth/natsauth/internal/fsx"
	"github.com/natsauth/natsauth/internal/testkit"
	"github.com/natsauth/natsauth/store"
)

// Writers killed between writing their temporary file and renaming it
// leave ".<pub>.jwt.tmp-N" (and, from earlier versions, ".natsauth-N.tmp")
// files holding a JWT. The next store's first write removes them under
// the directory's lock; nats-server never loads them meanwhile.
func TestFirstWriteRemovesLeftovers(t *testing.T) {
	op := testkit.NewOperator(t)
	d := t.TempDir()
	a, b := op.NewAccount(t, "A", nil), op.NewAccount(t, "B", nil)
	leftovers := []string{
		filepath.Join(d, "."+a.Pub+".jwt.tmp-12345"),
		filepath.Join(d, ".natsauth-777.tmp"),
	}
	for _, p := range leftovers {
		if err := os.WriteFile(p, []byte(a.JWT), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s, err := store.Open(t.Context(), "dir://"+d, store.Options{Policy: op.Policy()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if ids, err := s.List(t.Context()); err != nil || len(ids) != 0 {
		t.Fatalf("List = %v, %v; leftovers must not count as accounts", ids, err)
	}
	if _, err := s.Put(t.Context(), b.Pub, b.JWT); err != nil {
		t.Fatal(err)
	}
	for _, p := range leftovers {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s still there after the first write (stat: %v)", filepath.Base(p), err)
		}
	}
	if found, _ := fsx.FindStale(d); len(found) != 0 {
		t.Errorf("leftovers after the write: %v", found)
	}
}
