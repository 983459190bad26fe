package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/natsauth/natsauth/callout"
	"github.com/natsauth/natsauth/callout/userdb"
	"github.com/natsauth/natsauth/internal/password"
	"github.com/natsauth/natsauth/internal/sighup"
	"github.com/natsauth/natsauth/manage"
)

func init() { register("", newCalloutCmd) }

type calloutFlags struct {
	account, rules, natsURL, creds, sysCreds, users, tlsCA, queue, metrics string
	noSys                                                                  bool
	workers                                                                int
}

func newCalloutCmd(a *app) *cobra.Command {
	var f calloutFlags
	cmd := &cobra.Command{
		Use:   "callout",
		Short: "Run the identity gateway: sign clients in with OIDC tokens, passwords or client certificates",
		Long: `Run natsauth's auth callout service against a NATS server: it answers the server's
authorization requests for the callout account (see 'natsauth edit authcallout') by the
rules in --rules, and issues short-lived users signed by the target account's key from the
home. Several instances share the load in one queue group. SIGHUP (or a change of the
rules file) reloads the rules; a file with an error is refused whole and the rules in force
stay. Clients without creds reach the callout through the server's default_sentinel
('natsauth callout sentinel').`,
		Example: `  natsauth callout -a AUTH --rules rules.yaml --nats nats://127.0.0.1:4222
  natsauth callout check --rules rules.yaml --token "$ID_TOKEN"
  natsauth callout user add alice --group staff < password.txt`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return a.runCallout(cmd.Context(), f) },
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.account, "account", "a", "", "the callout account (default: the home's only account with an auth callout)")
	fl.StringVar(&f.rules, "rules", "", "rules file (YAML)")
	fl.StringVar(&f.natsURL, "nats", "nats://127.0.0.1:4222", "NATS server URL(s), comma-separated")
	fl.StringVar(&f.creds, "creds", "", "creds of an auth user of the callout account (default: one in the home)")
	fl.StringVar(&f.sysCreds, "sys-creds", "", "system account creds, to end revoked connections (default: the home's)")
	fl.BoolVar(&f.noSys, "no-sys", false, "run without a system account connection (revoked identities keep their connections until their JWT expires)")
	fl.StringVar(&f.users, "users", "", "password user database URL (default: the store, when it is sqlite:// or postgres://)")
	fl.StringVar(&f.tlsCA, "tls-ca", "", "CA file to verify the NATS server's certificate")
	fl.StringVar(&f.queue, "queue", callout.DefaultQueueGroup, "queue group shared by instances")
	fl.StringVar(&f.metrics, "metrics", "", "serve Prometheus /metrics on this address, e.g. 127.0.0.1:9095")
	fl.IntVar(&f.workers, "workers", 0, "concurrent decisions (default 4 × CPUs)")
	cmd.AddCommand(newCalloutCheckCmd(a), newCalloutSentinelCmd(a), newCalloutUserCmd(a))
	return cmd
}

// withUsers calls fn with the password users: --users, or the store's
// (nil when the store keeps none); their changes go to the core's audit
// log.
func (a *app) withUsers(ctx context.Context, flag string, fn func(*userdb.DB) error) error {
	return a.withManager(func(m *manage.Manager) error {
		db, err := callout.OpenManagedUsers(ctx, m, flag)
		if err != nil {
			return err
		}
		if db != nil {
			defer db.Close()
		}
		return fn(db)
	})
}

func (a *app) runCallout(ctx context.Context, f calloutFlags) error {
	if f.rules == "" {
		return errors.New("callout: give the rules file with --rules FILE")
	}
	return a.withManager(func(m *manage.Manager) error { return a.standaloneCallout(ctx, f, m) })
}

// standaloneCallout runs the gateway until ctx ends, reloading on SIGHUP.
func (a *app) standaloneCallout(ctx context.Context, f calloutFlags, m *manage.Manager) error {
	svc, account, stop, err := callout.Standalone{Account: f.account, RulesFile: f.rules, UsersURL: f.users,
		Remote:     callout.Remote{URL: f.natsURL, Creds: f.creds, SysCreds: f.sysCreds, NoSys: f.noSys, TLSCA: f.tlsCA},
		QueueGroup: f.queue, Workers: f.workers, Logger: a.logger(), MetricsAddr: f.metrics,
		OnMetricsError: func(err error) { fmt.Fprintf(a.errOut, "natsauth callout: metrics: %v\n", err) }}.Start(ctx, m)
	if err != nil {
		return err
	}
	defer stop()
	fmt.Fprintf(a.out, "natsauth callout: answering for account %s on %s (queue %s)\n", account, f.natsURL, f.queue)
	sighup.Until(ctx, func() {
		if n, err := svc.Reload(); err != nil {
			fmt.Fprintf(a.errOut, "natsauth callout: reload: %v\n", err)
		} else {
			fmt.Fprintf(a.out, "natsauth callout: rules reloaded (%d connections ended)\n", n)
		}
	})
	return nil
}

func newCalloutCheckCmd(a *app) *cobra.Command {
	var (
		rules, users, certFile string
		in                     callout.CheckInput
		asJSON, passwordStdin  bool
	)
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Explain which rule an identity matches and what it would be issued, without connecting",
		Example: `  natsauth callout check --rules rules.yaml --token "$ID_TOKEN"
  natsauth callout check --rules rules.yaml --token "$ID_TOKEN" --no-verify --json
  natsauth callout check --rules rules.yaml --user alice
  natsauth callout check --rules rules.yaml --cert client.pem`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if rules == "" {
				return errors.New("callout check: give the rules file with --rules FILE")
			}
			rs, err := callout.LoadRules(rules)
			if err != nil {
				return err
			}
			if certFile != "" {
				if in.CertPEM, err = os.ReadFile(certFile); err != nil {
					return fmt.Errorf("callout check: %w", err)
				}
			}
			if passwordStdin {
				if in.Password, err = password.ReadSecret(cmd.InOrStdin()); err != nil {
					return fmt.Errorf("callout check: read password: %w", err)
				}
			}
			check := func(db *userdb.DB) error {
				d, err := callout.Check(cmd.Context(), rs, in, db)
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(a.out, d.Report())
				}
				in.WriteNotes(a.out)
				return d.WriteText(a.out)
			}
			if _, err := a.openHome(); err == nil && in.Username != "" {
				return a.withUsers(cmd.Context(), users, check)
			}
			return check(nil)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&rules, "rules", "", "rules file (YAML)")
	fl.StringVar(&in.Token, "token", "", "an OIDC ID or access token")
	fl.BoolVar(&in.NoVerify, "no-verify", false, "take the token's claims without verifying it (offline)")
	fl.StringVar(&in.Username, "user", "", "a password user's name")
	fl.BoolVar(&passwordStdin, "password-stdin", false, "read the user's password from the first line of stdin and check it")
	fl.StringVar(&certFile, "cert", "", "a client certificate (PEM)")
	fl.StringVar(&users, "users", "", "password user database URL (default: the store)")
	fl.BoolVar(&asJSON, "json", false, "print the decision as JSON")
	return cmd
}

func newCalloutSentinelCmd(a *app) *cobra.Command {
	var account, conf string
	cmd := &cobra.Command{
		Use:   "sentinel",
		Short: "Print the default_sentinel user JWT a nats-server.conf needs for clients without creds",
		Long: `Print a bearer user JWT of the callout account that may neither publish nor subscribe.
Put it in a stock nats-server.conf as default_sentinel: clients that connect with a token,
a user and password, or only a client certificate are then taken as this user and go
through the callout. It grants nothing by itself. 'natsauth serve --callout' sets it.`,
		Example: `  natsauth callout sentinel -a AUTH --conf callout.conf     # then: include callout.conf, or serve -c callout.conf
  echo "default_sentinel: $(natsauth callout sentinel -a AUTH)" >> nats-server.conf`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			h, err := a.openHome()
			if err != nil {
				return err
			}
			acc, err := callout.FindAccount(h, account)
			if err != nil {
				return err
			}
			tok, err := callout.Sentinel(h, acc)
			if err != nil {
				return err
			}
			if conf == "" {
				_, err = fmt.Fprintln(a.out, tok)
				return err
			}
			if err := os.WriteFile(conf, []byte(callout.SentinelConf(acc, tok)), 0o600); err != nil {
				return fmt.Errorf("callout sentinel: %w", err)
			}
			fmt.Fprintf(a.out, "wrote default_sentinel for account %s to %s\n", acc, conf)
			return nil
		},
	}
	cmd.Flags().StringVarP(&account, "account", "a", "", "the callout account (default: the home's only account with an auth callout)")
	cmd.Flags().StringVar(&conf, "conf", "", "write a nats-server.conf fragment (default_sentinel: ...) to this file instead of printing the JWT")
	return cmd
}
