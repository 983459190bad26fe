package manage

import (
	"context"
	"fmt"

	"github.com/nats-io/jwt/v2"

	"github.com/natsauth/natsauth/audit"
	"github.com/natsauth/natsauth/authority"
)

// OperatorEdit changes the operator JWT.
type OperatorEdit struct {
	// AddSigningKeys adds operator signing keys: a public key, or "" to
	// generate one.
	AddSigningKeys []string
	// RemoveSigningKeys removes operator signing keys.
	RemoveSigningKeys []string
	// RequireSigningKeys, when set, turns strict signing-key use on or off.
	RequireSigningKeys *bool
}

// OperatorResult is what an operator edit did.
type OperatorResult struct {
	Added    []string                // signing keys added
	Removed  []string                // signing keys removed
	Resigned []authority.AccountInfo // accounts re-signed (and published)
}

// EditOperator applies e: keys added, keys removed, then the signing-key
// requirement. Servers read the operator JWT only at start: they must be
// restarted. Accounts re-signed on the way are published.
func (m *Manager) EditOperator(ctx context.Context, e OperatorEdit) (*OperatorResult, *Result, error) {
	out := &OperatorResult{}
	res, err := m.run(ctx, func(c *change) error {
		h := m.home
		for _, k := range e.AddSigningKeys {
			pub, err := h.AddOperatorSigningKey(k)
			if err != nil {
				return err
			}
			out.Added = append(out.Added, pub)
			c.audit(operatorEntry(h, audit.ActionAddSigningKey, "operator signing key "+pub))
		}
		for _, k := range e.RemoveSigningKeys {
			if err := h.RemoveOperatorSigningKey(k); err != nil {
				return err
			}
			out.Removed = append(out.Removed, k)
			c.audit(operatorEntry(h, audit.ActionRemoveSigningKey, "operator signing key "+k))
		}
		if e.RequireSigningKeys != nil {
			accs, err := h.SetRequireSigningKeys(*e.RequireSigningKeys)
			if err != nil {
				return err
			}
			c.audit(operatorEntry(h, audit.ActionEditOperator, fmt.Sprintf("require signing keys: %t", *e.RequireSigningKeys)))
			for i := range accs {
				c.audit(accountEntry(audit.ActionEditAccount, nil, &accs[i], "re-signed with the operator signing key"))
			}
			out.Resigned = accs
			c.published(accs...)
		}
		return nil
	})
	return out, res, err
}

// EditSigningKey scopes an account signing key (authority.Home.
// EditSigningKey) and publishes the account.
func (m *Manager) EditSigningKey(ctx context.Context, account, key string, e authority.SigningKeyEdit) (*authority.AccountInfo, *jwt.UserScope, *Result, error) {
	var acc *authority.AccountInfo
	var scope *jwt.UserScope
	res, err := m.run(ctx, func(c *change) error {
		before, _ := m.home.Account(account)
		var err error
		if acc, scope, err = m.home.EditSigningKey(account, key, e); err != nil {
			return err
		}
		c.audit(accountEntry(audit.ActionEditSigningKey, before, acc, fmt.Sprintf("signing key %s role %q", scope.Key, scope.Role)))
		c.published(*acc)
		return nil
	})
	return acc, scope, res, err
}

// BeginAccountKeyRotation starts (or resumes) replacing an account signing
// key: step 1, the account lists the new key beside the old one and is
// published. resumed says a rotation was already in progress.
func (m *Manager) BeginAccountKeyRotation(ctx context.Context, account, old string) (r *authority.Rotation, acc *authority.AccountInfo, resumed bool, res *Result, err error) {
	res, err = m.run(ctx, func(c *change) error {
		pending, err := m.home.PendingRotation(authority.RotateAccount, account)
		if err != nil {
			return err
		}
		before, _ := m.home.Account(account)
		if r, acc, err = m.home.BeginAccountKeyRotation(account, old); err != nil {
			return err
		}
		resumed = pending != nil
		if !resumed {
			c.audit(accountEntry(audit.ActionRotate, before, acc, fmt.Sprintf("step 1/3: added signing key %s to replace %s", r.New, r.Old)))
		}
		c.published(*acc)
		return nil
	})
	return r, acc, resumed, res, err
}

// ReissueAccountUsers is step 2 of an account key rotation: every user the
// old key signed is re-signed with the new key.
func (m *Manager) ReissueAccountUsers(ctx context.Context, r *authority.Rotation) ([]authority.Reissued, error) {
	var users []authority.Reissued
	_, err := m.run(ctx, func(c *change) error {
		old := map[string]authority.UserInfo{}
		if us, err := m.home.Users(r.Account); err == nil {
			for _, u := range us {
				old[u.Name] = u
			}
		}
		var err error
		if users, err = m.home.ReissueAccountUsers(r); err != nil {
			return err
		}
		for i := range users {
			var prev *authority.UserInfo
			if u, ok := old[users[i].Name]; ok {
				prev = &u
			}
			c.audit(userEntry(audit.ActionRotate, prev, &users[i].UserInfo,
				fmt.Sprintf("step 2/3: re-issued with signing key %s (was %s)", r.New, r.Old)))
		}
		return nil
	})
	return users, err
}

// FinishAccountKeyRotation is step 3: the old key is removed from the
// account, its seed deleted, and the account published.
func (m *Manager) FinishAccountKeyRotation(ctx context.Context, r *authority.Rotation) (*authority.AccountInfo, *Result, error) {
	var acc *authority.AccountInfo
	res, err := m.run(ctx, func(c *change) error {
		before, _ := m.home.Account(r.Account)
		var err error
		if acc, err = m.home.FinishAccountKeyRotation(r); err != nil {
			return err
		}
		c.audit(accountEntry(audit.ActionRotate, before, acc, fmt.Sprintf("step 3/3: removed signing key %s (replaced by %s)", r.Old, r.New)))
		if !r.IdentityKey {
			c.published(*acc)
		}
		return nil
	})
	return acc, res, err
}

// BeginOperatorKeyRotation starts (or resumes) replacing an operator
// signing key: step 1 adds the new key to the operator JWT. resumed says a
// rotation was already in progress (and nothing changed now).
func (m *Manager) BeginOperatorKeyRotation(ctx context.Context, old string) (r *authority.Rotation, resumed bool, err error) {
	_, err = m.run(ctx, func(c *change) error {
		pending, err := m.home.PendingRotation(authority.RotateOperator, "")
		if err != nil {
			return err
		}
		if r, err = m.home.BeginOperatorKeyRotation(old); err != nil {
			return err
		}
		resumed = pending != nil
		if !resumed {
			c.audit(operatorEntry(m.home, audit.ActionRotate, fmt.Sprintf("step 1/3: added operator signing key %s to replace %s", r.New, r.Old)))
		}
		return nil
	})
	return r, resumed, err
}

// ReissueAccounts is step 2 of an operator key rotation: every account the
// old key (or the operator identity key) signed is re-signed with the new
// key and published.
func (m *Manager) ReissueAccounts(ctx context.Context, r *authority.Rotation) ([]authority.AccountInfo, *Result, error) {
	var accs []authority.AccountInfo
	res, err := m.run(ctx, func(c *change) error {
		prev := map[string]authority.AccountInfo{}
		if as, err := m.home.Accounts(); err == nil {
			for _, a := range as {
				prev[a.Name] = a
			}
		}
		var err error
		if accs, err = m.home.ReissueAccounts(r); err != nil {
			return err
		}
		for i := range accs {
			var before *authority.AccountInfo
			was := r.Old
			if p, ok := prev[accs[i].Name]; ok {
				before, was = &p, p.Claims.Issuer
			}
			c.audit(accountEntry(audit.ActionRotate, before, &accs[i],
				fmt.Sprintf("step 2/3: re-signed with operator signing key %s (was %s)", r.New, was)))
		}
		c.published(accs...)
		return nil
	})
	return accs, res, err
}

// FinishOperatorKeyRotation is step 3: the old key leaves the operator JWT
// and its seed is deleted.
func (m *Manager) FinishOperatorKeyRotation(ctx context.Context, r *authority.Rotation) error {
	_, err := m.run(ctx, func(c *change) error {
		if err := m.home.FinishOperatorKeyRotation(r); err != nil {
			return err
		}
		c.audit(operatorEntry(m.home, audit.ActionRotate, fmt.Sprintf("step 3/3: removed operator signing key %s (replaced by %s)", r.Old, r.New)))
		return nil
	})
	return err
}
