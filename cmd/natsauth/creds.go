package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/internal/fsx"
)

func init() { register("generate", newGenerateCredsCmd) }

func newGenerateCredsCmd(a *app) *cobra.Command {
	var account, user, output string
	cmd := &cobra.Command{
		Use:   "creds",
		Short: "Print a user's creds file (JWT and seed), or write it with -o",
		Example: `  natsauth generate creds -a MyAccount -n alice > alice.creds
  natsauth generate creds -a MyAccount -n alice -o alice.creds`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p := authority.NewProblems("generate creds")
			if user == "" {
				p.Add("user name is required: give it with -n USER")
			}
			h, acc, err := a.homeAccount(p, account)
			if err != nil {
				return err
			}
			creds, err := h.Creds(acc, user)
			if err != nil {
				return err
			}
			if output == "" {
				if err := fsx.RestrictRegular(a.out); err != nil {
					return fmt.Errorf("generate creds: %w", err)
				}
				_, err := a.out.Write(creds)
				return err
			}
			if err := fsx.WriteFile(output, creds, 0o600); err != nil {
				return fmt.Errorf("generate creds: %w", err)
			}
			fmt.Fprintf(a.errOut, "wrote creds of %s/%s to %s (mode 0600)\n", acc, user, output)
			return nil
		},
	}
	cmd.Flags().StringVarP(&account, "account", "a", "", "account of the user (optional when there is one account besides SYS)")
	cmd.Flags().StringVarP(&user, "name", "n", "", "user name")
	cmd.Flags().StringVarP(&output, "output-file", "o", "", "write the creds to this file (mode 0600) instead of stdout")
	return cmd
}
