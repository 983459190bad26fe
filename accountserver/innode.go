package accountserver

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/natsauth/natsauth/store"
	"github.com/natsauth/natsauth/trust"
)

// ListenInNode serves the account-server API over st, the store of a
// running node of the home in dir that trusts operatorJWT, for `natsauth
// serve --account-server ADDR`, so stock
// URL-resolver servers and nsc/natsauth push and pull can use the node's
// accounts without a second process. POSTs go through the store's
// validation like every other write, and the node applies them live
// through its store watch; pushed activation tokens are kept in the
// home's (ActivationsDir).
//
// It has its own listener rather than routes on the monitoring port: the
// monitoring mux already answers /healthz (for the server, not the
// store), and a separate address lets the two be exposed differently.
// Announcements to other servers are the job of `natsauth account-server
// --nats`; this one announces nothing. Close stops it.
func ListenInNode(ctx context.Context, st store.Store, operatorJWT, dir, addr string, log *slog.Logger) (*Listener, error) {
	policy, err := trust.FromOperatorJWTs(operatorJWT)
	if err != nil {
		return nil, fmt.Errorf("account server: %w", err)
	}
	if log != nil {
		log = log.With("component", "account-server")
	}
	return ListenConfig{Store: st, Addr: addr, ActivationsDir: ActivationsDir(dir),
		Options: Options{OperatorJWT: operatorJWT, Policy: policy, Logger: log}}.Listen(ctx)
}
