package resolver

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/jwt/v2"

	"github.com/natsauth/natsauth/store"
)

// Publish validates and stores one account JWT, then applies it to the
// running server the way a claims update does: when it returns nil the
// server enforces token for a loaded account (an account not loaded reads
// it on its next connect). A store holding a newer JWT refuses it
// (store.ErrStale) and nothing is applied.
func (r *Resolver) Publish(ctx context.Context, account, token string) (store.Change, error) {
	ac, err := jwt.DecodeAccountClaims(token)
	if err == nil {
		err = validateMappings(ac)
	}
	if err != nil {
		return store.Unchanged, fmt.Errorf("resolver: publish account %s: %w: %w", account, store.ErrInvalid, err)
	}
	wctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	ch, err := r.put(wctx, account, token)
	if err != nil {
		return ch, err
	}
	if s := r.server(); s != nil {
		r.apply(s, account, token, time.Now())
	}
	return ch, nil
}

// Unpublish deletes an account from the store and disables it in the
// running server, as a store delete seen by the watch does. An account the
// store does not hold is not an error.
func (r *Resolver) Unpublish(ctx context.Context, account string) error {
	wctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	if err := r.st.Delete(wctx, account); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	r.forget(account)
	r.remove(account)
	return nil
}

// Apply applies token, validated, to the running server without writing
// the store: for a node whose store is read-only (an account server's,
// written elsewhere). An account not loaded is left alone.
func (r *Resolver) Apply(account, token string) error {
	if r.opts.Policy == nil {
		return fmt.Errorf("resolver: apply account %s: no trust policy", account)
	}
	if _, err := r.opts.Policy.CheckAccount(account, token); err != nil {
		return fmt.Errorf("resolver: apply: %w", err)
	}
	r.changed(account, token)
	if s := r.server(); s != nil {
		r.apply(s, account, token, time.Time{})
	}
	return nil
}
