package main

import (
	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/internal/flagspec"
	"github.com/natsauth/natsauth/manage"
)

// Usages shared by several commands.
const (
	expiryUsage = "valid until: 0 (never), yyyy-mm-dd, or a number with m(inutes) h(ours) d(ays) w(eeks) M(onths) y(ears), e.g. 30d"
	startUsage  = "valid from: 0 (now), yyyy-mm-dd, or a number with m h d w M y, e.g. 1h"
	acctUsage   = "account (optional when there is one account besides SYS)"
)

// permSpecs are the permission flags of a user, a signing key's template
// or an account's default permissions, named as nsc's; who says whose.
func permSpecs(e *authority.PermissionEdit, who string, edit bool) []flagspec.Spec {
	s := []flagspec.Spec{
		flagspec.S("allow-pub", "add subjects "+who+" may publish to", 'l', flagspec.List(&e.AllowPub)),
		flagspec.S("allow-sub", "add subjects "+who+` may subscribe to; "subject queue" for a queue group`, 'l', flagspec.List(&e.AllowSub)),
		flagspec.S("allow-pubsub", "add subjects "+who+" may publish and subscribe to", 'l', flagspec.List(&e.AllowPubSub)),
		flagspec.S("deny-pub", "add subjects "+who+" may not publish to", 'l', flagspec.List(&e.DenyPub)),
		flagspec.S("deny-sub", "add subjects "+who+" may not subscribe to", 'l', flagspec.List(&e.DenySub)),
		flagspec.S("deny-pubsub", "add subjects "+who+" may neither publish nor subscribe to", 'l', flagspec.List(&e.DenyPubSub)),
		flagspec.S("allow-pub-response", "allow "+who+" to publish responses to received requests [=N per request, -1 unlimited]", '1', flagspec.To(&e.RespMax, flagspec.Int)),
		flagspec.S("response-ttl", "how long a response may be sent after the request, e.g. 5s", 's', flagspec.To(&e.RespTTL, flagspec.Duration)),
	}
	if edit {
		s = append(s, flagspec.S("rm", "remove subjects from every allow and deny list", 'l', flagspec.List(&e.Remove)),
			flagspec.S("rm-response-perms", "remove the response permission", 'b', flagspec.Value(&e.RemoveResp, flagspec.Bool)))
	}
	return s
}

// change runs one change through the core: it reports every problem in p
// (and a missing or ambiguous -a account), else calls fn with the account
// -a names, writes where the change went, and returns fn's error (a
// *manage.PublishError exits 1). fn prints what changed.
func (a *app) change(p *authority.Problems, account string, fn func(m *manage.Manager, account string) (*manage.Result, error)) error {
	m, err := a.manager()
	if err != nil {
		return err
	}
	defer m.Close()
	account, err = pickAccount(m.Home(), account)
	p.AddErr(err)
	if err := p.Err(); err != nil {
		return err
	}
	res, err := fn(m, account)
	a.writeResult(res)
	return err
}
