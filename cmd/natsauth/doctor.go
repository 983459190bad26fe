package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/claims"
	"github.com/natsauth/natsauth/doctor"
	"github.com/natsauth/natsauth/internal/units"
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
				command += " --home " + shellArg(h.Dir())
			}
			rep := doctor.Report{Home: h.Dir()}
			if fix {
				if rep.Fixed, err = doctor.FixPermissions(h); err != nil {
					return err
				}
			}
			rep.Findings, err = doctor.CheckHome(h, doctor.Options{Now: func() time.Time { return now },
				ExpiryWindow: at.Sub(now), Command: command})
			if err != nil {
				return err
			}
			p.AddErr(a.doctorStores(ctx, &rep, h, doctor.Options{Now: func() time.Time { return now }, Command: command}))
			var varzs []doctor.SourcedVarz
			if sf.server != "" {
				vs, err := doctorViaNATS(ctx, &sf, h)
				p.AddErr(err)
				varzs = append(varzs, vs...)
			}
			client := &http.Client{Timeout: 5 * time.Second}
			for _, m := range splitList(monitors) {
				v, err := doctor.FetchVarz(ctx, client, m)
				if err != nil {
					p.Add("%v", err)
					continue
				}
				varzs = append(varzs, doctor.SourcedVarz{Source: m, Varz: v})
			}
			rep.AddServers(varzs, command)
			rep.Finish()
			if asJSON {
				enc := json.NewEncoder(a.out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return err
				}
			} else {
				rep.WriteText(a.out)
			}
			if p.Len() > 0 {
				p.SetOp("doctor: could not check everything")
				return p.Err()
			}
			if n := rep.Summary["high"]; n > 0 {
				return fmt.Errorf("doctor: %d high-severity findings", n)
			}
			return nil
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

// doctorStores compares the home with every store its servers read.
func (a *app) doctorStores(ctx context.Context, rep *doctor.Report, h *authority.Home, o doctor.Options) error {
	m, err := a.manager()
	if err != nil {
		return err
	}
	defer m.Close()
	stores, err := m.ServingStores(ctx)
	if err != nil {
		return err
	}
	for _, s := range stores {
		fs, err := doctor.CheckStore(ctx, h, s.Store, o)
		if err != nil {
			return fmt.Errorf("%s: %w", s.URL, err)
		}
		for i := range fs {
			if len(stores) > 1 {
				fs[i].Object += " in " + s.URL
			}
		}
		rep.Findings = append(rep.Findings, fs...)
	}
	return nil
}

// doctorViaNATS asks every server for its varz over the system account.
func doctorViaNATS(ctx context.Context, sf *sysFlags, h *authority.Home) ([]doctor.SourcedVarz, error) {
	nc, err := sf.connect(h, "natsauth doctor")
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	replies, err := claims.Ping(ctx, nc, "VARZ", struct{}{}, sf.gather)
	if err != nil {
		return nil, err
	}
	var out []doctor.SourcedVarz
	for _, r := range replies {
		var v doctor.Varz
		if r.Error != nil || json.Unmarshal(r.Data, &v) != nil {
			return out, fmt.Errorf("server %s did not answer VARZ", r.Label())
		}
		out = append(out, doctor.SourcedVarz{Source: r.Server.ID, Varz: &v})
	}
	return out, nil
}

// shellArg quotes a path for a command line when it needs it.
func shellArg(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"\\$`*?;&|<>()[]{}!#~") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
