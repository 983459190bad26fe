package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/natsauth/natsauth/claims"
	"github.com/natsauth/natsauth/manage"
)

// remoteFlags are the flags push and pull share: which accounts, where the
// servers are and how to reach them.
type remoteFlags struct {
	account string
	all     bool
	remote  manage.Remote
	asJSON  bool
}

func (f *remoteFlags) bind(fl *pflag.FlagSet, verb string) {
	fl.StringVarP(&f.account, "account", "a", "", "account to "+verb)
	fl.BoolVarP(&f.all, "all", "A", false, verb+" every account of the home")
	fl.StringArrayVar(&f.remote.Servers, "server", nil,
		"NATS URL of a natsauth node or a stock nats-server with a full resolver (repeatable)")
	fl.StringArrayVar(&f.remote.AccountServers, "account-server", nil,
		"account server URL, e.g. http://host:9090 or http://host:9090/jwt/v1 (repeatable)")
	fl.StringVar(&f.remote.Creds, "creds", "", "system-account user creds for --server (default: the home's system user)")
	fl.DurationVar(&f.remote.Wait, "timeout", claims.DefaultWait,
		"how long to gather the answers of every NATS server to each request")
	fl.StringVar(&f.remote.TLSCA, "tls-ca", "", "CA file to verify tls:// and https:// servers")
	fl.BoolVar(&f.asJSON, "json", false, "print the results as JSON")
}

// accounts are the accounts -a / -A name.
func (f *remoteFlags) accounts(verb string) ([]string, error) {
	switch {
	case f.all && f.account != "":
		return nil, fmt.Errorf("%s: give -a ACCOUNT or -A, not both", verb)
	case f.remote.Wait <= 0:
		return nil, fmt.Errorf("%s: --timeout %s: must be positive", verb, f.remote.Wait)
	case f.account != "":
		return []string{f.account}, nil
	}
	return nil, nil
}

// report prints answers as they come (or as JSON at the end).
type report struct {
	manage.Report
	asJSON bool
}

func (a *app) newReport(asJSON bool) *report {
	r := &report{asJSON: asJSON}
	if !asJSON {
		r.OnAnswer = func(ans manage.Answer) { fmt.Fprintln(a.out, ans) }
	}
	return r
}

// finish prints the JSON report (with --json) and returns an error when
// anything failed, so the command exits non-zero.
func (a *app) finish(r *report, verb string) error {
	failed := r.Failures()
	if r.asJSON {
		b, err := json.MarshalIndent(&r.Report, "", "  ")
		if err != nil {
			return fmt.Errorf("%s: encode report: %w", verb, err)
		}
		fmt.Fprintln(a.out, string(b))
	}
	if failed > 0 {
		return fmt.Errorf("%s: %d of %d answers were refusals or failures (see above)", verb, failed, len(r.Answers))
	}
	if !r.asJSON {
		fmt.Fprintf(a.out, "%s: %d answers, all ok\n", verb, len(r.Answers))
	}
	return nil
}
