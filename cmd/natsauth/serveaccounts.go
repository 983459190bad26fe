package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

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
	log := cfg.Logger.With("component", "account-server")
	as := accountserver.New(n.Store(), accountserver.Options{OperatorJWT: cfg.OperatorJWT, Policy: policy, Logger: log})
	if err := as.Start(ctx); err != nil {
		return nil, fmt.Errorf("account server: %w", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		_ = as.Close()
		return nil, fmt.Errorf("account server: listen on %s: %w", addr, err)
	}
	srv := &http.Server{
		Handler:           as,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second, // watch streams extend it per event
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
			log.Error("account server stopped", "err", err)
		}
	}()
	base := fmt.Sprintf("http://%s/jwt/v1/accounts/", ln.Addr())
	log.Info("account server listening", "url", base)
	fmt.Fprintf(a.out, "account server listening on %s\nnats-server: resolver: URL(%s)\n", base, base)
	return func() {
		_ = as.Close() // ends watch streams, which would hold Shutdown
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			_ = srv.Close()
		}
		<-done
	}, nil
}
