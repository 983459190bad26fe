package callout

import (
	"context"
	"fmt"
	"slices"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/natsauth/natsauth/authority"
)

// SentinelName is the name of the sentinel user.
const SentinelName = "natsauth-callout-sentinel"

// Sentinel returns a user JWT for nats-server's default_sentinel option: a
// bearer user of the callout account that may neither publish nor
// subscribe. A client that connects without a user JWT of its own (with a
// token, a user and password, or only a client certificate) is taken as
// this user, and so goes through the callout. The JWT is no secret: it
// grants nothing by itself.
func Sentinel(h Home, account string) (string, error) {
	k := newKeyring(h, account)
	if err := k.load(); err != nil {
		return "", fmt.Errorf("sentinel: %w", err)
	}
	callout, _, _ := k.snapshot()
	t := k.accounts[callout.Pub]
	ukp, err := nkeys.CreateUser()
	if err != nil {
		return "", fmt.Errorf("sentinel: %w", err)
	}
	upub, _ := ukp.PublicKey()
	uc := jwt.NewUserClaims(upub)
	uc.Name = SentinelName
	uc.BearerToken = true
	uc.Pub.Deny.Add(">")
	uc.Sub.Deny.Add(">")
	if t.viaSK {
		uc.IssuerAccount = callout.Pub
	}
	tok, err := uc.Encode(t.signer)
	if err != nil {
		return "", fmt.Errorf("sentinel: sign: %w", err)
	}
	return tok, nil
}

// ServiceCredentials returns the JWT and seed of a user of the callout
// account that is one of its auth users and whose seed is in the home: the
// user the gateway connects as.
func ServiceCredentials(h *authority.Home, account string) (userJWT, seed string, err error) {
	acc, err := h.Account(account)
	if err != nil {
		return "", "", fmt.Errorf("callout service user: %w", err)
	}
	users, err := h.Users(acc.Name)
	if err != nil {
		return "", "", fmt.Errorf("callout service user: %w", err)
	}
	for _, u := range users {
		if !slices.Contains(acc.Claims.Authorization.AuthUsers, u.Pub) {
			continue
		}
		creds, err := h.Creds(acc.Name, u.Name)
		if err != nil {
			continue
		}
		j, err := jwt.ParseDecoratedJWT(creds)
		if err != nil {
			continue
		}
		kp, err := nkeys.ParseDecoratedNKey(creds)
		if err != nil {
			continue
		}
		s, _ := kp.Seed()
		return j, string(s), nil
	}
	return "", "", fmt.Errorf("callout service user: account %s has no auth user whose creds are in the home "+
		"(natsauth add user -a %s -n callout; natsauth edit authcallout -a %s --auth-user callout)", acc.Name, acc.Name, acc.Name)
}

// InProcess connects to an embedded server in process with the options
// given (credentials, name).
func InProcess(srv *server.Server, opts ...nats.Option) ConnectFunc {
	return func(context.Context) (*nats.Conn, error) {
		o := append([]nats.Option{nats.InProcessServer(srv), nats.MaxReconnects(-1)}, opts...)
		return nats.Connect("", o...)
	}
}

// Dial connects to NATS URLs with the options given.
func Dial(url string, opts ...nats.Option) ConnectFunc {
	return func(context.Context) (*nats.Conn, error) {
		o := append([]nats.Option{nats.MaxReconnects(-1)}, opts...)
		return nats.Connect(url, o...)
	}
}
