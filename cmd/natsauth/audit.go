package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nkeys"
	"github.com/spf13/cobra"

	"github.com/natsauth/natsauth/audit"
	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/store"
)

func init() { register("", newAuditCmd) }

// auditTimeout bounds recording or reading the audit log.
const auditTimeout = 30 * time.Second

// audit records authority changes in the audit log kept with the
// account-JWT store (a table in SQLite and PostgreSQL, audit.log beside a
// dir store; a store that keeps none, such as an account server over HTTP,
// has the home's audit.log instead). The actor — OS user, "cli" and the
// command — comes from the context (set for every command by the root).
//
// Call it after a change to the home succeeded and before publishing it,
// so the change is recorded before the store write it causes:
//
//	a.audit(cmd.Context(), h, accountChange(audit.ActionEditAccount, before, acc, ""))
//
// The change is done whatever happens here, so a failure to record it is
// a warning on stderr, not an error.
func (a *app) audit(ctx context.Context, h *authority.Home, entries ...audit.Entry) {
	if len(entries) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, auditTimeout)
	defer cancel()
	log, closeLog, where, err := a.auditLog(ctx, h)
	if err != nil {
		fmt.Fprintf(a.errOut, "warning: the change is done but was not recorded in the audit log: %v\n", err)
		return
	}
	defer closeLog()
	for _, e := range entries {
		if err := log.Append(ctx, audit.Attribute(ctx, e)); err != nil {
			fmt.Fprintf(a.errOut, "warning: the change is done but was not recorded in the audit log %s: %v\n", where, err)
			return
		}
	}
}

// auditLog opens the audit log of the home's store.
func (a *app) auditLog(ctx context.Context, h *authority.Home) (audit.Log, func(), string, error) {
	u, err := a.storeURL()
	if err != nil {
		return nil, nil, "", err
	}
	opts := store.Options{Logger: a.quietLogger()}
	if h != nil {
		opts.Policy = h.Policy()
	}
	st, err := store.Open(ctx, u, opts)
	if err != nil {
		return nil, nil, "", err
	}
	if log := store.AuditLog(st); log != nil {
		return log, func() { st.Close() }, redactURL(u), nil
	}
	st.Close()
	if h == nil {
		return nil, nil, "", fmt.Errorf("the store %s keeps no audit log and there is no home", redactURL(u))
	}
	p := filepath.Join(h.Dir(), audit.FileName)
	return audit.NewFile(p), func() {}, p, nil
}

// accountChange is the audit entry of a change to an account: the new JWT
// of after (nil when deleted) replacing that of before (nil when created).
func accountChange(action string, before, after *authority.AccountInfo, detail string) audit.Entry {
	e := audit.Entry{Action: action, Detail: detail}
	if after != nil {
		e.Account, e.AccountName = after.Pub, after.Name
		e.NewJTI, e.Signer = after.Claims.ID, after.Claims.Issuer
	}
	if before != nil {
		e.Account, e.AccountName = cmp.Or(e.Account, before.Pub), cmp.Or(e.AccountName, before.Name)
		e.OldJTI = before.Claims.ID
	}
	return e
}

// operatorChange is the audit entry of a change to the operator JWT,
// which the operator identity key signs.
func operatorChange(h *authority.Home, action, detail string) audit.Entry {
	op := h.Operator()
	return audit.Entry{Action: action, Signer: op.Issuer,
		Detail: strings.TrimSuffix("operator "+h.OperatorName()+" "+op.Subject+": "+detail, ": ")}
}

// userChange is the audit entry of a change to a user's JWT.
func userChange(action string, before, after *authority.UserInfo, detail string) audit.Entry {
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
	return e
}

// revocationChange is the audit entry of a revocation added or removed:
// the account JWT changes; user is a name, a public key or "*".
func revocationChange(h *authority.Home, action string, before, after *authority.AccountInfo, user, detail string) audit.Entry {
	e := accountChange(action, before, after, detail)
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

// withActor sets the CLI actor of a command on its context: the OS user,
// "cli" and the command path.
func withActor(cmd *cobra.Command) {
	cmd.SetContext(audit.WithActor(cmd.Context(), audit.Actor{Via: audit.ViaCLI, Command: cmd.CommandPath()}))
}

type auditFlags struct {
	since   string
	account string
	json    bool
}

func newAuditCmd(a *app) *cobra.Command {
	var f auditFlags
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Show the audit log: who changed which account or user, and when",
		Long: `Show the audit log kept with the account-JWT store: every authority change made
with natsauth (init, accounts, users, revocations, signing keys, rotations) and every
write to the store (by the CLI, an HTTP POST to the account server, a push over NATS,
a store copy) — who (OS user, the path it came by, the signing key), what, when, the
account and user, and the old and new JWT ids (jti). SQLite and PostgreSQL keep it in
a table, a dir store in audit.log beside the JWTs; a store that keeps none (an account
server over HTTP) has the home's audit.log.`,
		Example: `  natsauth audit --since 24h
  natsauth audit --account MyAccount --since 2025-01-01 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.showAudit(cmd.Context(), f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.since, "since", "", "only entries since: a duration back from now (30m, 24h, 7d, 2w), yyyy-mm-dd or RFC 3339")
	fl.StringVarP(&f.account, "account", "a", "", "only entries of this account (name or public key)")
	fl.BoolVar(&f.json, "json", false, "print one JSON object per line")
	return cmd
}

func (a *app) showAudit(ctx context.Context, f auditFlags) error {
	var q audit.Query
	if f.since != "" {
		t, err := parseSince(f.since, time.Now())
		if err != nil {
			return fmt.Errorf("--since %q: %w", f.since, err)
		}
		q.Since = t
	}
	q.Account = f.account
	h, err := a.openHome()
	if err != nil && !errors.Is(err, authority.ErrNoHome) {
		return err
	}
	if err == nil && f.account != "" && !nkeys.IsValidPublicAccountKey(f.account) {
		// A name: match its key too, so store writes recorded by key
		// (a JWT without a name) are found.
		if acc, err := h.Account(f.account); err == nil {
			q.Account = acc.Pub
		}
	}
	ctx, cancel := context.WithTimeout(ctx, auditTimeout)
	defer cancel()
	log, closeLog, _, err := a.auditLog(ctx, h)
	if err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	defer closeLog()
	entries, err := log.Read(ctx, q)
	if err != nil {
		return err
	}
	if q.Account != f.account {
		// Also the entries that name the account without its key.
		byName, err := log.Read(ctx, audit.Query{Since: q.Since, Account: f.account})
		if err != nil {
			return err
		}
		entries = mergeEntries(entries, byName)
	}
	for _, e := range entries {
		if f.json {
			b, _ := json.Marshal(e)
			fmt.Fprintf(a.out, "%s\n", b)
			continue
		}
		fmt.Fprintln(a.out, e.String())
	}
	if !f.json && len(entries) == 0 {
		fmt.Fprintln(a.errOut, "no audit entries")
	}
	return nil
}

// mergeEntries merges two time-sorted lists, dropping duplicates.
func mergeEntries(a, b []audit.Entry) []audit.Entry {
	seen := map[string]bool{}
	key := func(e audit.Entry) string { b, _ := json.Marshal(e); return string(b) }
	var out []audit.Entry
	for _, e := range append(append([]audit.Entry{}, a...), b...) {
		if k := key(e); !seen[k] {
			seen[k] = true
			out = append(out, e)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out
}

var sinceRe = regexp.MustCompile(`^(\d+)([smhdw])$`)

// maxSince is how far back --since may reach.
const maxSince = 100 * 365 * 24 * time.Hour

// parseSince reads --since: a duration back from now (30m, 24h, 7d, 2w,
// or any Go duration), a date (yyyy-mm-dd, local time) or RFC 3339.
func parseSince(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if m := sinceRe.FindStringSubmatch(s); m != nil {
		unit := map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour, "w": 7 * 24 * time.Hour}[m[2]]
		n, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil || n > int64(maxSince/unit) {
			return time.Time{}, errors.New("too far back (100 years at most)")
		}
		return now.Add(-time.Duration(n) * unit), nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	if t, err := time.ParseInLocation("2006-01-02", s, time.Local); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, errors.New("want a duration back from now (24h, 7d), yyyy-mm-dd or RFC 3339")
}
