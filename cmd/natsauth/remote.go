package main

import (
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
