package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/natsauth/natsauth/serving"
)

func init() { register("generate", newGenerateConfigCmd) }

type genConfigFlags struct {
	serving.StockConfig
	output string
}

func newGenerateConfigCmd(a *app) *cobra.Command {
	var f genConfigFlags
	cmd := &cobra.Command{
		Use:   "config --resolver full|url|memory",
		Short: "Print a nats-server.conf for a stock nats-server that trusts the home's operator",
		Long: `Print (or write with -o) the operator-mode part of a nats-server.conf for a stock
nats-server: the operator JWT (by path, or inline with --operator-inline), the system
account, and a resolver:

  full    the server keeps account JWTs in --dir; the system account is preloaded, push
          the others with: natsauth push -A --server nats://HOST:4222
  url     the server fetches account JWTs from an account server (--url; natsauth
          account-server, or natsauth serve --account-server)
  memory  every account of the home is preloaded; regenerate and reload after a change

Add listen, cluster, TLS and the rest of the server's configuration as usual.`,
		Example: `  natsauth generate config --resolver full --dir /var/lib/nats/jwt -o nats-server.conf
  natsauth generate config --resolver url --url http://accounts:9090/jwt/v1/accounts/
  natsauth generate config --resolver memory --operator-inline`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.generateConfig(f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.Resolver, "resolver", "", "resolver type: full, url or memory (required)")
	fl.StringVarP(&f.output, "output-file", "o", "", "write the configuration to this file instead of stdout")
	fl.BoolVar(&f.OperatorInline, "operator-inline", false, "put the operator JWT in the file instead of its path in the home")
	fl.StringVar(&f.Dir, "dir", "./jwt", "full resolver: directory of the server's account JWTs")
	fl.StringVar(&f.URL, "url", serving.DefaultResolverURL, "url resolver: the account server's accounts URL")
	fl.BoolVar(&f.AllowDelete, "allow-delete", false, "full resolver: accept operator-signed deletes (natsauth push --prune)")
	return cmd
}

func (a *app) generateConfig(f genConfigFlags) error {
	h, err := a.openHome()
	if err != nil {
		if cerr := f.Check(nil); cerr != nil {
			return cerr
		}
		return err
	}
	if f.output != "" {
		if err := f.WriteFile(h, f.output); err != nil {
			return err
		}
		fmt.Fprintf(a.errOut, "wrote the %s resolver configuration to %s\n", f.Resolver, f.output)
		return nil
	}
	conf, err := f.Render(h)
	if err == nil {
		_, err = a.out.Write([]byte(conf))
	}
	return err
}
