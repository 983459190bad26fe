package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/nats-io/nkeys"

	"github.com/natsauth/natsauth/internal/testkit"
	"github.com/natsauth/natsauth/store"
	"github.com/natsauth/natsauth/store/mem"
)

// spy records every key that reaches the backend.
type spy struct {
	*mem.Store
	mu   sync.Mutex
	keys []string
}

func (s *spy) saw(k string) {
	s.mu.Lock()
	s.keys = append(s.keys, k)
	s.mu.Unlock()
}

func (s *spy) Get(ctx context.Context, k string) (store.Record, error) {
	s.saw(k)
	return s.Store.Get(ctx, k)
}

func (s *spy) PutIfNewer(ctx context.Context, rec store.Record) (store.Change, error) {
	s.saw(rec.Account)
	return s.Store.PutIfNewer(ctx, rec)
}

func (s *spy) Delete(ctx context.Context, k string) error {
	s.saw(k)
	return s.Store.Delete(ctx, k)
}

// FuzzStoreKeys offers arbitrary account keys (and JWTs) to the validated
// store: only valid account public keys ever reach a backend (they become
// file names and SQL parameters), anything else is refused with ErrInvalid,
// and nothing but a valid, trusted JWT stored under its own subject is
// written.
func FuzzStoreKeys(f *testing.F) {
	op := testkit.NewOperator(f)
	acc := op.NewAccount(f, "A", nil)
	for _, k := range []string{acc.Pub, "", "../" + acc.Pub, acc.Pub + "/x", acc.Pub + ".jwt", "audit.log",
		"A'; DROP TABLE account_jwts;--", op.Pub, acc.Pub[:55], acc.Pub + "\x00"} {
		f.Add(k, acc.JWT)
	}
	f.Add(acc.Pub, "garbage")
	f.Fuzz(func(t *testing.T, key, token string) {
		b := &spy{Store: mem.New()}
		st := store.Wrap(b, store.Options{Policy: op.Policy()})
		defer st.Close()
		ctx := context.Background()
		valid := nkeys.IsValidPublicAccountKey(key)
		check := func(op string, err error) {
			if !valid && !errors.Is(err, store.ErrInvalid) {
				t.Fatalf("%s(%q): err = %v, want ErrInvalid", op, key, err)
			}
		}
		_, err := st.Get(ctx, key)
		check("Get", err)
		ch, err := st.Put(ctx, key, token)
		check("Put", err)
		if err == nil && (key != acc.Pub || ch != store.Created) {
			t.Fatalf("Put(%q) stored something (%v): only account A's own JWT may be", key, ch)
		}
		check("Delete", st.Delete(ctx, key))
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, k := range b.keys {
			if !nkeys.IsValidPublicAccountKey(k) {
				t.Fatalf("key %q reached the backend", k)
			}
		}
	})
}
