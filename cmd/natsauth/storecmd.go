package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/natsauth/natsauth/internal/progress"
	"github.com/natsauth/natsauth/manage"
)

func init() {
	register("store", newStoreCopyCmd)
	register("store", newStoreReplaceCmd)
}

func newStoreReplaceCmd(a *app) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "replace (ACCOUNT... | --all)",
		Short: "Write the home's JWT of accounts over the stores' copies, newer or not",
		Long: `Write the home's JWT of each account over what every store the home's servers read
holds, even when the store's copy is newer: the deliberate way out of a poisoned record
(a JWT issued in the future, which makes every later write stale) or of a copy another
tool wrote that the home does not want. Ordinary changes are newer-only and never do this.
natsauth doctor names the accounts whose home and store copies differ.`,
		Example: "  natsauth store replace MyAccount\n  natsauth store replace --all",
		RunE: func(cmd *cobra.Command, args []string) error {
			if all == (len(args) > 0) {
				return fmt.Errorf("store replace: name the accounts, or give --all")
			}
			return a.withManager(func(m *manage.Manager) error {
				replace := func() (*manage.Result, error) { return m.ReplaceInStores(cmd.Context(), args...) }
				if all {
					replace = func() (*manage.Result, error) { return m.ReplaceAllInStores(cmd.Context()) }
				}
				res, err := replace()
				res.WriteText(a.out)
				return err
			})
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "every account of the home")
	return cmd
}

// copyFlags are the flags of `natsauth store copy`.
type copyFlags struct {
	from, to string
	operator string
	json     bool
}

func newStoreCopyCmd(a *app) *cobra.Command {
	var f copyFlags
	cmd := &cobra.Command{
		Use:   "copy --from URL --to URL",
		Short: "Copy every account JWT from one store to another, validating each",
		Long: `Copy every account JWT of one store into another: any two of mem, dir, sqlite,
postgres (and http as a source). Each JWT is validated like every other write — it must be
an account JWT signed by the operator (--operator, by default the home's) or one of its
signing keys — and is written only if it is not older than what the destination holds.

The summary counts what was copied, what the destination already had (unchanged), what was
skipped because the destination holds a newer JWT, and what was refused, with the reason for
each. The exit status is non-zero if any JWT was refused.`,
		Example: `  natsauth store copy --from dir:///var/lib/nats/jwt --to postgres://natsauth@db/natsauth
  natsauth store copy --from sqlite:///srv/natsauth/accounts.db --to dir:///srv/nats/jwt --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runStoreCopy(cmd.Context(), f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.from, "from", "", "store URL to copy from (required)")
	fl.StringVar(&f.to, "to", "", "store URL to copy to (required)")
	fl.StringVar(&f.operator, "operator", "", "operator JWT, or a file holding it, whose keys may sign accounts (default: the home's operator)")
	fl.BoolVar(&f.json, "json", false, "print the summary as JSON")
	_ = cmd.MarkFlagRequired("from")
	_ = cmd.MarkFlagRequired("to")
	return cmd
}

// refusedError makes the process exit non-zero after a copy that refused
// some JWTs.
type refusedError struct{ n int }

func (e refusedError) Error() string {
	return fmt.Sprintf("store copy: %d account jwt(s) refused", e.n)
}

// ExitCode is the process exit status.
func (e refusedError) ExitCode() int { return 1 }

func (a *app) runStoreCopy(ctx context.Context, f copyFlags) error {
	_, policy, _, err := a.operatorTrust(f.operator, "JWT|FILE")
	if err != nil && f.operator != "" {
		err = fmt.Errorf("--operator: %w", err)
	}
	if err != nil {
		return fmt.Errorf("store copy: %w", err)
	}
	bar := progress.New(a.errOut, "copying")
	sum, err := manage.CopyStore(ctx, f.from, f.to, policy, a.logger(), bar.Step)
	bar.Done()
	if err != nil {
		return err
	}
	if err := a.show(f.json, sum); err != nil {
		return err
	}
	if sum.Refused > 0 {
		return refusedError{sum.Refused}
	}
	return nil
}
