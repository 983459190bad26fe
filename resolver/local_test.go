package resolver_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"

	"github.com/natsauth/natsauth/internal/testkit"
	"github.com/natsauth/natsauth/resolver"
	"github.com/natsauth/natsauth/store"
)

func openLocal(t *testing.T, path string, o resolver.LocalCopyOptions) *resolver.LocalCopy {
	t.Helper()
	lc, err := resolver.OpenLocalCopy(path, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = lc.Close() })
	return lc
}

// waitSynced waits until the node's local copy is known current.
func waitSynced(t *testing.T, r *resolver.Resolver) {
	t.Helper()
	eventually(t, "local copy synced", r.LocalSynced)
}

// A node whose store fails serves every account that existed before the
// outage from its local copy — also accounts nobody connected to before,
// which the cache alone cannot serve.
func TestLocalCopyServesUnusedAccountsDuringOutage(t *testing.T) {
	op := testkit.NewOperator(t)
	st := &outageStore{Store: memStore(t, op)}
	var accs []*testkit.Account
	for _, n := range []string{"A", "B", "C"} {
		a := op.NewAccount(t, n, nil)
		mustPut(t, st, a)
		accs = append(accs, a)
	}
	lc := openLocal(t, filepath.Join(t.TempDir(), "copy.db"), resolver.LocalCopyOptions{})
	n := startNode(t, op, st, resolver.Options{Local: lc})
	waitSynced(t, n.res)
	if got := lc.Len(); got != 4 { // SYS, A, B, C
		t.Fatalf("local copy holds %d accounts, want 4", got)
	}
	st.down.Store(true)
	for _, a := range accs {
		if err := n.connectErr(t, a.NewUser(t, "u", nil)); err != nil {
			t.Errorf("account %s, never used before the outage: %v", a.Claims.Name, err)
		}
	}
	if n.res.Stats().LocalServes == 0 {
		t.Error("no JWT was served from the local copy")
	}

	// The same store without a local copy: the unused account fails.
	st2 := &outageStore{Store: memStore(t, op)}
	b := op.NewAccount(t, "B2", nil)
	mustPut(t, st2, b)
	n2 := startNode(t, op, st2, resolver.Options{})
	st2.down.Store(true)
	if err := n2.connectErr(t, b.NewUser(t, "u", nil)); err == nil {
		t.Fatal("without a local copy an unused account connected during the outage; the test cannot tell the copy's effect")
	}
}

// A node started while its store is down resolves the system account and
// every account from the local copy an earlier run left.
func TestLocalCopyServesANodeStartedDuringOutage(t *testing.T) {
	op := testkit.NewOperator(t)
	path := filepath.Join(t.TempDir(), "copy.db")
	a := op.NewAccount(t, "A", nil)
	{
		st := memStore(t, op)
		mustPut(t, st, a)
		lc, err := resolver.OpenLocalCopy(path, resolver.LocalCopyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		n := startNode(t, op, st, resolver.Options{Local: lc})
		waitSynced(t, n.res)
		n.srv.Shutdown()
		n.srv.WaitForShutdown()
		if err := lc.Close(); err != nil {
			t.Fatal(err)
		}
	}
	st := &outageStore{Store: memStore(t, op)}
	st.down.Store(true)
	lc := openLocal(t, path, resolver.LocalCopyOptions{})
	n := startNode(t, op, st, resolver.Options{Local: lc})
	if err := n.connectErr(t, a.NewUser(t, "u", nil)); err != nil {
		t.Fatalf("connect to a node started during the outage: %v", err)
	}
	if n.res.LocalSynced() {
		t.Error("the copy is reported current although the store could not be read")
	}
}

// While its watch keeps it current, the copy answers first connects
// without reading the store, and follows every change and deletion.
func TestLocalCopyFollowsTheWatch(t *testing.T) {
	op := testkit.NewOperator(t)
	cs := &countingStore{Store: memStore(t, op)}
	st := watchingCountingStore{cs}
	a := op.NewAccount(t, "A", nil)
	mustPut(t, st, a)
	lc := openLocal(t, filepath.Join(t.TempDir(), "copy.db"), resolver.LocalCopyOptions{})
	n := startNode(t, op, st, resolver.Options{Local: lc})
	waitSynced(t, n.res)

	before := cs.gets.Load()
	n.connect(t, a.NewUser(t, "u", nil))
	if got := cs.gets.Load() - before; got != 0 {
		t.Errorf("first connect read the store %d times, want 0 (served from the copy)", got)
	}

	b := op.NewAccount(t, "B", nil)
	mustPut(t, st, b)
	eventually(t, "new account copied", func() bool { tok, _ := lc.Get(b.Pub); return tok == b.JWT })
	next := a.Reissue(t, time.Now().Unix()+1, func(ac *jwt.AccountClaims) { ac.Limits.Conn = 7 })
	mustPut(t, st, a)
	eventually(t, "change copied", func() bool { tok, _ := lc.Get(a.Pub); return tok == next })
	if err := st.Delete(context.Background(), b.Pub); err != nil {
		t.Fatal(err)
	}
	eventually(t, "deletion copied", func() bool { _, ok := lc.Get(b.Pub); return !ok })
	// A deleted account is refused, not served from the copy.
	if err := n.connectErr(t, b.NewUser(t, "u", nil)); err == nil {
		t.Error("a deleted account connected")
	}
}

// A restart brings a copy that missed changes (made while the node was
// down) up to date in one pass: changed, added and deleted accounts.
func TestLocalCopySyncCatchesUp(t *testing.T) {
	op := testkit.NewOperator(t)
	st := memStore(t, op)
	path := filepath.Join(t.TempDir(), "copy.db")
	a, b := op.NewAccount(t, "A", nil), op.NewAccount(t, "B", nil)
	mustPut(t, st, a)
	mustPut(t, st, b)
	lc, err := resolver.OpenLocalCopy(path, resolver.LocalCopyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n := startNode(t, op, st, resolver.Options{Local: lc})
	waitSynced(t, n.res)
	n.srv.Shutdown()
	n.srv.WaitForShutdown()
	lc.Close()

	next := a.Reissue(t, time.Now().Unix()+1, func(ac *jwt.AccountClaims) { ac.Limits.Conn = 2 })
	mustPut(t, st, a)
	if err := st.Delete(context.Background(), b.Pub); err != nil {
		t.Fatal(err)
	}
	c := op.NewAccount(t, "C", nil)
	mustPut(t, st, c)

	lc2 := openLocal(t, path, resolver.LocalCopyOptions{})
	n2 := startNode(t, op, st, resolver.Options{Local: lc2})
	waitSynced(t, n2.res)
	if tok, _ := lc2.Get(a.Pub); tok != next {
		t.Error("changed account not brought up to date")
	}
	if _, ok := lc2.Get(b.Pub); ok {
		t.Error("deleted account still in the copy")
	}
	if tok, _ := lc2.Get(c.Pub); tok != c.JWT {
		t.Error("new account not copied")
	}
}

// The copy is bounded: accounts past MaxBytes are not copied (they are
// still served from the store).
func TestLocalCopyIsBounded(t *testing.T) {
	op := testkit.NewOperator(t)
	st := memStore(t, op)
	var accs []*testkit.Account
	for _, n := range []string{"A", "B", "C", "D"} {
		a := op.NewAccount(t, n, nil)
		mustPut(t, st, a)
		accs = append(accs, a)
	}
	limit := int64(2*len(accs[0].JWT) + len(op.System.JWT) + 10)
	lc := openLocal(t, filepath.Join(t.TempDir(), "copy.db"), resolver.LocalCopyOptions{MaxBytes: limit})
	n := startNode(t, op, st, resolver.Options{Local: lc})
	waitSynced(t, n.res)
	if lc.Bytes() > limit || lc.Len() >= 5 {
		t.Errorf("copy holds %d accounts, %d bytes; limit %d bytes", lc.Len(), lc.Bytes(), limit)
	}
	for _, a := range accs {
		if err := n.connectErr(t, a.NewUser(t, "u", nil)); err != nil {
			t.Errorf("account %s: %v", a.Claims.Name, err)
		}
	}
}

// One process at a time: a second open fails with ErrLocalCopyInUse; a
// file that is not a local copy is replaced by an empty one.
func TestLocalCopyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "copy.db")
	lc := openLocal(t, path, resolver.LocalCopyOptions{})
	if _, err := resolver.OpenLocalCopy(path, resolver.LocalCopyOptions{}); !errors.Is(err, resolver.ErrLocalCopyInUse) {
		t.Fatalf("second open: %v, want ErrLocalCopyInUse", err)
	}
	lc.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %o, want 600", fi.Mode().Perm())
	}
	junk := filepath.Join(dir, "junk.db")
	if err := os.WriteFile(junk, []byte(strings.Repeat("not a bbolt file ", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	lj := openLocal(t, junk, resolver.LocalCopyOptions{})
	if lj.Len() != 0 {
		t.Errorf("replaced file holds %d accounts", lj.Len())
	}
}

var _ store.Store = (*outageStore)(nil)
