package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/describe"
	"github.com/natsauth/natsauth/manage"
)

func init() { register("edit", newEditAuthCalloutCmd) }

func newEditAuthCalloutCmd(a *app) *cobra.Command {
	var (
		account string
		e       authority.AuthCalloutEdit
	)
	cmd := &cobra.Command{
		Use:   "authcallout [ACCOUNT]",
		Short: "Delegate an account's authorization to a callout service (nsc's edit authcallout)",
		Long: `Make ACCOUNT a callout account: clients connecting to it (and, with the node's
default sentinel, clients with a token, a user and password or only a client certificate)
are authorized by a service such as 'natsauth callout', which may place them in the
allowed accounts. The auth users bypass the callout: the service connects as one of them.
Flags are nsc's; users and accounts may be given by public key or by name.`,
		Example: `  natsauth add account -n AUTH
  natsauth add user -a AUTH -n callout
  natsauth edit authcallout -a AUTH --auth-user callout --allowed-account APP --curve generate
  natsauth edit authcallout -a AUTH --rm-curve
  natsauth edit authcallout -a AUTH --disable`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := account
			switch {
			case len(args) == 1 && account != "" && args[0] != account:
				return fmt.Errorf("edit authcallout: account given twice: %q and -a %q", args[0], account)
			case len(args) == 1:
				name = args[0]
			case name == "":
				return fmt.Errorf("edit authcallout: give the callout account with -a ACCOUNT")
			}
			e.AuthUsers, e.RemoveAuthUsers = splitList(e.AuthUsers), splitList(e.RemoveAuthUsers)
			e.AllowedAccounts, e.RemoveAllowedAccounts = splitList(e.AllowedAccounts), splitList(e.RemoveAllowedAccounts)
			return a.withManager(func(m *manage.Manager) error {
				acc, res, err := m.EditAuthCallout(cmd.Context(), name, e)
				if acc != nil {
					fmt.Fprintf(a.out, "edited authcallout of account %s %s\n", acc.Name, acc.Pub)
					if derr := describe.AuthCallout(a.out, m.Home(), acc); derr != nil {
						return derr
					}
				}
				res.WriteText(a.out)
				return err
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&account, "account", "a", "", "the callout account")
	fl.StringArrayVar(&e.AuthUsers, "auth-user", nil, "add a user (public key or name) that bypasses the callout; the service connects as it")
	fl.StringArrayVar(&e.RemoveAuthUsers, "rm-auth-user", nil, "remove an auth user")
	fl.StringArrayVar(&e.AllowedAccounts, "allowed-account", nil, `add an account (public key, name, or "*" for any) the service may place users in`)
	fl.StringArrayVar(&e.RemoveAllowedAccounts, "rm-allowed-account", nil, "remove an allowed account")
	fl.StringVarP(&e.Curve, "curve", "x", "", `curve (xkey) public key servers encrypt requests to, or "generate" (seed kept in the keystore)`)
	fl.BoolVar(&e.RemoveCurve, "rm-curve", false, "remove the curve key: requests travel unencrypted")
	fl.BoolVar(&e.Disable, "disable", false, "remove the external authorization configuration")
	return cmd
}
