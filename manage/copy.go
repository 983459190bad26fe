package manage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/natsauth/natsauth/store"
	"github.com/natsauth/natsauth/trust"
)

// CopySummary is what a store copy did.
type CopySummary struct {
	Copied    int         `json:"copied"`
	Unchanged int         `json:"unchanged"`
	Skipped   int         `json:"skipped"`
	Refused   int         `json:"refused"`
	Skips     []CopyIssue `json:"skips"`
	Refusals  []CopyIssue `json:"refusals"`
}

// CopyIssue is one account that was not copied, and why.
type CopyIssue struct {
	Account string `json:"account"`
	Reason  string `json:"reason"`
}

// WriteText writes the summary for people: each account skipped and
// refused with the reason, then the counts.
func (s CopySummary) WriteText(w io.Writer) {
	for _, sk := range s.Skips {
		fmt.Fprintf(w, "skipped %s: %s\n", sk.Account, sk.Reason)
	}
	for _, r := range s.Refusals {
		fmt.Fprintf(w, "refused %s: %s\n", r.Account, r.Reason)
	}
	fmt.Fprintf(w, "copied %d, unchanged %d, skipped %d, refused %d\n", s.Copied, s.Unchanged, s.Skipped, s.Refused)
}

// CopyStore copies every account JWT of the store at from into the store
// at to, each through to's validation with policy (the one every write
// path applies) and newer-only. step, if set, is called once per account.
// It stops early only when ctx ends; every other failure is one account's
// and is counted as refused.
func CopyStore(ctx context.Context, from, to string, policy *trust.Policy, log *slog.Logger, step func(done, total int)) (CopySummary, error) {
	sum := CopySummary{Skips: []CopyIssue{}, Refusals: []CopyIssue{}}
	if from == to {
		return sum, errors.New("store copy: --from and --to name the same store")
	}
	opts := store.Options{Policy: policy, Logger: log}
	src, err := store.Open(ctx, from, opts)
	if err != nil {
		return sum, fmt.Errorf("store copy: source: %w", err)
	}
	defer src.Close()
	dst, err := store.Open(ctx, to, opts)
	if err != nil {
		return sum, fmt.Errorf("store copy: destination: %w", err)
	}
	defer dst.Close()
	keys, err := src.List(ctx)
	if err != nil {
		return sum, fmt.Errorf("store copy: list %s: %w", store.Redact(from), err)
	}
	refuse := func(acc, reason string) {
		sum.Refused++
		sum.Refusals = append(sum.Refusals, CopyIssue{Account: acc, Reason: reason})
	}
	for i, k := range keys {
		if err := ctx.Err(); err != nil {
			return sum, fmt.Errorf("store copy: %w (copied %d of %d before stopping)", err, sum.Copied, len(keys))
		}
		if step != nil {
			step(i+1, len(keys))
		}
		rec, err := src.Get(ctx, k)
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				continue // deleted since the listing
			}
			refuse(k, "read from source: "+err.Error())
			continue
		}
		change, err := dst.Put(ctx, k, rec.JWT)
		switch {
		case errors.Is(err, store.ErrStale):
			sum.Skipped++
			sum.Skips = append(sum.Skips, CopyIssue{Account: k, Reason: "the destination holds a newer jwt: " + err.Error()})
		case err != nil && ctx.Err() != nil:
			return sum, fmt.Errorf("store copy: %w (copied %d of %d before stopping)", ctx.Err(), sum.Copied, len(keys))
		case err != nil:
			refuse(k, err.Error())
		case change == store.Unchanged:
			sum.Unchanged++
		default:
			sum.Copied++
		}
	}
	return sum, nil
}
