// Package dbresolver is the walkthrough's database resolver: account JWTs
// in PostgreSQL, served to nats-server by a resolver.Resolver. It lives
// apart from package resolver so that programs that do not use PostgreSQL
// do not link its driver.
package dbresolver

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/natsauth/natsauth/resolver"
	"github.com/natsauth/natsauth/store"
	"github.com/natsauth/natsauth/store/postgres"
)

// writeTimeout bounds Delete and List.
const writeTimeout = 10 * time.Second

// DBResolver keeps account JWTs in PostgreSQL, built on natsauth's postgres
// store (table account_jwts with newer-only writes, schema migrations on
// open, LISTEN/NOTIFY for changes). It is a full resolver.Resolver —
// cache, live application of changes made by any process sharing the
// database, and (with Options.SystemConn) the $SYS claims protocol — plus
// the walkthrough's Delete and List.
type DBResolver struct {
	*resolver.Resolver
	st store.Store
}

// New connects to the PostgreSQL database named by connString (a
// postgres:// URL or key=value DSN) and migrates its schema. opts (at most
// one) configures the Resolver; its Policy is required for Store: a
// database resolver refuses JWTs not signed by a trusted operator.
func New(connString string, opts ...resolver.Options) (*DBResolver, error) {
	var o resolver.Options
	switch len(opts) {
	case 0:
	case 1:
		o = opts[0]
	default:
		return nil, errors.New("dbresolver: give at most one Options")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sopts := store.Options{Policy: o.Policy, Logger: o.Logger}
	cfg := postgres.Config{ConnString: connString}
	if u, err := url.Parse(connString); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		if cfg, err = postgres.ParseURL(u); err != nil {
			return nil, fmt.Errorf("dbresolver: %w", err)
		}
	}
	cfg.Logger = o.Logger
	b, err := postgres.New(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("dbresolver: %w", err)
	}
	st := store.Wrap(b, sopts)
	return &DBResolver{Resolver: resolver.New(st, o), st: st}, nil
}

// Delete removes the JWT of accountID. Deleting an unknown account is not
// an error. Servers using this database disable the account live.
func (d *DBResolver) Delete(accountID string) error {
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	if err := d.st.Delete(ctx, accountID); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("delete account %s: %w", accountID, err)
	}
	d.Invalidate(accountID)
	return nil
}

// List returns the public keys of every stored account.
func (d *DBResolver) List() ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	ids, err := d.st.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}
	return ids, nil
}

// Close stops the Resolver and closes the database connections.
// nats-server calls it on shutdown; calling it again is harmless.
func (d *DBResolver) Close() {
	d.Resolver.Close()
	_ = d.st.Close()
}
