package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/natsauth/natsauth/accountserver"
	"github.com/natsauth/natsauth/callout"
	"github.com/natsauth/natsauth/console"
	"github.com/natsauth/natsauth/node"
	"github.com/natsauth/natsauth/store"
)

func init() { register("", newServeCmd) }

// serveFlags are the flags of `natsauth serve`, named like nats-server's.
type serveFlags struct {
	configFile    string
	server        node.ServerFlags
	allowDelete   bool
	accountServer string // listen address of the account-server API; "" for none
	metricsAddr   string // Prometheus /metrics on its own listener; "" for the monitoring port
	callout       callout.InNode
	console       string // listen address of the HTTP API and web console; "" for none
}

func newServeCmd(a *app) *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run nats-server in operator mode with natsauth's resolver",
		Long: `Run the real nats-server, embedded, in operator mode: trusted operator and system
account from the home, account JWTs from the store (SQLite in the home by default),
every change to the store applied live. Flags are nats-server's; -c takes a standard
nats-server.conf, and natsauth supplies operator, resolver and system account unless
the file sets them. SIGHUP reloads the configuration; SIGINT/SIGTERM shut down cleanly.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f.server.MarkGiven(cmd.Flags().Changed)
			return a.serve(cmd.Context(), f)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.configFile, "config", "c", "", "nats-server configuration file")
	fl.StringVarP(&f.server.Host, "addr", "a", "", "client listen host (default 0.0.0.0)")
	fl.IntVarP(&f.server.Port, "port", "p", 0, "client port (default 4222)")
	fl.IntVarP(&f.server.HTTPPort, "http_port", "m", 0, "monitoring port (/varz, /connz, /healthz, ...)")
	fl.BoolVar(&f.server.JetStream, "js", false, "enable JetStream")
	fl.StringVar(&f.server.StoreDir, "sd", "", "JetStream store directory (default HOME/jetstream)")
	fl.StringVarP(&f.server.Name, "name", "n", "", "server name")
	fl.StringVar(&f.server.Cluster, "cluster", "", "cluster listen URL, e.g. nats://127.0.0.1:6222")
	fl.StringVar(&f.server.ClusterName, "cluster_name", "", "cluster name")
	fl.StringVar(&f.server.Routes, "routes", "", "comma-separated routes to solicit, e.g. nats://10.0.0.2:6222")
	fl.StringVar(&f.server.TLSCert, "tls-cert", "", "server certificate file (enables TLS)")
	fl.StringVar(&f.server.TLSKey, "tls-key", "", "server private key file")
	fl.StringVar(&f.server.TLSCA, "tls-ca", "", "CA file to verify client certificates")
	fl.BoolVar(&f.server.TLSVerify, "tls-verify", false, "require and verify client certificates (mutual TLS)")
	fl.BoolVarP(&f.server.Debug, "debug", "D", false, "nats-server debug logging")
	fl.BoolVarP(&f.server.Trace, "trace", "V", false, "nats-server protocol tracing")
	fl.StringVarP(&f.server.LogFile, "log", "l", "", "write nats-server's log to this file")
	fl.BoolVar(&f.allowDelete, "allow-delete", false, "accept operator-signed $SYS.REQ.CLAIMS.DELETE")
	fl.StringVar(&f.metricsAddr, "metrics", "",
		"serve Prometheus /metrics on this address (own listener), e.g. 127.0.0.1:9100; default: on the monitoring port (-m)")
	fl.StringVar(&f.callout.Account, "callout", "",
		"run the identity gateway (auth callout) in this node for this callout account (see natsauth callout)")
	fl.StringVar(&f.callout.Rules, "callout-rules", "", "with --callout: the rules file")
	fl.StringVar(&f.callout.Users, "callout-users", "", "with --callout: password users' store URL (default: the node's store)")
	fl.StringVar(&f.accountServer, "account-server", "",
		"also serve the account-server HTTP API over the node's store on this address (own listener), e.g. 127.0.0.1:9090")
	fl.StringVar(&f.console, "console", "",
		"also serve the HTTP API and web console on this address (own listener, HTTPS with --tls-cert), e.g. 127.0.0.1:8080")
	return cmd
}

// nodeConfig builds the node configuration from the home and flags.
func (a *app) nodeConfig(f serveFlags) (node.Config, error) {
	h, err := a.openHome()
	if err != nil {
		return node.Config{}, err
	}
	cfg, err := node.FromHome(h)
	if err != nil {
		return node.Config{}, err
	}
	cfg.ConfigFile, cfg.Flags = f.configFile, f.server
	cfg.StoreURL = a.explicitStoreURL() // empty: the config file's resolver or the home's SQLite
	cfg.AllowDelete, cfg.MetricsAddr = f.allowDelete, f.metricsAddr
	cfg.Logger = a.logger()
	return cfg, nil
}

func (a *app) serve(ctx context.Context, f serveFlags) error {
	cfg, err := a.nodeConfig(f)
	if err != nil {
		return err
	}
	if err := f.callout.Configure(&cfg); err != nil {
		return err
	}
	n, err := node.New(ctx, cfg)
	if err != nil {
		return err
	}
	defer n.Close()
	if err := n.Start(ctx); err != nil {
		return err
	}
	if f.accountServer != "" {
		l, err := accountserver.ListenInNode(ctx, n.Store(), cfg.OperatorJWT, cfg.Home, f.accountServer, cfg.Logger)
		if err != nil {
			return err
		}
		defer l.Close()
		a.printAccountServer(l)
	}
	reload, stopCallout, err := f.callout.Start(ctx, n, cfg.Home, cfg.Logger)
	if err != nil {
		return err
	}
	defer stopCallout()
	if f.callout.Account != "" {
		fmt.Fprintf(a.out, "identity gateway for account %s running in this node (rules %s)\n", f.callout.Account, f.callout.Rules)
	}
	if f.console != "" { // live state from this node, TLS with its certificate
		m, err := a.manager()
		if err != nil {
			return err
		}
		defer m.Close()
		l, noUsers, err := console.ListenInNode(ctx, m, n, f.console, f.server.TLSCert, f.server.TLSKey, f.server.TLSCA, a.logger())
		if noUsers {
			fmt.Fprintln(a.errOut, "console: there is no console user yet; add one with natsauth console user add NAME --role operator-admin")
		}
		if err != nil {
			return err
		}
		defer l.Close()
		fmt.Fprintf(a.out, "natsauth console on %s\n", l.URL())
	}
	fmt.Fprintf(a.out, "natsauth serving on %s (store %s)\n", n.ClientURL(), store.Redact(n.StoreURL()))
	n.RunUntil(ctx, reload)
	return nil
}
