package store

import (
	"context"
	"errors"
	"fmt"
)

// Scanner is implemented by backends that read every stored record in one
// pass (one query, one directory listing). A resolver's local copy uses it
// to catch up with a store of 100,000 accounts without 100,000 reads.
type Scanner interface {
	// Scan calls fn for every stored record, in no particular order, and
	// stops at fn's first error. Records written during a scan may or may
	// not be seen; a Watcher reports them.
	Scan(ctx context.Context, fn func(Record) error) error
}

// Scan calls fn for every record of s: in one pass where the backend is a
// Scanner, else with List and one Get per account (an account deleted
// between the two is skipped).
func Scan(ctx context.Context, s Store, fn func(Record) error) error {
	if sc, ok := s.(Scanner); ok {
		return sc.Scan(ctx, fn)
	}
	return scanByList(ctx, s, fn)
}

func scanByList(ctx context.Context, s interface {
	List(context.Context) ([]string, error)
	Get(context.Context, string) (Record, error)
}, fn func(Record) error) error {
	ids, err := s.List(ctx)
	if err != nil {
		return fmt.Errorf("scan accounts: %w", err)
	}
	for _, id := range ids {
		rec, err := s.Get(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("scan accounts: %w", err)
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
	return nil
}

// Scan reads every record through the backend: in one pass where it is a
// Scanner, else with List and Get.
func (v *validated) Scan(ctx context.Context, fn func(Record) error) error {
	if sc, ok := v.b.(Scanner); ok {
		return sc.Scan(ctx, fn)
	}
	return scanByList(ctx, v.b, fn)
}
