package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/natsauth/natsauth/audit"
	"github.com/natsauth/natsauth/internal/units"
	"github.com/natsauth/natsauth/manage"
)

func init() { register("", newAuditCmd) }

// auditTimeout bounds reading the audit log.
const auditTimeout = 30 * time.Second

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
	q := audit.Query{Account: f.account}
	if f.since != "" {
		t, err := units.ParseSince(f.since, time.Now())
		if err != nil {
			return fmt.Errorf("--since %q: %w", f.since, err)
		}
		q.Since = t
	}
	ctx, cancel := context.WithTimeout(ctx, auditTimeout)
	defer cancel()
	entries, err := a.readAudit(ctx, q)
	if err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	audit.Write(a.out, entries, f.json)
	if !f.json && len(entries) == 0 {
		fmt.Fprintln(a.errOut, "no audit entries")
	}
	return nil
}

// readAudit reads the audit log through the core, or — without a home —
// the one kept with the store named by --store.
func (a *app) readAudit(ctx context.Context, q audit.Query) ([]audit.Entry, error) {
	cfg, err := a.managerConfig()
	if err != nil {
		return nil, err
	}
	return manage.ReadAudit(ctx, cfg, q)
}
