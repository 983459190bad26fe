package manage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsauth/natsauth/authority"
)

// Names of the walkthrough's operator and account.
const (
	WalkthroughOperator = "MyOperator"
	WalkthroughAccount  = "MyAccount"
)

// WalkthroughUser is one user of the walkthrough with its permissions.
type WalkthroughUser struct {
	Name, About string
	Edit        authority.UserEdit
}

// WalkthroughUsers are the walkthrough's users of MyAccount.
func WalkthroughUsers() []WalkthroughUser {
	one, ttl := 1, 5*time.Second
	return []WalkthroughUser{
		{"alice", "publishes orders.>, receives orders.alice.>, may answer requests",
			authority.UserEdit{AllowPub: []string{"orders.>"}, AllowSub: []string{"orders.alice.>", "_INBOX.>"}, RespMax: &one}},
		{"bob", "publishes and receives inventory.>, but not inventory.delete",
			authority.UserEdit{AllowPubSub: []string{"inventory.>"}, DenyPub: []string{"inventory.delete"}}},
		{"admin", "publishes and receives everything (>)",
			authority.UserEdit{AllowPubSub: []string{">"}}},
		{"responder", "answers requests on orders.status",
			authority.UserEdit{AllowSub: []string{"orders.status"}, RespMax: &one, RespTTL: &ttl}},
	}
}

// WalkthroughLimits are the walkthrough's account limits, with JetStream.
func WalkthroughLimits() authority.AccountEdit {
	return authority.AccountEdit{
		Conns: authority.Int64(1000), Data: authority.Int64(10_000_000_000), Exports: authority.Int64(10),
		Imports: authority.Int64(10), Payload: authority.Int64(1_000_000), Subs: authority.Int64(1000),
		JSMemStorage: authority.Int64(256_000_000), JSDiskStorage: authority.Int64(1_000_000_000),
		JSStreams: authority.Int64(10), JSConsumer: authority.Int64(100),
	}
}

// EnsureWalkthrough creates in cfg.Home whatever is missing of the
// walkthrough's setup — operator MyOperator, account MyAccount with its
// limits, its users with their creds — through the core like any change,
// and reports what it made.
func EnsureWalkthrough(ctx context.Context, cfg Config) (*Manager, []string, error) {
	var made []string
	m, err := Open(cfg)
	if errors.Is(err, authority.ErrNoHome) {
		m, _, err = Init(ctx, cfg, WalkthroughOperator)
		if m == nil {
			return nil, nil, err
		}
		made = append(made, "operator "+WalkthroughOperator+" with system account SYS")
	}
	if err != nil {
		return nil, nil, err
	}
	if _, err := m.home.Account(WalkthroughAccount); errors.Is(err, authority.ErrNotFound) {
		if _, _, err := m.AddAccount(ctx, WalkthroughAccount, WalkthroughLimits()); err != nil {
			return m, made, err
		}
		made = append(made, "account "+WalkthroughAccount)
	}
	for _, u := range WalkthroughUsers() {
		if _, err := m.home.User(WalkthroughAccount, u.Name); err == nil {
			continue
		}
		if _, err := m.AddUser(ctx, WalkthroughAccount, u.Name, u.Edit, authority.UserIssue{}); err != nil {
			return m, made, err
		}
		made = append(made, "user "+u.Name)
	}
	for _, u := range WalkthroughUsers() {
		if _, err := os.Stat(m.home.CredsPath(WalkthroughAccount, u.Name)); err != nil {
			return m, made, fmt.Errorf("creds of %s: %w", u.Name, err)
		}
	}
	return m, made, nil
}

// StartWalkthroughResponder answers requests on orders.status as the
// walkthrough's request-reply server does ("order <id>: shipped"),
// connected to url with the creds of the walkthrough's responder user,
// until the returned function is called.
func StartWalkthroughResponder(url, creds string) (stop func(), err error) {
	nc, err := nats.Connect(url, nats.UserCredentials(creds), nats.Name("natsauth-demo-responder"))
	if err != nil {
		return nil, fmt.Errorf("demo responder: %w", err)
	}
	_, err = nc.Subscribe("orders.status", func(m *nats.Msg) {
		_ = m.Respond([]byte(fmt.Sprintf("order %s: shipped", m.Data)))
	})
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("demo responder: %w", err)
	}
	return nc.Close, nc.Flush()
}
