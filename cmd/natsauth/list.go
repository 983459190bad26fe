package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/describe"
	"github.com/natsauth/natsauth/internal/units"
	"github.com/natsauth/natsauth/manage"
)

func init() {
	register("list", newListAccountsCmd)
	register("list", newListUsersCmd)
	register("list", newListExportsCmd)
	register("list", newListImportsCmd)
	register("list", newListKeysCmd)
	register("", newExpirationsCmd)
}

// listCmd is a command that reads the home: list returns the rows --json
// prints and the table printed otherwise. With acct, -a picks the account.
func listCmd(a *app, use, short string, acct bool, list func(h *authority.Home, account string) (any, func() error, error)) *cobra.Command {
	var asJSON bool
	var account string
	cmd := &cobra.Command{Use: use, Short: short, Args: cobra.NoArgs, RunE: func(cmd *cobra.Command, _ []string) error {
		h, err := a.openHome()
		if err != nil {
			return err
		}
		if acct {
			if account, err = manage.PickAccount(h, account); err != nil {
				return fmt.Errorf("%s: %w", strings.TrimPrefix(cmd.CommandPath(), "natsauth "), err)
			}
		}
		rows, table, err := list(h, account)
		switch {
		case err != nil:
			return err
		case asJSON:
			return writeJSON(a.out, rows)
		}
		return table()
	}}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	if acct {
		cmd.Flags().StringVarP(&account, "account", "a", "", acctUsage)
	}
	return cmd
}

func newListAccountsCmd(a *app) *cobra.Command {
	return listCmd(a, "accounts", "List the accounts", false, func(h *authority.Home, _ string) (any, func() error, error) {
		rows, err := describe.AccountRows(h)
		return rows, func() error { return describe.Accounts(a.out, rows) }, err
	})
}

func newListUsersCmd(a *app) *cobra.Command {
	return listCmd(a, "users", "List the users of an account", true, func(h *authority.Home, account string) (any, func() error, error) {
		rows, err := describe.UserRows(h, account)
		return rows, func() error { return describe.Users(a.out, rows) }, err
	})
}

func newListExportsCmd(a *app) *cobra.Command {
	return listCmd(a, "exports", "List every account's exports and the accounts that import each", false, func(h *authority.Home, _ string) (any, func() error, error) {
		exps, err := h.Exports()
		rows := describe.ExportRows(exps)
		return rows, func() error { return describe.Exports(a.out, rows) }, err
	})
}

func newListImportsCmd(a *app) *cobra.Command {
	return listCmd(a, "imports", "List every account's imports, where from, and whether servers accept them", false, func(h *authority.Home, _ string) (any, func() error, error) {
		imps, err := h.Imports(time.Now())
		rows := describe.ImportRows(imps)
		return rows, func() error { return describe.Imports(a.out, rows) }, err
	})
}

func newListKeysCmd(a *app) *cobra.Command {
	return listCmd(a, "keys", "List the keys of the operator, accounts and users, and whether the keystore holds their seeds", false, func(h *authority.Home, _ string) (any, func() error, error) {
		keys, unref, err := h.Keys()
		return map[string]any{"keys": keys, "not_referenced": unref}, func() error { return describe.Keys(a.out, keys, unref) }, err
	})
}

func newExpirationsCmd(a *app) *cobra.Command {
	var within string
	cmd := listCmd(a, "expirations", "List when the operator, accounts, users and activation tokens expire", false, func(h *authority.Home, _ string) (any, func() error, error) {
		now := time.Now()
		end, err := units.ParseExpiry(within, now)
		if err != nil {
			return nil, nil, fmt.Errorf("expirations: --within: %w", err)
		}
		window := max(end.Sub(now), 0)
		list, err := h.Expirations(now, window)
		return list, func() error { return describe.Expirations(a.out, list, within) }, err
	})
	cmd.Flags().StringVar(&within, "within", "1M", "mark what expires within this window: a number with m(inutes) h d w M(onths) y")
	return cmd
}
