package main

import (
	"context"
	"fmt"
	"time"

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

// rotate runs a rotation through the core, with --server's connection
// when given, printing its steps.
func (a *app) rotate(ctx context.Context, f rotateFlags, o manage.RotationOptions, run func(*manage.Manager, manage.RotationOptions) error) error {
	return a.withManager(func(m *manage.Manager) (err error) {
		if f.sys.server != "" {
			if o.Conn, err = m.Connect(f.sys.remote(), f.sys.server, "natsauth rotate"); err != nil {
				return fmt.Errorf("%s: %w", o.Resume, err)
			}
			defer o.Conn.Close()
		}
		o.Key, o.Remote, o.Settle, o.Timeout, o.Gather = f.key, f.sys.remote(), f.settle, f.timeout, f.sys.gather
		o.Say = func(format string, args ...any) { fmt.Fprintf(a.out, format, args...) }
		o.Results = func(r *manage.Result) { r.WriteText(a.out) }
		return run(m, o)
	})
}

func (a *app) rotateAccountKey(ctx context.Context, f rotateFlags, account string, keepOld bool) error {
	h, err := a.openHome()
	if err != nil {
		return err
	}
	if account, err = manage.PickAccount(h, account); err != nil {
		return fmt.Errorf("rotate account-signing-key: %w", err)
	}
	o := manage.RotationOptions{KeepOld: keepOld, Resume: "natsauth rotate account-signing-key -a " + account}
	return a.rotate(ctx, f, o, func(m *manage.Manager, o manage.RotationOptions) error {
		return m.RotateAccountSigningKey(ctx, account, o)
	})
}

func (a *app) rotateOperatorKey(ctx context.Context, f rotateFlags, restarted bool) error {
	o := manage.RotationOptions{ServersRestarted: restarted, Resume: "natsauth rotate operator-signing-key"}
	return a.rotate(ctx, f, o, func(m *manage.Manager, o manage.RotationOptions) error {
		return m.RotateOperatorSigningKey(ctx, o)
	})
}
