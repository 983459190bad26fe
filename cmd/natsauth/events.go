package main

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"github.com/natsauth/natsauth/sysevents"
)

func init() { register("", newEventsCmd) }

type eventsFlags struct {
	server          string
	creds           string
	tlsCA           string
	tlsCert, tlsKey string
	json            bool
}

func newEventsCmd(a *app) *cobra.Command {
	var f eventsFlags
	cmd := &cobra.Command{
		Use:   "events",
		Short: "Follow a server's connect, disconnect and authentication-error events live",
		Long: `Follow the system events of running servers, one line per event, until interrupted:
client connects, disconnects with the reason the server gives, and refused connects
(authentication errors) with the server's reason and natsauth's explanation of it
(expired, revoked, bad_signature, unknown_account, ...), worked out from the user JWT
the client presented and the account's current JWT. Keys are printed, never a JWT or
a seed. It connects as a system-account user: the home's sys user by default.`,
		Example: `  natsauth events
  natsauth events --server nats://10.0.0.5:4222 --creds SYS.creds --json | jq .`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.events(cmd.Context(), f)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.server, "server", "s", nats.DefaultURL, "NATS URL of a running server")
	fl.StringVar(&f.creds, "creds", "", "creds of a system-account user (default: the home's sys user)")
	fl.StringVar(&f.tlsCA, "tls-ca", "", "CA file that signed the server's certificate (TLS)")
	fl.StringVar(&f.tlsCert, "tls-cert", "", "client certificate for mutual TLS")
	fl.StringVar(&f.tlsKey, "tls-key", "", "client key for mutual TLS")
	fl.BoolVar(&f.json, "json", false, "print one JSON object per line")
	return cmd
}

func (a *app) events(ctx context.Context, f eventsFlags) error {
	credsPath := f.creds
	if credsPath == "" {
		h, err := a.openHome()
		if err != nil {
			return fmt.Errorf("%w (or pass --creds of a system-account user)", err)
		}
		if credsPath, err = h.SystemUserCreds(); err != nil {
			return fmt.Errorf("%w (pass --creds of a system-account user)", err)
		}
	}
	return sysevents.Watch{URL: f.server, Creds: credsPath, Out: a.out, Status: a.errOut, JSON: f.json,
		Dial: sysevents.DialOptions{Name: "natsauth events", TLSCA: f.tlsCA, TLSCert: f.tlsCert, TLSKey: f.tlsKey}}.Run(ctx)
}
