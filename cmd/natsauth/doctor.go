package main

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/doctor"
	"github.com/natsauth/natsauth/internal/units"
	"github.com/natsauth/natsauth/manage"
)

func init() { register("", newDoctorCmd) }

func newDoctorCmd(a *app) *cobra.Command {
	var sf sysFlags
	var monitors []string
	var asJSON, fix bool
	var window string
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check the home (and running servers) against NATS security practices",
		Long: `Check the home against the practices the walkthrough recommends, and report each departure
with its severity, the object, why it matters and the command that fixes it:

  high    seeds, creds or TLS keys readable by others; bearer users; a server without TLS or
          without authentication
  medium  users that may publish or subscribe to every subject (">" or no allow list); accounts
          without limits; accounts signed by the operator identity key; expired or soon-expiring
          (--expiry-window) accounts and users; an unfinished key rotation; a monitoring port
          reachable beyond loopback
  low     users without expiry; accounts without a connection limit; users signed by an account
          identity key; the operator identity seed in the keystore; signing keys not required

With --server (and --creds of a system-account user, by default the home's) every server of the
cluster is asked for its /varz over NATS; with --monitor a monitoring URL is read directly.
The exit status is non-zero while a high-severity finding remains (or a server cannot be
checked), so CI can run it; --json prints a machine-readable report.`,
		Example: `  natsauth doctor
  natsauth doctor --server nats://127.0.0.1:4222 --monitor http://127.0.0.1:8222 --json
  natsauth doctor --fix-permissions`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			p := authority.NewProblems("doctor")
			now := time.Now()
			at, err := units.ParseExpiry(window, now)
			if err != nil || !at.After(now) {
				p.Add("--expiry-window %q: give a duration such as 30d", window)
			}
			h, err := a.openHome()
			if err != nil {
				return err
			}
			if err := p.Err(); err != nil {
				return err
			}
			command := "natsauth"
			if a.homeFlag != "" {
				command = doctor.HomeCommand(h.Dir())
			}
			var m *manage.Manager // the stores' manager, open until the report is written
			defer func() {
				if m != nil {
					m.Close()
				}
			}()
			run := doctor.Run{Options: doctor.Options{Now: func() time.Time { return now }, ExpiryWindow: at.Sub(now), Command: command},
				FixPermissions: fix, Monitors: splitList(monitors),
				Stores: func(ctx context.Context) (st []doctor.Store, err error) {
					if m, err = a.manager(); err != nil {
						return nil, err
					}
					return m.DoctorStores(ctx)
				}}
			if sf.server != "" {
				run.Servers = func(ctx context.Context) ([]doctor.SourcedVarz, error) { return doctorViaNATS(ctx, &sf, h) }
			}
			rep, incomplete, err := run.Check(ctx, h)
			if err != nil {
				return err
			}
			if err := a.show(asJSON, rep); err != nil {
				return err
			}
			return rep.Err(incomplete)
		},
	}
	fl := cmd.Flags()
	sf.bind(fl, "check every server of its cluster ($SYS.REQ.SERVER.PING.VARZ)")
	fl.StringArrayVar(&monitors, "monitor", nil, "monitoring URL of a server to check, e.g. http://127.0.0.1:8222 (comma-separated or repeated)")
	fl.BoolVar(&asJSON, "json", false, "print the report as JSON")
	fl.BoolVar(&fix, "fix-permissions", false, "first make seeds, creds and TLS keys 0600 and their directories 0700")
	fl.StringVar(&window, "expiry-window", "30d", "report accounts and users expiring within this long")
	return cmd
}

// doctorViaNATS asks every server for its varz over the system account.
func doctorViaNATS(ctx context.Context, sf *sysFlags, h *authority.Home) ([]doctor.SourcedVarz, error) {
	nc, err := sf.connect(h, "natsauth doctor")
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	return doctor.VarzOverNATS(ctx, nc, sf.gather)
}
