package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/natsauth/natsauth/audit"
	"github.com/natsauth/natsauth/authority"
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
			h, err := a.openHome()
			if err != nil {
				return err
			}
			e.AuthUsers, e.RemoveAuthUsers = splitList(e.AuthUsers), splitList(e.RemoveAuthUsers)
			e.AllowedAccounts, e.RemoveAllowedAccounts = splitList(e.AllowedAccounts), splitList(e.RemoveAllowedAccounts)
			before, _ := h.Account(name)
			acc, err := h.EditAuthCallout(name, e)
			if err != nil {
				return err
			}
			a.audit(cmd.Context(), h, accountChange(audit.ActionEditAccount, before, acc, "authcallout "+authCalloutSummary(acc)))
			fmt.Fprintf(a.out, "edited authcallout of account %s %s\n", acc.Name, acc.Pub)
			if err := describeAuthCallout(a.out, h, acc); err != nil {
				return err
			}
			return a.publish(cmd.Context(), h, acc.Name)
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

// authCalloutSummary is one line for the audit log.
func authCalloutSummary(acc *authority.AccountInfo) string {
	x := acc.Claims.Authorization
	if !x.IsEnabled() {
		return "disabled"
	}
	s := fmt.Sprintf("auth users %s; allowed accounts %s", strings.Join(x.AuthUsers, ","), strings.Join(x.AllowedAccounts, ","))
	if x.XKey != "" {
		s += "; xkey " + x.XKey
	}
	return s
}

// describeAuthCallout prints an account's auth callout configuration,
// naming users and accounts of the home. describe account shows it too.
func describeAuthCallout(w io.Writer, h *authority.Home, acc *authority.AccountInfo) error {
	x := acc.Claims.Authorization
	if !x.IsEnabled() {
		_, err := fmt.Fprintln(w, "Auth callout  disabled")
		return err
	}
	userNames := map[string]string{}
	if users, err := h.Users(acc.Name); err == nil {
		for _, u := range users {
			userNames[u.Pub] = u.Name
		}
	}
	accNames := map[string]string{authority.AnyAccount: "any account"}
	if accs, err := h.Accounts(); err == nil {
		for _, a := range accs {
			accNames[a.Pub] = a.Name
		}
	}
	tw := newTable(w)
	fmt.Fprintf(tw, "Auth callout\tenabled\n")
	for i, u := range x.AuthUsers {
		label := ""
		if i == 0 {
			label = "  Auth users"
		}
		fmt.Fprintf(tw, "%s\t%s %s\n", label, u, userNames[u])
	}
	if len(x.AllowedAccounts) == 0 {
		fmt.Fprintf(tw, "  Allowed accounts\t(none: users stay in %s)\n", acc.Name)
	}
	for i, k := range x.AllowedAccounts {
		label := ""
		if i == 0 {
			label = "  Allowed accounts"
		}
		fmt.Fprintf(tw, "%s\t%s %s\n", label, k, accNames[k])
	}
	xkey := "none (requests are not encrypted)"
	if x.XKey != "" {
		xkey = x.XKey
		if _, err := h.CurveKey(x.XKey); err == nil {
			xkey += " (seed in the keystore)"
		} else {
			xkey += " (seed not in this keystore)"
		}
	}
	fmt.Fprintf(tw, "  Curve key\t%s\n", xkey)
	return tw.Flush()
}
