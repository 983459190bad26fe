package main

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/natsauth/natsauth/claims"
	"github.com/natsauth/natsauth/declare"
	"github.com/natsauth/natsauth/manage"
)

func init() {
	register("", newExportFileCmd)
	register("", newSchemaCmd)
	register("", newPlanCmd)
	register("", newApplyCmd)
}

// fileFlags are what plan and apply share: the file and what to take of it.
type fileFlags struct {
	file    string
	set     []string
	noUsers bool
	prune   bool
	asJSON  bool
}

func (f *fileFlags) bind(fl *pflag.FlagSet) {
	fl.StringVarP(&f.file, "file", "f", "", "the authority file (YAML; - reads stdin)")
	fl.StringArrayVar(&f.set, "set", nil, "NAME=value sets the variable ${NAME}; path.to.field=value overrides a value (repeatable)")
	fl.BoolVar(&f.noUsers, "no-users", false, "leave users out: the file's are ignored, the home's kept as they are")
	fl.BoolVar(&f.prune, "prune", false, "delete the accounts the file does not name, and revoke and delete the users it does not list")
	fl.BoolVar(&f.asJSON, "json", false, "print the plan as JSON")
}

// load reads the file and starts parsing it.
func (f *fileFlags) load() (declare.Source, error) {
	if f.file == "" {
		return nil, fmt.Errorf("which file? give -f FILE")
	}
	return declare.LoadFile(f.file, os.Stdin, f.set)
}

// withFile loads the file and opens the core for plan and apply.
func (a *app) withFile(f fileFlags, fn func(*manage.Manager, declare.Source) error) error {
	file, err := f.load()
	if err != nil {
		return err
	}
	return a.withManager(func(m *manage.Manager) error { return fn(m, file) })
}

// planExit makes plan exit 2 when the home does not match the file.
type planExit struct{ summary string }

func (e planExit) Error() string { return e.summary + " (exit status 2)" }

// ExitCode is the process exit status: 2, changes to make.
func (e planExit) ExitCode() int { return 2 }

func newExportFileCmd(a *app) *cobra.Command {
	var accounts []string
	var noUsers bool
	var out string
	cmd := &cobra.Command{
		Use:   "export [-a ACCOUNT]... [--no-users] [-o FILE]",
		Short: "Write the home's accounts and users as an authority file for plan and apply",
		Long: `Write the operator's accounts — limits, JetStream, default permissions, signing keys,
exports and imports — and their users with permissions and expiry as an authority file
(YAML; natsauth schema describes it). Never a seed or a creds file: keys whose seed is in
the home are left out, so the file applied to another home gets keys of its own there.`,
		Example: `  natsauth export > authority.yaml
  natsauth export -a MyAccount --no-users -o myaccount.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			h, err := a.openHome()
			if err != nil {
				return err
			}
			text, err := declare.Export(h, declare.ExportOptions{Accounts: accounts, NoUsers: noUsers})
			if err != nil {
				return err
			}
			if out == "" || out == "-" {
				_, err = a.out.Write(text)
				return err
			}
			return os.WriteFile(out, text, 0o600)
		},
	}
	cmd.Flags().StringArrayVarP(&accounts, "account", "a", nil, "account to export (repeatable; default: every account but the system account)")
	cmd.Flags().BoolVar(&noUsers, "no-users", false, "leave users out")
	cmd.Flags().StringVarP(&out, "output", "o", "", "write to this file (0600) instead of stdout")
	return cmd
}

func newSchemaCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of the authority file",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			_, err := a.out.Write(declare.Schema())
			return err
		},
	}
}

func newPlanCmd(a *app) *cobra.Command {
	var f fileFlags
	var remote manage.Remote
	cmd := &cobra.Command{
		Use:   "plan -f FILE [--prune] [--no-users] [--set NAME=value]... [--server URL]... [--json]",
		Short: "Show what apply would change, object by object and field by field",
		Long: `Compare the home with an authority file and show what natsauth apply would create, update
or delete, field by field, and the home's accounts and users the file does not name. It
also compares the JWT of every account of the file with what the stores the home's servers
read hold, and with what the servers given with --server answer (drift). Nothing is
changed. Exit status: 0 when the home matches the file and nothing drifted, 2 when
something would change, 1 on an error (a file with an error is refused whole, with the
line and column of every problem).`,
		Example: `  natsauth plan -f authority.yaml
  natsauth plan -f authority.yaml --set ORDERS_CONNECTIONS=5000 --json
  natsauth plan -f authority.yaml --server nats://127.0.0.1:4222`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.plan(cmd.Context(), f, remote)
		},
	}
	f.bind(cmd.Flags())
	fl := cmd.Flags()
	fl.StringArrayVar(&remote.Servers, "server", nil, "NATS URL of a server whose accounts to compare with the home's (repeatable)")
	fl.StringVar(&remote.Creds, "creds", "", "system-account user creds for --server (default: the home's system user)")
	fl.DurationVar(&remote.Wait, "timeout", claims.DefaultWait, "how long to gather the servers' answers to each lookup")
	fl.StringVar(&remote.TLSCA, "tls-ca", "", "CA file to verify tls:// servers")
	return cmd
}

func (a *app) plan(ctx context.Context, f fileFlags, remote manage.Remote) error {
	return a.withFile(f, func(m *manage.Manager, file declare.Source) error {
		p, err := m.Plan(ctx, file, manage.PlanOptions{NoUsers: f.noUsers, Prune: f.prune, Remote: remote})
		if err != nil {
			return err
		}
		if err := a.show(f.asJSON, p); err != nil {
			return err
		}
		if s := p.Mismatch(); s != "" {
			return planExit{"plan: " + s}
		}
		return nil
	})
}

func newApplyCmd(a *app) *cobra.Command {
	var f fileFlags
	var credsDir string
	cmd := &cobra.Command{
		Use:   "apply -f FILE [--prune] [--no-users] [--set NAME=value]... [--creds-dir DIR]",
		Short: "Make the home match an authority file, all or nothing, and publish the changes",
		Long: `Make the home match an authority file in one change: everything is checked first (a file
with an error is refused whole and nothing is written), then every account and user is
created, updated — or with --prune deleted (users revoked first) — in one transaction,
recorded in the audit log (one entry per object, attributed to the file and its content
hash), published to every store the home's servers read and applied by every running
server, like any change. Without --prune the home's accounts and users the file does not
name are left alone and listed. New accounts, users and signing keys get keys in the
home's keystore; --creds-dir writes the creds of the users created. Applying the same
file twice changes nothing the second time.`,
		Example: `  natsauth apply -f authority.yaml
  natsauth apply -f authority.yaml --prune --creds-dir ./creds
  natsauth apply -f authority.yaml --home /srv/prod --set ORDERS_CONNECTIONS=5000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withFile(f, func(m *manage.Manager, file declare.Source) error {
				out, err := m.Apply(cmd.Context(), file, manage.ApplyOptions{NoUsers: f.noUsers, Prune: f.prune, CredsDir: credsDir})
				if out.Plan != nil {
					if werr := a.show(f.asJSON, out.Plan); werr != nil {
						return werr
					}
				}
				if !f.asJSON {
					out.Result.WriteText(a.out)
					for _, c := range out.Creds {
						fmt.Fprintf(a.out, "wrote creds %s\n", c)
					}
				}
				return err
			})
		},
	}
	f.bind(cmd.Flags())
	cmd.Flags().StringVar(&credsDir, "creds-dir", "", "write the creds of the users created to DIR/<account>/<user>.creds (0600)")
	return cmd
}
