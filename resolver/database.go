package resolver

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/natsauth/natsauth/store"
	"github.com/natsauth/natsauth/store/postgres"
)

// DBResolver keeps account JWTs in PostgreSQL: the walkthrough's database
// resolver, built on natsauth's postgres store (table account_jwts with
// newer-only writes, schema migrations on open, LISTEN/NOTIFY for
// changes). It is a full Resolver — cache, live application of changes
// made by any process sharing the database, and (with Options.SystemConn)
// the $SYS claims protocol — plus the walkthrough's Delete and List.
type DBResolver struct {
	*Resolver
	st store.Store
}

// NewDBResolver connects to the PostgreSQL database named by connString (a
// postgres:// URL or key=value DSN) and migrates its schema. opts (at most
// one) configures the Resolver; its Policy is required for Store: a
// database resolver refuses JWTs not signed by a trusted operator.
func NewDBResolver(connString string, opts ...Options) (*DBResolver, error) {
	var o Options
	switch len(opts) {
	case 0:
	case 1:
		o = opts[0]
	default:
		return nil, errors.New("new database resolver: give at most one Options")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sopts := store.Options{Policy: o.Policy, Logger: o.Logger}
	b, err := postgres.New(ctx, connString, sopts)
	if err != nil {
		return nil, fmt.Errorf("new database resolver: %w", err)
	}
	st := store.Wrap(b, sopts)
	return &DBResolver{Resolver: New(st, o), st: st}, nil
}

// Delete removes the JWT of accountID. Deleting an unknown account is not
// an error. Servers using this database disable the account live.
func (d *DBResolver) Delete(accountID string) error {
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	if err := d.st.Delete(ctx, accountID); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("delete account %s: %w", accountID, err)
	}
	d.forget(accountID)
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
