package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/describe"
	"github.com/natsauth/natsauth/internal/units"
)

func init() {
	register("list", newListAccountsCmd)
	register("list", newListUsersCmd)
}

// accountRow is one line of `list accounts --json`.
type accountRow struct {
	Name      string `json:"name"`
	PublicKey string `json:"public_key"`
	System    bool   `json:"system"`
	Users     int    `json:"users"`
	JetStream bool   `json:"jetstream"`
}

// userRow is one line of `list users --json`.
type userRow struct {
	Name      string `json:"name"`
	PublicKey string `json:"public_key"`
	Account   string `json:"account"`
	Expires   int64  `json:"expires"` // unix seconds, 0 for never
	Bearer    bool   `json:"bearer"`
	Revoked   bool   `json:"revoked"`
}

func newListAccountsCmd(a *app) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "accounts",
		Short: "List the accounts",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			h, err := a.openHome()
			if err != nil {
				return err
			}
			accs, err := h.Accounts()
			if err != nil {
				return err
			}
			rows := make([]accountRow, 0, len(accs))
			for _, acc := range accs {
				users, err := h.Users(acc.Name)
				if err != nil {
					return err
				}
				rows = append(rows, accountRow{Name: acc.Name, PublicKey: acc.Pub, System: acc.System,
					Users: len(users), JetStream: acc.Claims.Limits.IsJSEnabled()})
			}
			if asJSON {
				return writeJSON(a.out, rows)
			}
			tw := describe.NewTable(a.out)
			fmt.Fprintf(tw, "NAME\tPUBLIC KEY\tUSERS\tJETSTREAM\t\n")
			for _, r := range rows {
				note := ""
				if r.System {
					note = "system account"
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", r.Name, r.PublicKey, r.Users, describe.YesNo(r.JetStream), note)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newListUsersCmd(a *app) *cobra.Command {
	var asJSON bool
	var account string
	cmd := &cobra.Command{
		Use:   "users",
		Short: "List the users of an account",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			h, err := a.openHome()
			if err != nil {
				return err
			}
			name, err := pickAccount(h, account)
			if err != nil {
				return fmt.Errorf("list users: %w", err)
			}
			acc, err := h.Account(name)
			if err != nil {
				return err
			}
			users, err := h.Users(name)
			if err != nil {
				return err
			}
			rows := make([]userRow, 0, len(users))
			for i := range users {
				u := &users[i]
				rows = append(rows, userRow{Name: u.Name, PublicKey: u.Pub, Account: acc.Name,
					Expires: u.Claims.Expires, Bearer: u.Claims.BearerToken, Revoked: acc.IsRevoked(u)})
			}
			if asJSON {
				return writeJSON(a.out, rows)
			}
			tw := describe.NewTable(a.out)
			fmt.Fprintf(tw, "NAME\tPUBLIC KEY\tEXPIRES\tREVOKED\n")
			for _, r := range rows {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Name, r.PublicKey, units.FormatTime(r.Expires, "never"), describe.YesNo(r.Revoked))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVarP(&account, "account", "a", "", "account (optional when there is one account besides "+authority.SystemAccountName+")")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
