package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/store"
)

// publishTimeout bounds one publish to the account-JWT store, so an
// unreachable remote store cannot hang the CLI.
const publishTimeout = 30 * time.Second

// publishError says that the home was saved but the store was not updated.
type publishError struct {
	home, store string
	problems    []string
}

func (e *publishError) Error() string {
	return fmt.Sprintf("the change is saved in the home %s, but the account-JWT store %s was not updated "+
		"(a running natsauth serve does not see it yet): %s", e.home, e.store, strings.Join(e.problems, "; "))
}

// openStore opens the account-JWT store (--store, NATSAUTH_STORE or the
// home's SQLite database) with the home's trust policy.
func (a *app) openStore(ctx context.Context, h *authority.Home) (store.Store, string, error) {
	u, err := a.storeURL()
	if err != nil {
		return nil, "", err
	}
	st, err := store.Open(ctx, u, store.Options{Policy: h.Policy(), Logger: a.quietLogger()})
	if err != nil {
		return nil, redactURL(u), err
	}
	return st, redactURL(u), nil
}

// quietLogger is the store logger of short CLI commands: warnings and
// errors only, unless --log-level asks for debug.
func (a *app) quietLogger() *slog.Logger {
	lvl := slog.LevelWarn
	if strings.EqualFold(a.logLevel, "debug") {
		lvl = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(a.errOut, &slog.HandlerOptions{Level: lvl}))
}

// publish puts the current JWTs of the named accounts into the account-JWT
// store, so that a running `natsauth serve` applies them. The home must
// already be saved; a failure is reported as such and exits non-zero.
func (a *app) publish(ctx context.Context, h *authority.Home, accountNames ...string) error {
	ctx, cancel := context.WithTimeout(ctx, publishTimeout)
	defer cancel()
	st, where, err := a.openStore(ctx, h)
	if err != nil {
		return &publishError{home: h.Dir(), store: where, problems: []string{err.Error()}}
	}
	defer st.Close()
	perr := &publishError{home: h.Dir(), store: where}
	for _, name := range accountNames {
		acc, err := h.Account(name)
		if err != nil {
			perr.problems = append(perr.problems, err.Error())
			continue
		}
		ch, err := st.Put(ctx, acc.Pub, acc.JWT)
		if err != nil {
			if errors.Is(err, store.ErrStale) {
				err = fmt.Errorf("%w: the store holds a newer JWT for %s than the home", err, name)
			}
			perr.problems = append(perr.problems, fmt.Sprintf("account %s: %v", name, err))
			continue
		}
		fmt.Fprintf(a.out, "published account %s to %s (%s)\n", name, where, ch)
	}
	if len(perr.problems) > 0 {
		return perr
	}
	return nil
}

// unpublish removes deleted accounts (name → public key) from the store.
// An account that was not in the store is not an error.
func (a *app) unpublish(ctx context.Context, h *authority.Home, accounts map[string]string) error {
	ctx, cancel := context.WithTimeout(ctx, publishTimeout)
	defer cancel()
	st, where, err := a.openStore(ctx, h)
	if err != nil {
		return &publishError{home: h.Dir(), store: where, problems: []string{err.Error()}}
	}
	defer st.Close()
	perr := &publishError{home: h.Dir(), store: where}
	for name, pub := range accounts {
		err := st.Delete(ctx, pub)
		switch {
		case errors.Is(err, store.ErrNotFound):
			fmt.Fprintf(a.out, "account %s was not in %s\n", name, where)
		case err != nil:
			perr.problems = append(perr.problems, fmt.Sprintf("delete account %s: %v", name, err))
		default:
			fmt.Fprintf(a.out, "deleted account %s from %s\n", name, where)
		}
	}
	if len(perr.problems) > 0 {
		return perr
	}
	return nil
}
