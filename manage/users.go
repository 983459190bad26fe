package manage

import (
	"context"
	"time"

	"github.com/natsauth/natsauth/audit"
	"github.com/natsauth/natsauth/authority"
)

// AddUser creates a user of an account, signed and keyed as o says
// (authority.Home.AddUserWith). A user changes no account JWT, so nothing
// is published: servers check the user against the account they run.
func (m *Manager) AddUser(ctx context.Context, account, name string, e authority.UserEdit, o authority.UserIssue) (*authority.UserInfo, error) {
	var u *authority.UserInfo
	_, err := m.run(ctx, func(c *change) error {
		var err error
		if u, err = m.home.AddUserWith(account, name, e, o); err != nil {
			return err
		}
		c.audit(userEntry(audit.ActionAddUser, nil, u, ""))
		return nil
	})
	return u, err
}

// EditUser changes a user's permissions and limits and re-issues its JWT
// and creds (authority.Home.EditUser). reRevoked says the user was revoked
// and its new JWT, issued after the revocation, is accepted again.
func (m *Manager) EditUser(ctx context.Context, account, name string, e authority.UserEdit) (u *authority.UserInfo, reRevoked bool, err error) {
	_, err = m.run(ctx, func(c *change) error {
		before, _ := m.home.User(account, name)
		var err error
		if u, err = m.home.EditUser(account, name, e); err != nil {
			return err
		}
		c.audit(userEntry(audit.ActionEditUser, before, u, ""))
		if acc, err := m.home.Account(account); err == nil && before != nil {
			reRevoked = acc.IsRevoked(before) && !acc.IsRevoked(u)
		}
		return nil
	})
	return u, reRevoked, err
}

// DeleteUser deletes a user's JWT, creds and seed from the home. With
// revoke, its JWTs are revoked first in the same change and the account is
// published, so servers refuse copies of its creds.
func (m *Manager) DeleteUser(ctx context.Context, account, name string, revoke bool) (*Result, error) {
	return m.run(ctx, func(c *change) error {
		before, err := m.home.User(account, name)
		if err != nil {
			return err
		}
		if revoke {
			accBefore, _ := m.home.Account(account)
			acc, err := m.home.RevokeUser(account, name, time.Time{})
			if err != nil {
				return err
			}
			c.audit(revocationEntry(m.home, audit.ActionRevokeUser, accBefore, acc, name, "before deleting the user"))
			c.published(*acc)
		}
		if err := m.home.DeleteUser(account, name); err != nil {
			return err
		}
		c.audit(userEntry(audit.ActionDeleteUser, before, nil, ""))
		return nil
	})
}

// RevokeUser revokes a user's JWTs issued at or before at (now when zero):
// user is a name, a public key or "*" (authority.Home.RevokeUser). The
// account is published; servers close the user's connections.
func (m *Manager) RevokeUser(ctx context.Context, account, user string, at time.Time) (*authority.AccountInfo, *Result, error) {
	if at.IsZero() {
		at = time.Now()
	}
	var acc *authority.AccountInfo
	res, err := m.run(ctx, func(c *change) error {
		before, _ := m.home.Account(account)
		var err error
		if acc, err = m.home.RevokeUser(account, user, at); err != nil {
			return err
		}
		c.audit(revocationEntry(m.home, audit.ActionRevokeUser, before, acc, user,
			"JWTs issued at or before "+at.UTC().Format(time.RFC3339)))
		c.published(*acc)
		return nil
	})
	return acc, res, err
}

// UnrevokeUser removes a user's revocation and publishes the account.
func (m *Manager) UnrevokeUser(ctx context.Context, account, user string) (*authority.AccountInfo, *Result, error) {
	var acc *authority.AccountInfo
	res, err := m.run(ctx, func(c *change) error {
		before, _ := m.home.Account(account)
		var err error
		if acc, err = m.home.UnrevokeUser(account, user); err != nil {
			return err
		}
		c.audit(revocationEntry(m.home, audit.ActionUnrevokeUser, before, acc, user, ""))
		c.published(*acc)
		return nil
	})
	return acc, res, err
}
