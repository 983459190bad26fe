package authority

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/natsauth/natsauth/internal/fsx"
)

// Concurrent changes to one account through separate Home values (as
// separate natsauth processes, or several front doors, make them) each
// survive: every revocation and every limit ends up in the account JWT.
// Each change reads the account JWT, changes it and writes it back; only
// the home's file lock keeps one change from overwriting another.
func TestConcurrentChangesEachSurvive(t *testing.T) {
	h := newHome(t)
	mustAccount(t, h, "A", AccountEdit{})
	const n = 12
	for i := range n {
		if _, err := h.AddUser("A", fmt.Sprintf("u%02d", i), UserEdit{}); err != nil {
			t.Fatal(err)
		}
	}
	limits := []func(v int64) AccountEdit{
		func(v int64) AccountEdit { return AccountEdit{Conns: Int64(v)} },
		func(v int64) AccountEdit { return AccountEdit{Data: Int64(v)} },
		func(v int64) AccountEdit { return AccountEdit{Payload: Int64(v)} },
		func(v int64) AccountEdit { return AccountEdit{Subs: Int64(v)} },
		func(v int64) AccountEdit { return AccountEdit{Exports: Int64(v)} },
		func(v int64) AccountEdit { return AccountEdit{Imports: Int64(v)} },
	}
	var wg sync.WaitGroup
	errs := make(chan error, n+len(limits))
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			o, err := Open(h.Dir())
			<-start
			if err == nil {
				_, err = o.RevokeUser("A", fmt.Sprintf("u%02d", i), time.Time{})
			}
			errs <- err
		})
	}
	for k, edit := range limits {
		wg.Go(func() {
			o, err := Open(h.Dir())
			<-start
			if err == nil {
				_, err = o.EditAccount("A", edit(int64(1000+k)))
			}
			errs <- err
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	acc, err := h.Account("A")
	if err != nil {
		t.Fatal(err)
	}
	users, err := h.Users("A")
	if err != nil {
		t.Fatal(err)
	}
	lost := 0
	for _, u := range users {
		if _, ok := acc.Claims.Revocations[u.Pub]; !ok {
			lost++
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d concurrent revocations lost", lost, n)
	}
	l := acc.Claims.Limits
	got := []int64{l.Conn, l.Data, l.Payload, l.Subs, l.Exports, l.Imports}
	for k, v := range got {
		if v != int64(1000+k) {
			t.Errorf("limit %d = %d, want %d: a concurrent edit was lost", k, v, 1000+k)
		}
	}
}

// A writer killed between writing its temporary file and renaming it
// leaves ".A.jwt.tmp-NNN" (holding a JWT) beside A.jwt; the next change
// of that account removes it, under the home's lock.
func TestNextWriteRemovesLeftoverTempFiles(t *testing.T) {
	h := newHome(t)
	acc := mustAccount(t, h, "A", AccountEdit{})
	dir := filepath.Dir(h.accountJWTPath("A"))
	leftover := filepath.Join(dir, ".A.jwt.tmp-4242")
	if err := os.WriteFile(leftover, []byte(acc.JWT), 0o600); err != nil {
		t.Fatal(err)
	}
	if found, _ := fsx.FindStale(h.Dir()); len(found) != 1 {
		t.Fatalf("FindStale = %v, want the planted leftover", found)
	}
	if _, err := h.EditAccount("A", AccountEdit{Conns: Int64(5)}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(leftover); !os.IsNotExist(err) {
		t.Errorf("leftover still there after the next write (stat: %v)", err)
	}
	if found, _ := fsx.FindStale(h.Dir()); len(found) != 0 {
		t.Errorf("leftovers after the write: %v", found)
	}
}
