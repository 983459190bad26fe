package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/natsauth/natsauth/accountserver"
	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/serving"
	"github.com/natsauth/natsauth/trust"
)

func init() { register("", newAccountServerCmd) }

// accountServerFlags are the flags of `natsauth account-server`.
type accountServerFlags struct {
	listen       string
	tlsCert      string
	tlsKey       string
	tlsCA        string // require client certificates signed by this CA
	natsURL      string
	creds        string
	operatorFile string
	maxBody      int64
	activations  string
}

func newAccountServerCmd(a *app) *cobra.Command {
	var f accountServerFlags
	cmd := &cobra.Command{
		Use:   "account-server",
		Short: "Serve account JWTs over HTTP for nats-server's URL resolver and nsc push/pull",
		Long: `Serve the account JWTs of a store (--store) with the nats-account-server API:
GET/POST /jwt/v1/accounts/<pubkey>, GET /jwt/v1/operator, GET /healthz. Point stock
nats-servers at it with

    resolver: URL(http://HOST:PORT/jwt/v1/accounts/)

and nsc at it with --account-jwt-server-url http://HOST:PORT/jwt/v1. Every POST is
validated against the home's operator like every other write.

With --nats (and --creds of a system-account user, by default the home's), every change
to the store — whichever path made it — is announced on
$SYS.REQ.ACCOUNT.<pubkey>.CLAIMS.UPDATE, so URL-resolver servers apply it live.`,
		Example: `  natsauth account-server --listen 127.0.0.1:9090
  natsauth account-server --store postgres://natsauth@db/natsauth --listen :9090 \
      --tls-cert server.pem --tls-key server-key.pem --nats nats://127.0.0.1:4222`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runAccountServer(cmd.Context(), f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.listen, "listen", "127.0.0.1:9090", "HTTP listen address")
	fl.StringVar(&f.tlsCert, "tls-cert", "", "TLS certificate file (serve https)")
	fl.StringVar(&f.tlsKey, "tls-key", "", "TLS private key file")
	fl.StringVar(&f.tlsCA, "tls-ca", "", "CA file: require client certificates it signed (mutual TLS)")
	fl.StringVar(&f.natsURL, "nats", "", "NATS URL to announce changes on (system account)")
	fl.StringVar(&f.creds, "creds", "", "system-account user creds for --nats (default: the home's system user)")
	fl.StringVar(&f.operatorFile, "operator", "", "operator JWT file to trust (default: the home's operator)")
	fl.Int64Var(&f.maxBody, "max-body", accountserver.DefaultMaxBodyBytes, "largest POST body in bytes")
	fl.StringVar(&f.activations, "activations-dir", "",
		"keep pushed activation tokens in this directory (default: HOME/activations with a home, else in memory)")
	return cmd
}

// operatorTrust returns the operator JWT and trust policy from --operator
// (a JWT or a file holding one) or, by default, from the home, which it
// returns too; form says what --operator takes, for the error without a
// home.
func (a *app) operatorTrust(operator, form string) (string, *trust.Policy, *authority.Home, error) {
	if operator != "" {
		tok, p, err := trust.LoadOperator(operator)
		return tok, p, nil, err
	}
	h, err := a.openHome()
	if err != nil {
		return "", nil, nil, fmt.Errorf("%w (or pass --operator %s)", err, form)
	}
	return h.OperatorJWT(), h.Policy(), h, nil
}

func (a *app) runAccountServer(ctx context.Context, f accountServerFlags) error {
	log := a.logger()
	c := accountserver.ListenConfig{
		Options: accountserver.Options{Logger: log, MaxBodyBytes: f.maxBody},
		Addr:    f.listen, TLSCert: f.tlsCert, TLSKey: f.tlsKey, TLSCA: f.tlsCA,
		NATSURL: f.natsURL, Creds: f.creds, ActivationsDir: f.activations,
	}
	if err := c.Check(); err != nil {
		return err
	}
	opJWT, policy, home, err := a.operatorTrust(f.operatorFile, "FILE")
	if err != nil {
		return fmt.Errorf("account-server: %w", err)
	}
	dir, err := a.home()
	if err != nil {
		return fmt.Errorf("account-server: %w", err)
	}
	c.OperatorJWT, c.Policy = opJWT, policy
	c.StoreURL, _ = serving.PickStore(a.explicitStoreURL(), "", dir)
	if c, err = c.WithHome(home); err != nil {
		return err
	}
	l, err := c.Listen(ctx)
	if err != nil {
		return err
	}
	a.printAccountServer(l)
	return l.Wait(ctx)
}

// printAccountServer says where an account server listens and how stock
// nats-servers use it.
func (a *app) printAccountServer(l *accountserver.Listener) {
	fmt.Fprintf(a.out, "account server listening on %s\nnats-server: resolver: URL(%s)\n", l.URL(), l.URL())
}
