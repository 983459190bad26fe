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
)

func init() {
	register("revocations", newRevokeUserCmd)
	register("revocations", newUnrevokeUserCmd)
	register("revocations", newListRevocationsCmd)
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

func newRevokeUserCmd(a *app) *cobra.Command {
	var f revocationFlags
	var at string
	cmd := &cobra.Command{
		Use:     "add-user",
		Short:   "Revoke a user: servers refuse its JWTs issued until now and close its connections",
		Example: "  natsauth revocations add-user -a MyAccount -n alice",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p := authority.NewProblems("revoke user")
			user := f.target(p)
			when, err := parseRevocationTime(at, time.Now())
			if err != nil {
				p.Add("--at: %v", err)
			}
			m, err := a.manager()
			if err != nil {
				return err
			}
			defer m.Close()
			account, err := pickAccount(m.Home(), f.account)
			p.AddErr(err)
			if err := p.Err(); err != nil {
				return err
			}
			acc, res, err := m.RevokeUser(cmd.Context(), account, user, when)
			if acc != nil {
				fmt.Fprintf(a.out, "revoked %s in account %s: JWTs issued at or before %s are refused\n",
					user, acc.Name, when.UTC().Format(time.RFC3339))
			}
			a.writeResult(res)
			return err
		},
	}
	f.bind(cmd)
	cmd.Flags().StringVar(&at, "at", "0", "revoke JWTs issued at or before this time: 0 (now), unix seconds, yyyy-mm-dd or RFC 3339")
	return cmd
}

func newUnrevokeUserCmd(a *app) *cobra.Command {
	var f revocationFlags
	cmd := &cobra.Command{
		Use:     "delete-user",
		Short:   "Remove a user's revocation",
		Example: "  natsauth revocations delete-user -a MyAccount -n alice",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p := authority.NewProblems("unrevoke user")
			user := f.target(p)
			m, err := a.manager()
			if err != nil {
				return err
			}
			defer m.Close()
			account, err := pickAccount(m.Home(), f.account)
			p.AddErr(err)
			if err := p.Err(); err != nil {
				return err
			}
			acc, res, err := m.UnrevokeUser(cmd.Context(), account, user)
			if acc != nil {
				fmt.Fprintf(a.out, "removed the revocation of %s in account %s\n", user, acc.Name)
			}
			a.writeResult(res)
			return err
		},
	}
	f.bind(cmd)
	return cmd
}

// revocationRow is one line of `revocations list-users --json`.
type revocationRow struct {
	PublicKey string `json:"public_key"`
	User      string `json:"user,omitempty"`
	At        int64  `json:"at"` // unix seconds
}

func newListRevocationsCmd(a *app) *cobra.Command {
	var account string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list-users",
		Short: "List the revoked users of an account",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			h, err := a.openHome()
			if err != nil {
				return err
			}
			acc, err := pickAccount(h, account)
			if err != nil {
				return fmt.Errorf("list revocations: %w", err)
			}
			revs, err := h.Revocations(acc)
			if err != nil {
				return err
			}
			rows := make([]revocationRow, 0, len(revs))
			for _, r := range revs {
				rows = append(rows, revocationRow{PublicKey: r.Pub, User: r.User, At: r.At.Unix()})
			}
			if asJSON {
				return writeJSON(a.out, rows)
			}
			if len(rows) == 0 {
				fmt.Fprintf(a.out, "account %s has no revocations\n", acc)
				return nil
			}
			tw := describe.NewTable(a.out)
			fmt.Fprintf(tw, "PUBLIC KEY\tUSER\tREVOKES JWTS ISSUED AT OR BEFORE\n")
			for _, r := range rows {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", r.PublicKey, r.User, units.FormatTime(r.At, "-"))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVarP(&account, "account", "a", "", "account (optional when there is one account besides SYS)")
	cmd.Flags().StringP("name", "n", "", "ignored; accepted for nsc compatibility")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
