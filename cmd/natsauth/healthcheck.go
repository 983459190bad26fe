package main

import (
	"fmt"
	"time"

	"github.com/natsauth/natsauth/internal/probe"
	"github.com/spf13/cobra"
)

func init() { register("", newHealthcheckCmd) }

// healthcheckFlags are the flags of `natsauth healthcheck`.
type healthcheckFlags struct {
	url     string
	timeout time.Duration
}

// DefaultHealthURL is nats-server's health endpoint on the default
// monitoring port, what the container image's HEALTHCHECK probes.
const DefaultHealthURL = "http://127.0.0.1:8222/healthz"

func newHealthcheckCmd(a *app) *cobra.Command {
	var f healthcheckFlags
	cmd := &cobra.Command{
		Use:   "healthcheck [URL]",
		Short: "Probe a health endpoint: exit 0 when it answers 200, 1 otherwise",
		Long: `GET a health endpoint — nats-server's monitoring /healthz (natsauth serve -m 8222) or the
account server's /healthz — and exit 0 when it answers 200 OK, non-zero with the reason
otherwise. It exists for container health checks: the natsauth image is static and has
no wget or curl.`,
		Example: `  natsauth healthcheck
  natsauth healthcheck http://127.0.0.1:9090/healthz --timeout 2s`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				if cmd.Flags().Changed("url") && args[0] != f.url {
					return fmt.Errorf("healthcheck: give the URL once: %q or --url %q", args[0], f.url)
				}
				f.url = args[0]
			}
			text, err := probe.Health(cmd.Context(), f.url, f.timeout)
			if err == nil {
				fmt.Fprintf(a.out, "healthy: %s %s\n", f.url, text)
			}
			return err
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.url, "url", DefaultHealthURL, "health endpoint to GET")
	fl.DurationVar(&f.timeout, "timeout", 5*time.Second, "give up after this long")
	return cmd
}
