package manage

import (
	"context"
	"fmt"
	"strings"

	"github.com/natsauth/natsauth/audit"
	"github.com/natsauth/natsauth/authority"
)

// EditAuthCallout sets an account's external authorization (auth callout)
// as nsc's edit authcallout does (authority.Home.EditAuthCallout) and
// publishes the account.
func (m *Manager) EditAuthCallout(ctx context.Context, account string, e authority.AuthCalloutEdit) (*authority.AccountInfo, *Result, error) {
	var acc *authority.AccountInfo
	res, err := m.run(ctx, func(c *change) error {
		before, _ := m.home.Account(account)
		var err error
		if acc, err = m.home.EditAuthCallout(account, e); err != nil {
			return err
		}
		c.audit(accountEntry(audit.ActionEditAuthCallout, before, acc, authCalloutSummary(acc)))
		c.published(*acc)
		return nil
	})
	return acc, res, err
}

// authCalloutSummary is one line for the audit log.
func authCalloutSummary(acc *authority.AccountInfo) string {
	x := acc.Claims.Authorization
	if !x.IsEnabled() {
		return "disabled"
	}
	s := fmt.Sprintf("auth users %s; allowed accounts %s", strings.Join(x.AuthUsers, ","), strings.Join(x.AllowedAccounts, ","))
	if x.XKey != "" {
		s += "; xkey " + x.XKey
	}
	return s
}

// AuditLog is the audit log kept with the primary store (the home's
// audit.log when it keeps none), for front doors that record changes of
// their own kind (the callout's password users, the console's users).
func (m *Manager) AuditLog(ctx context.Context) (audit.Log, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.auditLog(ctx)
}
