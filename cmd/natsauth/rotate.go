package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"github.com/natsauth/natsauth/manage"
)

func init() {
	register("rotate", newRotateAccountKeyCmd)
	register("rotate", newRotateOperatorKeyCmd)
}

// rotateFlags are shared by both rotate commands.
type rotateFlags struct {
	sys     sysFlags
	key     string
	settle  time.Duration
	timeout time.Duration
}

func (f *rotateFlags) bind(cmd *cobra.Command) {
	fl := cmd.Flags()
	f.sys.bind(fl, "check that every server applied each step")
	fl.StringVar(&f.key, "key", "", "the signing key to retire (public key, or role of a scoped account key); default: the only one")
	fl.DurationVar(&f.settle, "settle", 3*time.Second, "without --server: how long to wait for servers to read the store after a publish")
	fl.DurationVar(&f.timeout, "timeout", 30*time.Second, "with --server: how long to wait for every server to apply a step")
}

// pausedError says a rotation stopped between steps and how to resume.
func pausedError(err error, resume string) error {
	return fmt.Errorf("%w\nthe rotation is paused and recorded in the home; fix the problem and run %s again to resume", err, resume)
}

func newRotateAccountKeyCmd(a *app) *cobra.Command {
	var f rotateFlags
	var account string
	var keepOld bool
	cmd := &cobra.Command{
		Use:   "account-signing-key",
		Short: "Replace an account signing key: add a new key, re-issue its users, remove the old key",
		Long: `Replace an account signing key without a moment where a user holding fresh creds is refused:

  1. a new signing key (with the old one's scope) is added beside the old one, and the account
     JWT listing both is published to the store; natsauth waits until the servers apply it
     (with --server it connects a throwaway user signed by the new key to every server of the
     cluster until all accept it; without, it waits --settle);
  2. every user the old key signed is re-signed with the new key (keeping its issued-at time, so
     revocations still apply) and its creds file in the home rewritten;
  3. the old key is removed and its seed deleted, and the account JWT published again: servers
     disconnect connections made with the old creds (clients that re-read their creds file, as
     nats.go's UserCredentials does, reconnect with the new ones) and refuse the old creds.

An account without signing keys moves its users from the identity key to a new signing key (the
identity key stays: it is the account). The rotation is recorded in the home: if a step fails,
run the command again to resume. --keep-old stops after step 2, to hand out re-issued creds
before the old ones stop working; run again to finish.`,
		Example: `  natsauth rotate account-signing-key -a MyAccount --server nats://127.0.0.1:4222
  natsauth rotate account-signing-key -a MyAccount --key service --keep-old`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.rotateAccountKey(cmd.Context(), f, account, keepOld)
		},
	}
	f.bind(cmd)
	cmd.Flags().StringVarP(&account, "account", "a", "", "account whose signing key to rotate (optional when there is one account besides SYS)")
	cmd.Flags().BoolVar(&keepOld, "keep-old", false, "stop before removing the old key (run again to finish)")
	return cmd
}

func newRotateOperatorKeyCmd(a *app) *cobra.Command {
	var f rotateFlags
	var restarted bool
	cmd := &cobra.Command{
		Use:   "operator-signing-key",
		Short: "Replace the operator signing key: add a new key, re-issue the accounts, remove the old key",
		Long: `Replace the operator signing key that signs accounts. Servers read the operator JWT only at
start, so the rotation runs in two invocations with a restart of every server in between:

  first run:  a new operator signing key is added beside the old one and the operator JWT re-signed.
              Restart every server with the new operator JWT (natsauth serve reads it from the home;
              stock nats-servers need the file copied to their operator: setting).
  second run: (with --server natsauth checks that every server trusts the new key; without it, say
              so with --servers-restarted) every account the old key (or the operator identity key)
              signed is re-signed with the new key and published, then the old key is removed from
              the operator JWT and its seed deleted. Restart every server again: until then they still
              trust the old key.

The rotation is recorded in the home; each run resumes where the last stopped.`,
		Example: `  natsauth rotate operator-signing-key
  # restart every server with the new operator JWT, then:
  natsauth rotate operator-signing-key --server nats://127.0.0.1:4222`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.rotateOperatorKey(cmd.Context(), f, restarted)
		},
	}
	f.bind(cmd)
	cmd.Flags().BoolVar(&restarted, "servers-restarted", false, "confirm that every server runs with the new operator JWT (without --server)")
	return cmd
}

// connect connects to --server as a system-account user, or returns nil
// without --server.
func (f rotateFlags) connect(m *manage.Manager) (*nats.Conn, error) {
	if f.sys.server == "" {
		return nil, nil
	}
	return m.Connect(f.sys.remote(), f.sys.server, "natsauth rotate")
}

// await waits until every server accepts (or refuses) the probe's key;
// without a server connection it waits f.settle for them to read the
// store.
func (a *app) await(ctx context.Context, nc *nats.Conn, f rotateFlags, p manage.Probe, accept bool) error {
	if nc == nil {
		fmt.Fprintf(a.out, "  no --server: natsauth cannot see the servers; waiting %s for them to read the store\n", f.settle)
		select {
		case <-time.After(f.settle):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	n, err := manage.AwaitProbe(ctx, nc, f.sys.remote(), p, accept, f.timeout)
	if err != nil {
		return err
	}
	want := map[bool]string{true: "accept", false: "refuse"}[accept]
	fmt.Fprintf(a.out, "  all %d servers %s users signed by %s\n", n, want, p.Key)
	return nil
}

func (a *app) rotateAccountKey(ctx context.Context, f rotateFlags, account string, keepOld bool) error {
	m, err := a.manager()
	if err != nil {
		return err
	}
	defer m.Close()
	h := m.Home()
	if account, err = pickAccount(h, account); err != nil {
		return fmt.Errorf("rotate account-signing-key: %w", err)
	}
	resume := "natsauth rotate account-signing-key -a " + account
	nc, err := f.connect(m)
	if err != nil {
		return fmt.Errorf("rotate account-signing-key: %w", err)
	}
	if nc != nil {
		defer nc.Close()
	}
	r, acc, resumed, res, err := m.BeginAccountKeyRotation(ctx, account, f.key)
	if r == nil {
		return err
	}
	if resumed {
		fmt.Fprintf(a.out, "resuming the rotation of account %s started %s\n", account, r.Started.Format(time.RFC3339))
	}
	what := "signing key " + r.Old
	if r.IdentityKey {
		what = "identity key " + r.Old + " (it stays: it is the account; its users move to the new signing key)"
	}
	fmt.Fprintf(a.out, "step 1/3: account %s lists the new signing key %s beside the %s\n", account, r.New, what)
	a.writeResult(res)
	if err != nil {
		return pausedError(err, resume)
	}
	fresh, err := m.NewProbe(acc, r.New)
	if err != nil {
		return pausedError(err, resume)
	}
	if err := a.await(ctx, nc, f, fresh, true); err != nil {
		return pausedError(err, resume)
	}
	users, err := m.ReissueAccountUsers(ctx, r)
	if err != nil {
		return pausedError(err, resume)
	}
	fmt.Fprintf(a.out, "step 2/3: re-issued %d users signed by the old key\n", len(users))
	for _, u := range users {
		if u.CredsWritten {
			fmt.Fprintf(a.out, "  %-20s creds rewritten: %s\n", u.Name, h.CredsPath(u.Account, u.Name))
		} else {
			fmt.Fprintf(a.out, "  %-20s no seed here: give its holder the new JWT (natsauth describe user -a %s -n %s --raw)\n",
				u.Name, u.Account, u.Name)
		}
	}
	if keepOld {
		fmt.Fprintf(a.out, "the old key stays until you run %s again (--keep-old): hand out the re-issued creds first\n", resume)
		return nil
	}
	var stale manage.Probe
	if !r.IdentityKey {
		// Minted while the old seed is still here: once servers refuse it,
		// they refuse every user the old key signed.
		if stale, err = m.NewProbe(acc, r.Old); err != nil {
			return pausedError(err, resume)
		}
	}
	_, res, err = m.FinishAccountKeyRotation(ctx, r)
	if r.IdentityKey && err == nil {
		fmt.Fprintf(a.out, "step 3/3: the users of %s are signed by %s; the rotation is done\n", account, r.New)
		return nil
	}
	if res == nil {
		return pausedError(err, resume)
	}
	fmt.Fprintf(a.out, "step 3/3: removed the old key %s from account %s and deleted its seed\n", r.Old, account)
	a.writeResult(res)
	if err != nil {
		return err
	}
	if err := a.await(ctx, nc, f, stale, false); err != nil {
		return fmt.Errorf("the rotation is done in the home and the store, but: %w", err)
	}
	fmt.Fprintf(a.out, "done: creds signed by %s are refused from now on\n", r.Old)
	return nil
}

func (a *app) rotateOperatorKey(ctx context.Context, f rotateFlags, restarted bool) error {
	m, err := a.manager()
	if err != nil {
		return err
	}
	defer m.Close()
	h := m.Home()
	const resume = "natsauth rotate operator-signing-key"
	nc, err := f.connect(m)
	if err != nil {
		return fmt.Errorf("rotate operator-signing-key: %w", err)
	}
	if nc != nil {
		defer nc.Close()
	}
	r, resumed, err := m.BeginOperatorKeyRotation(ctx, f.key)
	if err != nil {
		return err
	}
	if !resumed {
		fmt.Fprintf(a.out, "step 1/3: operator %s lists the new signing key %s beside %s\n", h.OperatorName(), r.New, r.Old)
		fmt.Fprintf(a.out, "next: restart every server with the new operator JWT (%s), then run %s again\n"+
			"  (with --server URL natsauth checks that the servers trust the new key; or pass --servers-restarted)\n",
			h.OperatorJWTPath(), resume)
		if nc != nil {
			if missing, n, err := manage.ServersMissingKey(ctx, nc, f.sys.gather, r.New); err == nil {
				fmt.Fprintf(a.out, "  %d of %d servers that answered do not trust the new key yet\n", len(missing), n)
			}
		}
		return nil
	}
	fmt.Fprintf(a.out, "resuming the rotation of operator signing key %s started %s\n", r.Old, r.Started.Format(time.RFC3339))
	switch {
	case nc != nil:
		missing, n, err := manage.ServersMissingKey(ctx, nc, f.sys.gather, r.New)
		if err != nil {
			return pausedError(err, resume)
		}
		if len(missing) > 0 {
			return pausedError(fmt.Errorf("servers %s do not trust the new key %s yet: restart them with the new operator JWT (%s)",
				strings.Join(missing, ", "), r.New, h.OperatorJWTPath()), resume)
		}
		fmt.Fprintf(a.out, "step 2/3: all %d servers that answered trust the new key\n", n)
	case !restarted:
		return pausedError(errors.New("natsauth cannot see the servers: restart every server with the new operator JWT, "+
			"then run again with --servers-restarted, or with --server URL to let natsauth check"), resume)
	default:
		fmt.Fprintf(a.out, "step 2/3: servers restarted with the new operator JWT (--servers-restarted)\n")
	}
	accs, res, err := m.ReissueAccounts(ctx, r)
	for _, acc := range accs {
		fmt.Fprintf(a.out, "  re-signed account %s with %s\n", acc.Name, r.New)
	}
	a.writeResult(res)
	if err != nil {
		return pausedError(err, resume)
	}
	if err := m.FinishOperatorKeyRotation(ctx, r); err != nil {
		return pausedError(err, resume)
	}
	fmt.Fprintf(a.out, "step 3/3: removed %s from the operator and deleted its seed\n", r.Old)
	fmt.Fprintf(a.out, "next: restart every server again with the new operator JWT (%s): until then they still trust %s\n",
		h.OperatorJWTPath(), r.Old)
	return nil
}
