package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/natsauth/natsauth/callout/userdb"
	"github.com/natsauth/natsauth/internal/password"
)

func newCalloutUserCmd(a *app) *cobra.Command {
	var usersURL string
	cmd := &cobra.Command{
		Use:   "user",
		Short: "Manage the gateway's own username/password users (argon2id, kept with the store)",
		Long: `Manage natsauth's password users for the identity gateway. They live in tables of
their own in the account-JWT store's database (SQLite by default, PostgreSQL for a fleet,
or --users URL); passwords are hashed with argon2id and read from stdin, never from the
command line. Every change is in the audit log, and a running gateway ends the live
connections of a user that is disabled or whose password changes.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.PersistentFlags().StringVar(&usersURL, "users", "", "password user database URL (default: the store)")
	// withUsers runs fn on the password users for one command.
	withUsers := func(cmd *cobra.Command, fn func(*userdb.DB) error) error {
		return a.withUsers(cmd.Context(), usersURL, func(db *userdb.DB) error {
			if db == nil {
				return fmt.Errorf("%w: give --users sqlite:///path/users.db or postgres://...", userdb.ErrUnsupported)
			}
			return fn(db)
		})
	}

	var groups []string
	add := &cobra.Command{
		Use:     "add NAME",
		Short:   "Add a password user (the password is read from stdin)",
		Example: "  natsauth callout user add alice --group staff < password.txt\n  printf '%s\\n' \"$PW\" | natsauth callout user add svc-billing --group services",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pw, err := promptSecret(a, cmd.InOrStdin(), "password for "+args[0])
			if err != nil {
				return err
			}
			return withUsers(cmd, func(db *userdb.DB) error {
				if err := db.Add(cmd.Context(), args[0], pw, splitList(groups)); err != nil {
					return err
				}
				fmt.Fprintf(a.out, "added password user %s (groups: %s) to %s\n", args[0], strings.Join(splitList(groups), ","), db.Where())
				return nil
			})
		},
	}
	add.Flags().StringArrayVar(&groups, "group", nil, "groups of the user, for rules and templates (comma-separated or repeated)")

	passwd := &cobra.Command{
		Use:   "passwd NAME",
		Short: "Set a user's password (read from stdin); its live connections end",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pw, err := promptSecret(a, cmd.InOrStdin(), "new password for "+args[0])
			if err != nil {
				return err
			}
			return withUsers(cmd, func(db *userdb.DB) error {
				if err := db.SetPassword(cmd.Context(), args[0], pw); err != nil {
					return err
				}
				fmt.Fprintf(a.out, "set the password of %s\n", args[0])
				return nil
			})
		},
	}
	setDisabled := func(use, short string, disabled bool) *cobra.Command {
		return &cobra.Command{
			Use:   use + " NAME",
			Short: short,
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return withUsers(cmd, func(db *userdb.DB) error {
					if err := db.SetDisabled(cmd.Context(), args[0], disabled); err != nil {
						return err
					}
					fmt.Fprintf(a.out, "%sd password user %s\n", use, args[0])
					return nil
				})
			},
		}
	}
	var asJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List the password users",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withUsers(cmd, func(db *userdb.DB) error {
				users, err := db.List(cmd.Context())
				if err != nil {
					return err
				}
				return userdb.WriteUsers(a.out, users, asJSON)
			})
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.AddCommand(add, passwd,
		setDisabled("disable", "Disable a user: refused from now on, its live connections end", true),
		setDisabled("enable", "Enable a disabled user again", false),
		list)
	return cmd
}

// promptSecret reads a secret from the first line of r, prompting on
// stderr. The secret is never echoed back or put in an error.
func promptSecret(a *app, r io.Reader, what string) (string, error) {
	fmt.Fprintf(a.errOut, "%s (one line on stdin): ", what)
	s, err := password.ReadSecret(r)
	fmt.Fprintln(a.errOut)
	return s, err
}
