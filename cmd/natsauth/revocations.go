package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/describe"
	"github.com/natsauth/natsauth/internal/units"
	"github.com/natsauth/natsauth/manage"
)

func init() {
	register("revocations", func(a *app) *cobra.Command { return newUserRevocationCmd(a, true) })
	register("revocations", func(a *app) *cobra.Command { return newUserRevocationCmd(a, false) })
	register("revocations", newListRevocationsCmd)
	register("revocations", func(a *app) *cobra.Command { return newActivationRevocationCmd(a, true) })
	register("revocations", func(a *app) *cobra.Command { return newActivationRevocationCmd(a, false) })
	register("revocations", newListActivationRevocationsCmd)
}

// revocationFlags select the user of a revocation command.
type revocationFlags struct {
	account, user, userKey string
}

func (f *revocationFlags) bind(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&f.account, "account", "a", "", "account (optional when there is one account besides SYS)")
	cmd.Flags().StringVarP(&f.user, "name", "n", "", "user name")
	cmd.Flags().StringVarP(&f.userKey, "user-public-key", "u", "", `user public key (for users not in the home), or "*" for every user`)
	cmd.MarkFlagsMutuallyExclusive("name", "user-public-key")
}

func (f *revocationFlags) target(p *authority.Problems) string {
	if f.user == "" && f.userKey == "" {
		p.Add("give the user with -n USER (or its public key with -u)")
	}
	if f.userKey != "" {
		return f.userKey
	}
	return f.user
}

// parseRevocationTime parses --at: "0" or empty for now, unix seconds, or
// what ParseExpiry takes (yyyy-mm-dd, RFC 3339, or relative like -1h).
func parseRevocationTime(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "0" {
		return now, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 {
		return time.Unix(n, 0).UTC(), nil
	}
	return units.ParseExpiry(s, now)
}

func newUserRevocationCmd(a *app, add bool) *cobra.Command {
	var f revocationFlags
	var at string
	cmd := &cobra.Command{
		Use:     map[bool]string{true: "add-user", false: "delete-user"}[add],
		Short:   map[bool]string{true: "Revoke a user: servers refuse its JWTs issued until now and close its connections", false: "Remove a user's revocation"}[add],
		Example: map[bool]string{true: "  natsauth revocations add-user -a MyAccount -n alice", false: "  natsauth revocations delete-user -a MyAccount -n alice"}[add],
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p := authority.NewProblems("%s", map[bool]string{true: "revoke user", false: "unrevoke user"}[add])
			user, when := f.target(p), revocationTime(p, at)
			return a.change(p, f.account, func(m *manage.Manager, account string) (*manage.Result, error) {
				if !add {
					acc, res, err := m.UnrevokeUser(cmd.Context(), account, user)
					if acc != nil {
						fmt.Fprintf(a.out, "removed the revocation of %s in account %s\n", user, acc.Name)
					}
					return res, err
				}
				acc, res, err := m.RevokeUser(cmd.Context(), account, user, when)
				if acc != nil {
					fmt.Fprintf(a.out, "revoked %s in account %s: JWTs issued at or before %s are refused\n",
						user, acc.Name, when.UTC().Format(time.RFC3339))
				}
				return res, err
			})
		},
	}
	f.bind(cmd)
	if add {
		cmd.Flags().StringVar(&at, "at", "0", "revoke JWTs issued at or before this time: 0 (now), unix seconds, yyyy-mm-dd or RFC 3339")
	}
	return cmd
}

// revocationTime parses --at, recording a bad value in p.
func revocationTime(p *authority.Problems, at string) time.Time {
	when, err := parseRevocationTime(at, time.Now())
	if err != nil {
		p.Add("--at: %v", err)
	}
	return when
}

// activationFlags select the activation tokens of a revocation command.
type activationFlags struct{ account, subject, target, at string }

func (f *activationFlags) bind(cmd *cobra.Command, at bool) {
	cmd.Flags().StringVarP(&f.account, "account", "a", "", "exporting "+acctUsage)
	cmd.Flags().StringVarP(&f.subject, "subject", "s", "", "subject of the private export")
	cmd.Flags().StringVarP(&f.target, "target-account", "t", "", `importing account (name or public key), or "*" for every account`)
	if at {
		cmd.Flags().StringVar(&f.at, "at", "0", "revoke tokens issued at or before this time: 0 (now), unix seconds, yyyy-mm-dd or RFC 3339")
	}
}

func newActivationRevocationCmd(a *app, add bool) *cobra.Command {
	var f activationFlags
	cmd := &cobra.Command{
		Use:   map[bool]string{true: "add-activation", false: "delete-activation"}[add],
		Short: map[bool]string{true: "Revoke activation tokens: servers drop the target's import of a private export", false: "Remove the revocation of activation tokens"}[add],
		Example: map[bool]string{true: `  natsauth revocations add-activation -a Orders -s "orders.private.>" -t Shipping`,
			false: `  natsauth revocations delete-activation -a Orders -s "orders.private.>" -t Shipping`}[add],
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p := authority.NewProblems("activation revocation %s for %s", f.subject, f.target)
			when := revocationTime(p, f.at)
			return a.change(p, f.account, func(m *manage.Manager, account string) (*manage.Result, error) {
				if !add {
					acc, res, err := m.UnrevokeActivation(cmd.Context(), account, f.subject, f.target)
					if acc != nil {
						fmt.Fprintf(a.out, "removed the revocation of %s's activations for export %s of account %s\n", f.target, f.subject, acc.Name)
					}
					return res, err
				}
				acc, res, err := m.RevokeActivation(cmd.Context(), account, f.subject, f.target, when)
				if acc != nil {
					fmt.Fprintf(a.out, "revoked %s's activations for export %s of account %s issued at or before %s\n",
						f.target, f.subject, acc.Name, when.UTC().Format(time.RFC3339))
				}
				return res, err
			})
		},
	}
	f.bind(cmd, add)
	return cmd
}

func newListRevocationsCmd(a *app) *cobra.Command {
	cmd := listCmd(a, "list-users", "List the revoked users of an account", true, func(h *authority.Home, account string) (any, func() error, error) {
		rows, err := describe.RevocationRows(h, account)
		return rows, func() error { return describe.Revocations(a.out, account, rows) }, err
	})
	cmd.Flags().StringP("name", "n", "", "ignored; accepted for nsc compatibility")
	return cmd
}

func newListActivationRevocationsCmd(a *app) *cobra.Command {
	return listCmd(a, "list-activations", "List the activation revocations of an account's exports", true, func(h *authority.Home, account string) (any, func() error, error) {
		rows, err := describe.ActivationRevocationRows(h, account)
		return rows, func() error { return describe.ActivationRevocations(a.out, account, rows) }, err
	})
}
