package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/natsauth/natsauth/audit"
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
			p := &problemList{op: "delete user"}
			name := nameArg(p, "user", args, name)
			h, err := a.openHome()
			if err != nil {
				return err
			}
			acc, err := pickAccount(h, account)
			p.addErr(err)
			if len(p.items) == 0 {
				_, err := h.User(acc, name)
				p.addErr(err)
			}
			if err := p.err(); err != nil {
				return err
			}
			before, _ := h.User(acc, name)
			if revoke {
				accBefore, _ := h.Account(acc)
				accAfter, err := h.RevokeUser(acc, name, time.Time{})
				if err != nil {
					return err
				}
				a.audit(cmd.Context(), h, revocationChange(h, audit.ActionRevokeUser, accBefore, accAfter, name, "before deleting the user"))
			}
			if err := h.DeleteUser(acc, name); err != nil {
				return err
			}
			a.audit(cmd.Context(), h, userChange(audit.ActionDeleteUser, before, nil, ""))
			fmt.Fprintf(a.out, "deleted user %s from account %s\n", name, acc)
			if !revoke {
				fmt.Fprintf(a.out, "note: copies of its creds stay valid; revoke them with natsauth revocations add-user -a %s -u <public key>\n", acc)
				return nil
			}
			fmt.Fprintf(a.out, "revoked its JWTs in account %s\n", acc)
			return a.publish(cmd.Context(), h, acc)
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
			p := &problemList{op: "delete account"}
			name := nameArg(p, "account", args, name)
			if err := p.err(); err != nil {
				return err
			}
			h, err := a.openHome()
			if err != nil {
				return err
			}
			acc, err := h.DeleteAccount(name)
			if err != nil {
				return err
			}
			a.audit(cmd.Context(), h, accountChange(audit.ActionDeleteAccount, acc, nil, "with its users"))
			fmt.Fprintf(a.out, "deleted account %s %s and its users\n", acc.Name, acc.Pub)
			return a.unpublish(cmd.Context(), h, map[string]string{acc.Name: acc.Pub})
		},
	}
	cmd.Flags().StringVarP(&name, "name", "n", "", "account name")
	return cmd
}
