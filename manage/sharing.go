package manage

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/jwt/v2"

	"github.com/natsauth/natsauth/audit"
	"github.com/natsauth/natsauth/authority"
)

// Sharing between accounts: exports, imports, activation tokens and
// cross-account JetStream consumer grants. Each method is one change that
// goes through the pipeline of every change (see run): the authority
// checks everything before anything is written, the changed accounts are
// recorded in the audit log and published, and the method returns once
// the running servers of the home applied them.

// changeAccount runs one change fn of the account named account, records
// it as action with detail and publishes the account.
func (m *Manager) changeAccount(ctx context.Context, action, account, detail string,
	fn func() (*authority.AccountInfo, error)) (*authority.AccountInfo, *Result, error) {
	var acc *authority.AccountInfo
	res, err := m.run(ctx, func(c *change) error {
		before, _ := m.home.Account(account)
		var err error
		if acc, err = fn(); err != nil {
			return err
		}
		c.audit(tokensRedacted(accountEntry(action, before, acc, detail)))
		c.published(*acc)
		return nil
	})
	return acc, res, err
}

// tokensRedacted replaces the activation tokens among an entry's changed
// claims by their ids: an audit entry carries no JWT.
func tokensRedacted(e audit.Entry) audit.Entry {
	for i, ch := range e.Changes {
		if !strings.HasSuffix(ch.Path, ".token") {
			continue
		}
		for _, v := range []*string{&e.Changes[i].Old, &e.Changes[i].New} {
			var tok string
			if json.Unmarshal([]byte(*v), &tok) != nil || tok == "" {
				continue
			}
			id := "unreadable"
			if ac, err := jwt.DecodeActivationClaims(tok); err == nil {
				id = ac.ID
			}
			*v = strconv.Quote("activation token " + id)
		}
	}
	return e
}

// kind is "service" or "stream".
func kind(service bool) string {
	if service {
		return "service"
	}
	return "stream"
}

// AddExport adds an export to an account (authority.Home.AddExport) and
// publishes the account.
func (m *Manager) AddExport(ctx context.Context, account string, s authority.ExportSpec) (*authority.AccountInfo, *Result, error) {
	detail := kind(s.Service) + " " + s.Subject
	if s.Private {
		detail += " (private)"
	}
	return m.changeAccount(ctx, audit.ActionAddExport, account, detail,
		func() (*authority.AccountInfo, error) { return m.home.AddExport(account, s) })
}

// EditExport changes the export of subject of an account
// (authority.Home.EditExport) and publishes the account.
func (m *Manager) EditExport(ctx context.Context, account, subject string, e authority.ExportEdit) (*authority.AccountInfo, *Result, error) {
	return m.changeAccount(ctx, audit.ActionEditExport, account, "export "+subject,
		func() (*authority.AccountInfo, error) { return m.home.EditExport(account, subject, e) })
}

// DeleteExport removes the export of subject from an account and
// publishes it; importers are the accounts of the home that imported it
// and lose it once the servers applied the change.
func (m *Manager) DeleteExport(ctx context.Context, account, subject string) (acc *authority.AccountInfo, importers []string, res *Result, err error) {
	acc, res, err = m.changeAccount(ctx, audit.ActionDeleteExport, account, "export "+subject,
		func() (*authority.AccountInfo, error) {
			a, imp, err := m.home.DeleteExport(account, subject)
			importers = imp
			return a, err
		})
	return acc, importers, res, err
}

// AddImport adds an import to an account (authority.Home.AddImport, which
// checks the export, the activation token and import cycles first) and
// publishes the account.
func (m *Manager) AddImport(ctx context.Context, account string, s authority.ImportSpec) (*authority.AccountInfo, *Result, error) {
	detail := fmt.Sprintf("%s %s from %s", kind(s.Service), s.Subject, s.Account)
	if s.Token != "" {
		detail = "with an activation token"
		tok, _ := jwt.ParseDecoratedJWT([]byte(s.Token))
		if ac, err := jwt.DecodeActivationClaims(tok); err == nil {
			detail = fmt.Sprintf("%s %s from %s with activation token %s", ac.ImportType, ac.ImportSubject,
				firstOf(ac.IssuerAccount, ac.Issuer), ac.ID)
		}
	}
	return m.changeAccount(ctx, audit.ActionAddImport, account, detail,
		func() (*authority.AccountInfo, error) { return m.home.AddImport(account, s) })
}

// DeleteImport removes an account's import of the remote subject (from
// src, a name or public key, when several accounts are imported from) and
// publishes the account.
func (m *Manager) DeleteImport(ctx context.Context, account, subject, src string) (*authority.AccountInfo, *Result, error) {
	return m.changeAccount(ctx, audit.ActionDeleteImport, account, strings.TrimSpace("import "+subject+" "+src),
		func() (*authority.AccountInfo, error) { return m.home.DeleteImport(account, subject, src) })
}

// GenerateActivation signs an activation token of account's private
// export for another account (authority.Home.GenerateActivation). It
// writes nothing to the home and publishes nothing, but it grants access,
// so it is recorded in the audit log (the token's id, never the token).
func (m *Manager) GenerateActivation(ctx context.Context, account string, s authority.ActivationSpec) (*authority.Activation, error) {
	var act *authority.Activation
	_, err := m.run(ctx, func(c *change) error {
		var err error
		if act, err = m.home.GenerateActivation(account, s); err != nil {
			return err
		}
		e := audit.Entry{Action: audit.ActionGenerateActivation, AccountName: account,
			Account: firstOf(act.Claims.IssuerAccount, act.Claims.Issuer), NewJTI: act.Claims.ID, Signer: act.Claims.Issuer,
			Detail: fmt.Sprintf("%s %s for account %s, expires %s", kind(act.Export.IsService()), act.Claims.ImportSubject,
				act.Claims.Subject, expiry(act.Claims.Expires))}
		c.audit(e)
		return nil
	})
	return act, err
}

func firstOf(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func expiry(unix int64) string {
	if unix == 0 {
		return "never"
	}
	return time.Unix(unix, 0).UTC().Format(time.RFC3339)
}

// RevokeActivation revokes the activation tokens account issued to target
// (a name, public key or "*") for its export of subject, issued at or
// before at (now when zero), and publishes the account: servers drop the
// import.
func (m *Manager) RevokeActivation(ctx context.Context, account, subject, target string, at time.Time) (*authority.AccountInfo, *Result, error) {
	if at.IsZero() {
		at = time.Now()
	}
	detail := fmt.Sprintf("export %s for %s: tokens issued at or before %s", subject, target, at.UTC().Format(time.RFC3339))
	return m.changeAccount(ctx, audit.ActionRevokeActivation, account, detail,
		func() (*authority.AccountInfo, error) { return m.home.RevokeActivation(account, subject, target, at) })
}

// UnrevokeActivation removes the revocation of target's activation tokens
// for account's export of subject and publishes the account.
func (m *Manager) UnrevokeActivation(ctx context.Context, account, subject, target string) (*authority.AccountInfo, *Result, error) {
	return m.changeAccount(ctx, audit.ActionUnrevokeActivation, account, "export "+subject+" for "+target,
		func() (*authority.AccountInfo, error) { return m.home.UnrevokeActivation(account, subject, target) })
}

// GrantConsumer gives g.Importer access to a durable consumer of a stream
// of account exporter (authority.Home.GrantConsumer): both accounts change
// in one transaction and are published, the exporter first, so that the
// importer's imports find their exports on the servers.
func (m *Manager) GrantConsumer(ctx context.Context, exporter string, g authority.ConsumerGrant) (*authority.ConsumerShare, *Result, error) {
	return m.consumerChange(ctx, audit.ActionGrantConsumer, exporter, g, m.home.GrantConsumer)
}

// RevokeConsumer undoes GrantConsumer (authority.Home.RevokeConsumer) and
// publishes both accounts, the exporter first.
func (m *Manager) RevokeConsumer(ctx context.Context, exporter string, g authority.ConsumerGrant) (*authority.ConsumerShare, *Result, error) {
	return m.consumerChange(ctx, audit.ActionRevokeConsumer, exporter, g, m.home.RevokeConsumer)
}

func (m *Manager) consumerChange(ctx context.Context, action, exporter string, g authority.ConsumerGrant,
	fn func(string, authority.ConsumerGrant) (*authority.ConsumerShare, error)) (*authority.ConsumerShare, *Result, error) {
	var share *authority.ConsumerShare
	res, err := m.run(ctx, func(c *change) error {
		beforeExp, _ := m.home.Account(exporter)
		beforeImp, _ := m.home.Account(g.Importer)
		var err error
		if share, err = fn(exporter, g); err != nil {
			return err
		}
		push := ""
		if g.DeliverSubject != "" {
			push = ", push to " + g.DeliverSubject
		}
		detail := fmt.Sprintf("consumer %s/%s of %s for %s, API prefix %s%s", g.Stream, g.Consumer, exporter, g.Importer, share.APIPrefix, push)
		c.audit(tokensRedacted(accountEntry(action, beforeExp, share.Exporter, detail)),
			tokensRedacted(accountEntry(action, beforeImp, share.Importer, detail)))
		c.published(*share.Exporter, *share.Importer)
		return nil
	})
	return share, res, err
}

// AddAccountWith creates an account keyed as o says — e.g. for a public
// key whose seed is held elsewhere (authority.Home.AddAccountWith) — and
// publishes it.
func (m *Manager) AddAccountWith(ctx context.Context, name string, e authority.AccountEdit, o authority.AccountIssue) (*authority.AccountInfo, *Result, error) {
	var acc *authority.AccountInfo
	res, err := m.run(ctx, func(c *change) error {
		var err error
		if acc, err = m.home.AddAccountWith(name, e, o); err != nil {
			return err
		}
		detail := describeAccountEdit(e, acc)
		if o.PublicKey != "" {
			detail = strings.TrimPrefix(detail+", public key only: the seed is held elsewhere", ", ")
		}
		c.audit(accountEntry(audit.ActionAddAccount, nil, acc, detail))
		c.published(*acc)
		return nil
	})
	return acc, res, err
}
