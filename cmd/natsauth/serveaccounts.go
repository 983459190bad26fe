package main

import (
	"context"
	"fmt"

	"github.com/natsauth/natsauth/accountserver"
	"github.com/natsauth/natsauth/node"
	"github.com/natsauth/natsauth/trust"
)

// serveAccountServer serves the account-server API over the node's store
// for `natsauth serve --account-server ADDR`, so stock URL-resolver servers
// and nsc/natsauth push and pull can use the node's accounts without a
// second process. POSTs go through the store's validation like every
// other write, and the node applies them live through its store watch.
//
// It has its own listener rather than routes on the monitoring port: the
// monitoring mux already answers /healthz (for the server, not the
// store), and a separate address lets the two be exposed differently.
// Announcements to other servers are the job of `natsauth account-server
// --nats`; this one announces nothing. The returned function stops it.
func (a *app) serveAccountServer(ctx context.Context, n *node.Node, cfg node.Config, addr string) (func(), error) {
	policy, err := trust.FromOperatorJWTs(cfg.OperatorJWT)
	if err != nil {
		return nil, fmt.Errorf("account server: %w", err)
	}
	l, err := accountserver.ListenConfig{Store: n.Store(), Addr: addr, ActivationsDir: accountserver.ActivationsDir(cfg.Home),
		Options: accountserver.Options{OperatorJWT: cfg.OperatorJWT, Policy: policy, Logger: cfg.Logger.With("component", "account-server")}}.Listen(ctx)
	if err != nil {
		return nil, err
	}
	a.printAccountServer(l)
	return func() { _ = l.Close() }, nil
}
