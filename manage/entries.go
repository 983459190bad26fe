package manage

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/nats-io/nkeys"

	"github.com/natsauth/natsauth/audit"
	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/internal/jsondiff"
	"github.com/natsauth/natsauth/store"
)

// accountEntry is the audit entry of a change to an account: the new JWT
// of after (nil when deleted) replacing that of before (nil when created).
func accountEntry(action string, before, after *authority.AccountInfo, detail string) audit.Entry {
	e := audit.Entry{Action: action, Detail: detail}
	if after != nil {
		e.Account, e.AccountName = after.Pub, after.Name
		e.NewJTI, e.Signer = after.Claims.ID, after.Claims.Issuer
	}
	if before != nil {
		e.Account, e.AccountName = cmp.Or(e.Account, before.Pub), cmp.Or(e.AccountName, before.Name)
		e.OldJTI = before.Claims.ID
	}
	if before != nil && after != nil {
		e.Changes = claimChanges(before.Claims, after.Claims)
	}
	return e
}

// volatile are the claims that change with every JWT and say nothing about
// what was changed.
var volatile = []string{"iat", "jti", "nbf"}

// claimChanges lists the claims that differ between two JWTs.
func claimChanges(before, after any) []jsondiff.Change {
	ch, err := jsondiff.Diff(before, after, volatile...)
	if err != nil {
		return nil
	}
	return ch
}

// operatorEntry is the audit entry of a change to the operator JWT, which
// the operator identity key signs.
func operatorEntry(h *authority.Home, action, detail string) audit.Entry {
	op := h.Operator()
	return audit.Entry{Action: action, Signer: op.Issuer,
		Detail: strings.TrimSuffix("operator "+h.OperatorName()+" "+op.Subject+": "+detail, ": ")}
}

// userEntry is the audit entry of a change to a user's JWT.
func userEntry(action string, before, after *authority.UserInfo, detail string) audit.Entry {
	e := audit.Entry{Action: action, Detail: detail}
	for _, u := range []*authority.UserInfo{after, before} {
		if u == nil {
			continue
		}
		e.Account, e.AccountName = cmp.Or(e.Account, u.AccountPub), cmp.Or(e.AccountName, u.Account)
		e.User, e.UserName = cmp.Or(e.User, u.Pub), cmp.Or(e.UserName, u.Name)
	}
	if after != nil {
		e.NewJTI, e.Signer = after.Claims.ID, after.Claims.Issuer
	}
	if before != nil {
		e.OldJTI = before.Claims.ID
	}
	if before != nil && after != nil {
		e.Changes = claimChanges(before.Claims, after.Claims)
	}
	return e
}

// revocationEntry is the audit entry of a revocation added or removed: the
// account JWT changes; user is a name, a public key or "*".
func revocationEntry(h *authority.Home, action string, before, after *authority.AccountInfo, user, detail string) audit.Entry {
	e := accountEntry(action, before, after, detail)
	switch {
	case user == "*":
		e.User = "*"
	case nkeys.IsValidPublicUserKey(user):
		e.User = user
	default:
		e.UserName = user
		if acc := cmp.Or(after, before); acc != nil {
			if u, err := h.User(acc.Name, user); err == nil {
				e.User = u.Pub
			}
		}
	}
	return e
}

// AuditQuery selects audit entries; Account may be a name or a public key.
type AuditQuery = audit.Query

// Audit reads the audit log kept with the primary store. An account given
// by name also matches the entries recorded with its public key only (a
// store write of a JWT without a name).
func (m *Manager) Audit(ctx context.Context, q audit.Query) ([]audit.Entry, error) {
	m.mu.Lock()
	log, err := m.auditLog(ctx)
	m.mu.Unlock()
	if err != nil {
		return nil, err
	}
	entries, err := log.Read(ctx, q)
	if err != nil || q.Account == "" || nkeys.IsValidPublicAccountKey(q.Account) {
		return entries, err
	}
	acc, aerr := m.home.Account(q.Account)
	if errors.Is(aerr, authority.ErrNotFound) || aerr != nil {
		return entries, nil
	}
	byKey, err := log.Read(ctx, audit.Query{Since: q.Since, Account: acc.Pub})
	if err != nil {
		return nil, err
	}
	return mergeEntries(entries, byKey), nil
}

// ReadAudit reads the audit log of cfg's home through the core (Audit)
// or — when there is no home — the one kept with the store cfg.Store
// names, so that a store's log can be read where its home is not.
func ReadAudit(ctx context.Context, cfg Config, q audit.Query) ([]audit.Entry, error) {
	m, err := Open(cfg)
	if err == nil {
		defer m.Close()
		return m.Audit(ctx, q)
	}
	if !errors.Is(err, authority.ErrNoHome) || cfg.Store == "" {
		return nil, err
	}
	st, err := store.Open(ctx, cfg.Store, store.Options{Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	log := store.AuditLog(st)
	if log == nil {
		return nil, fmt.Errorf("the store %s keeps no audit log and there is no home", store.Redact(cfg.Store))
	}
	return log.Read(ctx, q)
}

// mergeEntries merges two time-sorted lists, dropping duplicates.
func mergeEntries(a, b []audit.Entry) []audit.Entry {
	seen := map[string]bool{}
	var out []audit.Entry
	for _, e := range append(append([]audit.Entry{}, a...), b...) {
		k, _ := json.Marshal(e)
		if !seen[string(k)] {
			seen[string(k)] = true
			out = append(out, e)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out
}
