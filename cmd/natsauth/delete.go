package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/manage"
)

func init() {
	register("delete", newDeleteUserCmd)
	register("delete", newDeleteAccountCmd)
}

func newDeleteUserCmd(a *app) *cobra.Command {
	var name, account string
	var revoke bool
	cmd := &cobra.Command{
		Use:   "user [NAME]",
		Short: "Delete a user's JWT, creds and seed from the home",
		Long: `Delete a user's JWT, creds file and seed from the home. A JWT that was copied
elsewhere stays valid until it expires; --revoke also revokes it in the account
(and publishes the account) so servers refuse it.`,
		Example: "  natsauth delete user -a MyAccount -n alice --revoke",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p := authority.NewProblems("delete user")
			name := nameArg(p, "user", args, name)
			return a.change(p, account, func(m *manage.Manager, acc string) (*manage.Result, error) {
				res, err := m.DeleteUser(cmd.Context(), acc, name, revoke)
				if err == nil || res != nil {
					fmt.Fprintf(a.out, "deleted user %s from account %s\n", name, acc)
					if revoke {
						fmt.Fprintf(a.out, "revoked its JWTs in account %s\n", acc)
					} else {
						fmt.Fprintf(a.out, "note: copies of its creds stay valid; revoke them with natsauth revocations add-user -a %s -u <public key>\n", acc)
					}
				}
				return res, err
			})
		},
	}
	cmd.Flags().StringVarP(&name, "name", "n", "", "user name")
	cmd.Flags().StringVarP(&account, "account", "a", "", "account of the user (optional when there is one account besides SYS)")
	cmd.Flags().BoolVarP(&revoke, "revoke", "R", false, "revoke the user's JWTs before deleting it")
	return cmd
}

func newDeleteAccountCmd(a *app) *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:     "account [NAME]",
		Short:   "Delete an account with its users from the home and the account-JWT store",
		Example: "  natsauth delete account -n MyAccount",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p := authority.NewProblems("delete account")
			name := nameArg(p, "account", args, name)
			if err := p.Err(); err != nil {
				return err
			}
			return a.change(p, name, func(m *manage.Manager, _ string) (*manage.Result, error) {
				acc, res, err := m.DeleteAccount(cmd.Context(), name)
				if acc != nil {
					fmt.Fprintf(a.out, "deleted account %s %s and its users\n", acc.Name, acc.Pub)
				}
				return res, err
			})
		},
	}
	cmd.Flags().StringVarP(&name, "name", "n", "", "account name")
	return cmd
}
