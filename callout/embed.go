package callout

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/natsauth/natsauth/audit"
	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/callout/userdb"
	"github.com/natsauth/natsauth/node"
)

// PrepareNode readies a node that has not started yet to run the gateway
// inside it (`natsauth serve --callout`): it sets the node's
// default_sentinel, so clients without creds (token, user and password, or
// a client certificate alone) go through the callout, and returns the
// in-process connections for Config.Connect (as an auth user of the
// callout account whose creds are in the home) and Config.SystemConnect
// (as the home's system user). Call it between node.New and node.Start;
// the connections are opened by Service.Start, after the node started.
//
// Set node.Config.DefaultSentinel (Sentinel) as well: node.Reload rebuilds
// the server options from the config file, the flags and the Config, so
// the sentinel survives a reload only there.
func PrepareNode(n *node.Node, h *authority.Home, account string) (connect, system ConnectFunc, err error) {
	sentinel, err := Sentinel(h, account)
	if err != nil {
		return nil, nil, err
	}
	userJWT, seed, err := ServiceCredentials(h, account)
	if err != nil {
		return nil, nil, err
	}
	sysCreds, err := h.SystemUserCreds()
	if err != nil {
		return nil, nil, fmt.Errorf("callout: %w", err)
	}
	opts := n.Options()
	if opts == nil {
		return nil, nil, errors.New("callout: the node has no options (call PrepareNode after node.New)")
	}
	opts.DefaultSentinel = sentinel
	inProc := func(o ...nats.Option) ConnectFunc {
		return func(ctx context.Context) (*nats.Conn, error) {
			srv := n.Server()
			if srv == nil {
				return nil, errors.New("callout: the node has not started")
			}
			return InProcess(srv, o...)(ctx)
		}
	}
	return inProc(nats.UserJWTAndSeed(userJWT, seed), nats.Name("natsauth-callout")),
		inProc(nats.UserCredentials(sysCreds), nats.Name("natsauth-callout-sys")), nil
}

// Embedded is how `natsauth serve --callout` runs the gateway in a node.
type Embedded struct {
	Account   string // the callout account
	RulesFile string
	Users     *userdb.DB // nil: no password users
	Audit     audit.Log
	Logger    *slog.Logger
	Registry  prometheus.Registerer
}

// StartEmbedded starts the gateway inside node n, which must have been
// configured with Sentinel's default sentinel and started. The rules file
// is watched; Service.Reload reloads it on SIGHUP.
func StartEmbedded(ctx context.Context, n *node.Node, h *authority.Home, e Embedded) (*Service, error) {
	connect, system, err := PrepareNode(n, h, e.Account)
	if err != nil {
		return nil, err
	}
	svc, err := New(Config{Home: h, Account: e.Account, RulesFile: e.RulesFile, WatchRules: true, Users: e.Users,
		Connect: connect, SystemConnect: system, Audit: e.Audit, Logger: e.Logger, Registerer: e.Registry})
	if err != nil {
		return nil, err
	}
	if err := svc.Start(ctx); err != nil {
		return nil, err
	}
	return svc, nil
}
