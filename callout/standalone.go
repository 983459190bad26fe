package callout

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/natsauth/natsauth/audit"
	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/callout/userdb"
)

// FindAccount picks the callout account: name when given, else the home's
// only account with an auth callout configured.
func FindAccount(h *authority.Home, name string) (string, error) {
	if name != "" {
		return name, nil
	}
	accs, err := h.Accounts()
	if err != nil {
		return "", err
	}
	var found []string
	for _, acc := range accs {
		if acc.Claims.Authorization.IsEnabled() {
			found = append(found, acc.Name)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return "", errors.New("no account has an auth callout: natsauth edit authcallout -a ACCOUNT --auth-user USER --allowed-account ACCOUNT")
	}
	return "", fmt.Errorf("several accounts have an auth callout (%s): pick one with -a", strings.Join(found, ", "))
}

// OpenUsers opens the password users kept with the store at url, with
// their changes audited to log. When explicit is false (url is the account
// store, not one the user named) a store that keeps no password users
// (userdb.ErrUnsupported) is no error: nil, nil.
func OpenUsers(ctx context.Context, url string, explicit bool, log audit.Log) (*userdb.DB, error) {
	db, err := userdb.Open(ctx, url, userdb.Options{Audit: log})
	if errors.Is(err, userdb.ErrUnsupported) && !explicit {
		return nil, nil
	}
	return db, err
}

// Remote says how a gateway outside the servers reaches them.
type Remote struct {
	URL      string // NATS server URL(s), comma-separated
	Creds    string // an auth user's creds; empty: one of the home's
	SysCreds string // a system user's creds; empty: the home's
	NoSys    bool   // no system connection (revoked identities keep their connections until their JWT expires)
	TLSCA    string // CA of the servers' certificates
}

// Connects returns Config.Connect and Config.SystemConnect for r.
func (r Remote) Connects(h *authority.Home, account string) (connect, system ConnectFunc, err error) {
	var opts []nats.Option
	if r.TLSCA != "" {
		opts = append(opts, nats.RootCAs(r.TLSCA))
	}
	svc := nats.UserCredentials(r.Creds)
	if r.Creds == "" {
		j, seed, err := ServiceCredentials(h, account)
		if err != nil {
			return nil, nil, err
		}
		svc = nats.UserJWTAndSeed(j, seed)
	}
	connect = Dial(r.URL, append(opts, svc, nats.Name("natsauth-callout"))...)
	if r.NoSys {
		return connect, nil, nil
	}
	sys := r.SysCreds
	if sys == "" {
		if sys, err = h.SystemUserCreds(); err != nil {
			return nil, nil, fmt.Errorf("callout: %w (give the system user's creds, or run without)", err)
		}
	}
	return connect, Dial(r.URL, append(opts, nats.UserCredentials(sys), nats.Name("natsauth-callout-sys"))...), nil
}

// SentinelConf is a nats-server.conf fragment giving the callout account's
// default sentinel.
func SentinelConf(account, sentinel string) string {
	return fmt.Sprintf("# Written by natsauth callout sentinel: clients without creds go through the auth callout of %s.\ndefault_sentinel: %q\n",
		account, sentinel)
}
