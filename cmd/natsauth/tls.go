package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/natsauth/natsauth/authority"

	"github.com/natsauth/natsauth/internal/tlsgen"
)

func init() { register("generate", newGenerateTLSCmd) }

func newGenerateTLSCmd(a *app) *cobra.Command {
	var out string
	var hosts []string
	var days int
	var force bool
	cmd := &cobra.Command{
		Use:   "tls",
		Short: "Generate a development CA, a server certificate and a client certificate for (mutual) TLS",
		Long: `Generate development TLS material, ECDSA P-256, into --out (default HOME/tls):

  ca.pem            the CA certificate that clients and servers trust
  server-cert.pem   server certificate for localhost, 127.0.0.1, ::1 and every --host
  server-key.pem    its private key (0600)
  client-cert.pem   client certificate for mutual TLS (verify: true)
  client-key.pem    its private key (0600)

The CA's private key is discarded once both certificates are signed, so nothing else can
be issued under this CA; run again with --force to make a new set. Use it for development
and tests; production servers should get certificates from your own CA.`,
		Example: `  natsauth generate tls --out ./tls --host nats.internal,10.0.0.5
  natsauth serve --tls-cert tls/server-cert.pem --tls-key tls/server-key.pem
  natsauth serve --tls-cert tls/server-cert.pem --tls-key tls/server-key.pem --tls-ca tls/ca.pem --tls-verify`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p := authority.NewProblems("generate tls")
			hs := splitList(hosts)
			if err := tlsgen.CheckHosts(hs); err != nil {
				p.Add("--host: %v", err)
			}
			if days < 1 {
				p.Add("--days %d: give the number of days the certificates are valid (1 or more)", days)
			}
			dir := out
			if dir == "" {
				h, err := a.home()
				if err != nil {
					p.AddErr(err)
				}
				dir = filepath.Join(h, "tls")
			}
			if err := p.Err(); err != nil {
				return err
			}
			f, err := tlsgen.Generate(dir, tlsgen.Options{Hosts: hs, Validity: time.Duration(days) * 24 * time.Hour, Overwrite: force})
			if err != nil {
				if errors.Is(err, tlsgen.ErrExists) {
					return fmt.Errorf("%w (--force replaces them)", err)
				}
				return err
			}
			f.WriteText(a.out)
			f.WriteWarnings(a.errOut)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&out, "out", "o", "", "directory to write into (created 0700; default HOME/tls)")
	fl.StringArrayVar(&hosts, "host", nil, "extra DNS names or IP addresses for the server certificate (comma-separated or repeated)")
	fl.IntVar(&days, "days", int(tlsgen.DefaultValidity/(24*time.Hour)), "days the certificates are valid")
	fl.BoolVar(&force, "force", false, "replace existing files in the directory")
	return cmd
}
