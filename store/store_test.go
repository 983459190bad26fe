package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/natsauth/natsauth/internal/testkit"
	"github.com/natsauth/natsauth/store"
	_ "github.com/natsauth/natsauth/store/backends"
)

func TestDecide(t *testing.T) {
	stored := store.Record{Account: "A", JWT: "j1", IssuedAt: 100}
	tests := []struct {
		name   string
		exists bool
		next   store.Record
		want   store.Change
		stale  bool
	}{
		{"absent", false, store.Record{Account: "A", JWT: "j0", IssuedAt: 1}, store.Created, false},
		{"same jwt", true, store.Record{Account: "A", JWT: "j1", IssuedAt: 100}, store.Unchanged, false},
		{"newer", true, store.Record{Account: "A", JWT: "j2", IssuedAt: 101}, store.Updated, false},
		{"equal iat, other jwt", true, store.Record{Account: "A", JWT: "j2", IssuedAt: 100}, store.Updated, false},
		{"older", true, store.Record{Account: "A", JWT: "j0", IssuedAt: 99}, store.Unchanged, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := store.Decide(stored, tc.exists, tc.next)
			if got != tc.want {
				t.Errorf("change = %v, want %v", got, tc.want)
			}
			if stale := errors.Is(err, store.ErrStale); stale != tc.stale || (!tc.stale && err != nil) {
				t.Errorf("err = %v, want stale %v", err, tc.stale)
			}
			if tc.stale && err != nil && (!strings.Contains(err.Error(), "100") || !strings.Contains(err.Error(), "99")) {
				t.Errorf("stale error %q does not name both iats", err)
			}
		})
	}
}

// A forced replace takes any other JWT, older or newer; the same one again
// changes nothing.
func TestDecideReplace(t *testing.T) {
	stored := store.Record{Account: "A", JWT: "j1", IssuedAt: 100}
	for _, tc := range []struct {
		name   string
		exists bool
		next   store.Record
		want   store.Change
	}{
		{"absent", false, store.Record{Account: "A", JWT: "j0", IssuedAt: 1}, store.Created},
		{"same jwt", true, store.Record{Account: "A", JWT: "j1", IssuedAt: 100}, store.Unchanged},
		{"newer", true, store.Record{Account: "A", JWT: "j2", IssuedAt: 101}, store.Updated},
		{"older", true, store.Record{Account: "A", JWT: "j0", IssuedAt: 99}, store.Updated},
	} {
		got, err := store.DecideReplace(stored, tc.exists, tc.next)
		if got != tc.want || err != nil {
			t.Errorf("%s: DecideReplace = %v, %v; want %v, nil", tc.name, got, err, tc.want)
		}
	}
}

func TestStrings(t *testing.T) {
	for v, want := range map[any]string{
		store.Created: "created", store.Updated: "updated", store.Unchanged: "unchanged",
		store.EventPut: "put", store.EventDelete: "delete", store.EventReset: "reset", store.EventKind(9): "EventKind(9)",
	} {
		if got := v.(interface{ String() string }).String(); got != want {
			t.Errorf("%#v.String() = %q, want %q", v, got, want)
		}
	}
}

func TestOpen(t *testing.T) {
	ctx := context.Background()
	_, err := store.Open(ctx, "nope://x", store.Options{})
	if err == nil || !strings.Contains(err.Error(), `unknown scheme "nope"`) || !strings.Contains(err.Error(), "mem") {
		t.Fatalf("unknown scheme: %v", err)
	}
	if _, err := store.Open(ctx, "::", store.Options{}); err == nil {
		t.Fatal("bad url opened")
	}
	s, err := store.Open(ctx, "MEM://", store.Options{})
	if err != nil {
		t.Fatalf("scheme is case-insensitive: %v", err)
	}
	defer s.Close()
	if store.Unwrap(s) == nil {
		t.Fatal("Unwrap of an opened store is nil")
	}
	// A store without a policy refuses every write.
	op := testkit.NewOperator(t)
	acc := op.NewAccount(t, "A", nil)
	if _, err := s.Put(ctx, acc.Pub, acc.JWT); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("put without policy: %v", err)
	}
}

func TestRegisterTwicePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	store.Register("Mem", nil)
}

func TestRedact(t *testing.T) {
	got := store.Redact("postgres://user:s3cret@db:5432/natsauth")
	if strings.Contains(got, "s3cret") || !strings.Contains(got, "user") {
		t.Fatalf("Redact = %q", got)
	}
	if got := store.Redact("postgres://u:p@h/%zz"); strings.Contains(got, "p@") {
		t.Fatalf("Redact of an unparseable url = %q", got)
	}
	// A failing Open never echoes the password.
	if _, err := store.Open(context.Background(), "nope://u:s3cret@h/", store.Options{}); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("open error leaks the password: %v", err)
	}
}

// counting records what reaches a backend.
type counting struct {
	store.Backend
	calls int
}

func (c *counting) Get(ctx context.Context, a string) (store.Record, error) {
	c.calls++
	return c.Backend.Get(ctx, a)
}

func (c *counting) PutIfNewer(ctx context.Context, r store.Record) (store.Change, error) {
	c.calls++
	return c.Backend.PutIfNewer(ctx, r)
}

func (c *counting) Delete(ctx context.Context, a string) error {
	c.calls++
	return c.Backend.Delete(ctx, a)
}

func TestValidatedKeepsBadInputFromTheBackend(t *testing.T) {
	ctx := context.Background()
	op := testkit.NewOperator(t)
	acc := op.NewAccount(t, "A", nil)
	m, err := store.Open(ctx, "mem://", store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b := &counting{Backend: store.Unwrap(m)}
	s := store.Wrap(b, store.Options{Policy: op.Policy()})
	for _, key := range []string{"../x", "", "A'; DROP TABLE account_jwts;--", op.Pub} {
		if _, err := s.Get(ctx, key); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("Get(%q): %v", key, err)
		}
		if _, err := s.Put(ctx, key, acc.JWT); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("Put(%q): %v", key, err)
		}
		if err := s.Delete(ctx, key); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("Delete(%q): %v", key, err)
		}
	}
	if _, err := s.Put(ctx, acc.Pub, acc.SignWith(t, acc.KP)); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("self-signed put: %v", err)
	}
	if b.calls != 0 {
		t.Fatalf("%d calls reached the backend", b.calls)
	}
	// A backend without Watch says so.
	if _, err := s.(store.Watcher).Watch(ctx); !errors.Is(err, store.ErrWatchUnsupported) {
		t.Fatalf("watch of a non-watching backend: %v", err)
	}
}
