package manage

import (
	"context"
	"fmt"
	"strings"

	"github.com/nats-io/jwt/v2"

	"github.com/natsauth/natsauth/audit"
	"github.com/natsauth/natsauth/authority"
)

// Init creates a home in cfg.Home with a new operator (see authority.Init),
// records it and publishes the system account.
func Init(ctx context.Context, cfg Config, operatorName string) (*Manager, *Result, error) {
	h, err := authority.Init(cfg.Home, operatorName)
	if err != nil {
		return nil, nil, err
	}
	m := newManager(cfg, h)
	res, err := m.run(ctx, func(c *change) error {
		sys, err := h.AccountByPub(h.SystemAccount())
		if err != nil {
			return err
		}
		c.audit(accountEntry(audit.ActionInit, nil, sys, fmt.Sprintf("operator %s %s", h.OperatorName(), h.Operator().Subject)))
		c.published(*sys)
		return nil
	})
	return m, res, err
}

// AddAccount creates an account (authority.Home.AddAccount) and publishes it.
func (m *Manager) AddAccount(ctx context.Context, name string, e authority.AccountEdit) (*authority.AccountInfo, *Result, error) {
	var acc *authority.AccountInfo
	res, err := m.run(ctx, func(c *change) error {
		var err error
		if acc, err = m.home.AddAccount(name, e); err != nil {
			return err
		}
		c.audit(accountEntry(audit.ActionAddAccount, nil, acc, describeAccountEdit(e, acc)))
		c.published(*acc)
		return nil
	})
	return acc, res, err
}

// EditAccount changes an account's limits and signing keys in one JWT
// (authority.Home.EditAccount) and publishes it.
func (m *Manager) EditAccount(ctx context.Context, name string, e authority.AccountEdit) (*authority.AccountInfo, *Result, error) {
	var acc *authority.AccountInfo
	res, err := m.run(ctx, func(c *change) error {
		before, _ := m.home.Account(name)
		var err error
		if acc, err = m.home.EditAccount(name, e); err != nil {
			return err
		}
		action := audit.ActionEditAccount
		if e.LimitsZero() && len(e.RemoveSigningKeys) == 0 {
			action = audit.ActionAddSigningKey
		} else if e.LimitsZero() && len(e.AddSigningKeys) == 0 {
			action = audit.ActionRemoveSigningKey
		}
		c.audit(accountEntry(action, before, acc, describeAccountEdit(e, acc)))
		c.published(*acc)
		return nil
	})
	return acc, res, err
}

// describeAccountEdit says what an account edit set, for the audit log.
func describeAccountEdit(e authority.AccountEdit, after *authority.AccountInfo) string {
	parts := e.Changes()
	for _, k := range e.RemoveSigningKeys {
		parts = append(parts, "removed signing key "+k)
	}
	if n := len(e.AddSigningKeys); n > 0 && after != nil {
		parts = append(parts, fmt.Sprintf("%d signing key(s) added, now %s", n,
			strings.Join(after.Claims.SigningKeys.Keys(), ", ")))
	}
	return strings.Join(parts, ", ")
}

// DeleteAccount deletes an account with its users from the home and
// removes it from every store the home's servers read.
func (m *Manager) DeleteAccount(ctx context.Context, name string) (*authority.AccountInfo, *Result, error) {
	var acc *authority.AccountInfo
	res, err := m.run(ctx, func(c *change) error {
		var err error
		if acc, err = m.home.DeleteAccount(name); err != nil {
			return err
		}
		c.audit(accountEntry(audit.ActionDeleteAccount, acc, nil, "with its users"))
		c.unpublish = append(c.unpublish, *acc)
		return nil
	})
	return acc, res, err
}

// ImportAccountJWT replaces the home's copy of an account with a newer JWT
// fetched from elsewhere (authority.Home.ImportAccountJWT), records where it
// came from and publishes it. changed is false when the home already held
// that JWT.
func (m *Manager) ImportAccountJWT(ctx context.Context, token, source string) (acc *authority.AccountInfo, changed bool, res *Result, err error) {
	res, err = m.run(ctx, func(c *change) error {
		var before *authority.AccountInfo
		if ac, err := jwt.DecodeAccountClaims(token); err == nil {
			before, _ = m.home.AccountByPub(ac.Subject)
		}
		var err error
		if acc, changed, err = m.home.ImportAccountJWT(token); err != nil || !changed {
			return err
		}
		c.audit(accountEntry(audit.ActionPullAccount, before, acc, "from "+source))
		c.published(*acc)
		return nil
	})
	return acc, changed, res, err
}

// Publish publishes the home's current JWTs of the named accounts (every
// account when none is named) to every store the home's servers read, and
// waits for the running servers — as every change does. It changes
// nothing in the home.
func (m *Manager) Publish(ctx context.Context, names ...string) (*Result, error) {
	return m.run(ctx, func(c *change) error {
		if len(names) == 0 {
			accs, err := m.home.Accounts()
			if err != nil {
				return err
			}
			c.published(accs...)
			return nil
		}
		for _, n := range names {
			acc, err := m.home.Account(n)
			if err != nil {
				return err
			}
			c.published(*acc)
		}
		return nil
	})
}

// ReplaceInStores writes the home's JWTs of the named accounts over
// whatever every store the home's servers read holds, newer or not — the
// deliberate way out of a poisoned record (a JWT from the future, a wrong
// copy written by another tool) that newer-only writes can never replace.
func (m *Manager) ReplaceInStores(ctx context.Context, names ...string) (*Result, error) {
	return m.replaceInStores(ctx, func() ([]string, error) { return names, nil })
}

// ReplaceAllInStores is ReplaceInStores for every account of the home,
// listed under the change lock, so an account added meanwhile is not
// missed.
func (m *Manager) ReplaceAllInStores(ctx context.Context) (*Result, error) {
	return m.replaceInStores(ctx, func() ([]string, error) {
		accs, err := m.home.Accounts()
		names := make([]string, len(accs))
		for i, acc := range accs {
			names[i] = acc.Name
		}
		return names, err
	})
}

func (m *Manager) replaceInStores(ctx context.Context, list func() ([]string, error)) (*Result, error) {
	return m.run(ctx, func(c *change) error {
		names, err := list()
		if err != nil {
			return err
		}
		for _, n := range names {
			acc, err := m.home.Account(n)
			if err != nil {
				return err
			}
			c.published(*acc)
			c.audit(accountEntry(audit.ActionStoreReplace, nil, acc, "the home's JWT written over the stores' copies"))
		}
		c.replace = true
		return nil
	})
}
