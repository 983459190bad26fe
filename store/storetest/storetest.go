// Package storetest is the one conformance suite that every account-JWT
// store backend passes. A backend's test calls Run with a Backend that
// describes how to make fresh, empty instances of it:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, storetest.Backend{
//			Name: "sqlite",
//			New: func(t testing.TB) func(testing.TB, store.Options) store.Store {
//				url := "sqlite://" + filepath.Join(t.TempDir(), "a.db")
//				return storetest.Opener(url)
//			},
//			Persistent: true,
//			Shared:     true,
//		})
//	}
//
// Every JWT in the suite is made with internal/testkit: real keys, real
// signatures.
package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/natsauth/natsauth/internal/testkit"
	"github.com/natsauth/natsauth/store"
)

// Backend describes a store backend to the suite.
type Backend struct {
	// Name labels the backend in failures.
	Name string
	// New creates a fresh, empty backend (a new directory, database file or
	// database) and returns an opener. Each call of the opener gives a new,
	// independent Store on that same backend (for a backend that is
	// neither Shared nor Persistent, such as mem, instances may share
	// nothing). The harness closes what it created with t.Cleanup; the
	// suite closes the stores it opens. Cases run one at a time.
	New func(t testing.TB) (open func(t testing.TB, opts store.Options) store.Store)
	// Persistent says data survives Close and a new open.
	Persistent bool
	// Shared says a second instance sees the first one's writes, and its
	// Watch reports them.
	Shared bool
	// ReadOnly says the store under test refuses writes with ErrReadOnly;
	// the suite then writes through Writer.
	ReadOnly bool
	// Writer, for ReadOnly backends, opens a writable store on the backend
	// that the most recent call of New created; what it writes, the store
	// under test must see.
	Writer func(t testing.TB, opts store.Options) store.Store
	// NoWatch says the store does not implement watching: Watch must fail
	// with ErrWatchUnsupported, and the watch cases check only that.
	NoWatch bool
	// WatchTimeout bounds how long the suite waits for a change made
	// through another instance to be reported (default 10s).
	WatchTimeout time.Duration
}

// Opener returns an opener for New that opens rawURL with store.Open.
func Opener(rawURL string) func(t testing.TB, opts store.Options) store.Store {
	return func(t testing.TB, opts store.Options) store.Store {
		t.Helper()
		s, err := store.Open(context.Background(), rawURL, opts)
		if err != nil {
			t.Fatalf("open %s: %v", store.Redact(rawURL), err)
		}
		return s
	}
}

// env is what one case works with: a fresh backend, an operator trusted by
// its policy, and a writable and a readable handle (the same store unless the
// backend is ReadOnly).
type env struct {
	t      *testing.T
	b      Backend
	op     *testkit.Operator
	opts   store.Options
	open   func(t testing.TB, opts store.Options) store.Store
	w      store.Store // writes go here
	r      store.Store // the store under test
	ctx    context.Context
	cancel context.CancelFunc
}

func newEnv(t *testing.T, b Backend) *env {
	t.Helper()
	op := testkit.NewOperator(t)
	e := &env{t: t, b: b, op: op, opts: store.Options{Policy: op.Policy()}}
	e.ctx, e.cancel = context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(e.cancel)
	e.open = b.New(t)
	e.r = e.openStore(t)
	e.w = e.r
	if b.ReadOnly {
		if b.Writer == nil {
			t.Fatalf("%s: ReadOnly backend without Writer", b.Name)
		}
		e.w = b.Writer(t, e.opts)
		t.Cleanup(func() { _ = e.w.Close() })
	}
	return e
}

// openStore opens another instance of the store under test, closed at the
// end of the case.
func (e *env) openStore(t testing.TB) store.Store {
	t.Helper()
	s := e.open(t, e.opts)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// writer opens another writable instance (the Writer for ReadOnly backends).
func (e *env) writer(t testing.TB) store.Store {
	t.Helper()
	if !e.b.ReadOnly {
		return e.openStore(t)
	}
	s := e.b.Writer(t, e.opts)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func (e *env) watchTimeout() time.Duration {
	if e.b.WatchTimeout > 0 {
		return e.b.WatchTimeout
	}
	return 10 * time.Second
}

// put stores token through the writable handle and fails the test on error.
func (e *env) put(acc *testkit.Account, token string) store.Change {
	e.t.Helper()
	c, err := e.w.Put(e.ctx, acc.Pub, token)
	if err != nil {
		e.t.Fatalf("put %s: %v", acc.Claims.Name, err)
	}
	return c
}

// mustGet returns the JWT the store under test holds for pub.
func (e *env) mustGet(pub string) store.Record {
	e.t.Helper()
	rec, err := e.r.Get(e.ctx, pub)
	if err != nil {
		e.t.Fatalf("get %s: %v", pub, err)
	}
	return rec
}

// wantJWT checks that the store under test holds exactly token for pub.
func (e *env) wantJWT(pub, token string) {
	e.t.Helper()
	if got := e.mustGet(pub).JWT; got != token {
		e.t.Fatalf("stored jwt for %s changed:\n got %.60s...\nwant %.60s...", pub, got, token)
	}
}

// wantNotFound checks that the store under test holds nothing for pub.
func (e *env) wantNotFound(pub string) {
	e.t.Helper()
	_, err := e.r.Get(e.ctx, pub)
	if !errors.Is(err, store.ErrNotFound) {
		e.t.Fatalf("get %s: err = %v, want ErrNotFound", pub, err)
	}
}

// Run runs every conformance case against b, each as a subtest.
func Run(t *testing.T, b Backend) {
	if b.New == nil {
		t.Fatalf("storetest: Backend %q has no New", b.Name)
	}
	always := func(Backend) bool { return true }
	watches := func(b Backend) bool { return !b.NoWatch }
	// Cases that do not apply to a backend are not run (rather than
	// skipped): a run reports no skip that could hide a broken suite.
	cases := []struct {
		name    string
		applies func(Backend) bool
		run     func(*env)
	}{
		{"RoundTrip", always, testRoundTrip},
		{"NotFound", always, testNotFound},
		{"Delete", always, testDelete},
		{"List", always, testList},
		{"Scan", always, testScan},
		{"StaleRefused", always, testStaleRefused},
		{"FutureRefused", always, testFutureRefused},
		{"Replace", always, testReplace},
		{"SameJWTUnchanged", always, testSameJWTUnchanged},
		{"EqualIssuedAtAccepted", always, testEqualIssuedAt},
		{"NewerReplaces", always, testNewerReplaces},
		{"SubjectMismatchRefused", always, testSubjectMismatch},
		{"UntrustedIssuerRefused", always, testUntrustedIssuer},
		{"SelfSignedRefused", always, testSelfSigned},
		{"StrictOperatorIdentityRefused", always, testStrictOperator},
		{"InvalidKeysRefused", always, testInvalidKeys},
		{"GarbageJWTRefused", always, testGarbageJWT},
		{"WriteRefusedWhenReadOnly", func(b Backend) bool { return b.ReadOnly }, testReadOnlyRefuses},
		{"WatchUnsupported", func(b Backend) bool { return b.NoWatch }, testWatchUnsupported},
		{"WatchInOrder", watches, testWatchInOrder},
		{"WatchOtherInstance", func(b Backend) bool { return !b.NoWatch && (b.Shared || b.ReadOnly) }, testWatchOtherInstance},
		{"WatchEndsOnClose", watches, testWatchEndsOnClose},
		{"WatchEndsOnContext", watches, testWatchEndsOnContext},
		{"Concurrent", always, testConcurrent},
		{"NewerOnlyRace", always, testNewerOnlyRace},
		{"Reopen", func(b Backend) bool { return b.Persistent }, testReopen},
		{"ClosedRefuses", always, testClosedRefuses},
		{"Audit", func(b Backend) bool { return !b.ReadOnly }, testAudit},
	}
	for _, c := range cases {
		if !c.applies(b) {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			c.run(newEnv(t, b))
		})
	}
}
