package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/internal/units"
)

func init() {
	register("describe", newDescribeOperatorCmd)
	register("describe", newDescribeAccountCmd)
	register("describe", newDescribeUserCmd)
}

// outputFlags select the output of describe: human text, the decoded
// claims as JSON, or the raw JWT.
type outputFlags struct{ json, raw bool }

func (o *outputFlags) bind(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&o.json, "json", false, "print the decoded JWT claims as JSON")
	cmd.Flags().BoolVar(&o.raw, "raw", false, "print the encoded JWT")
	cmd.MarkFlagsMutuallyExclusive("json", "raw")
}

// emit writes claims as JSON or the token, and reports whether it did.
func (o *outputFlags) emit(w io.Writer, claims any, token string) (bool, error) {
	switch {
	case o.raw:
		_, err := fmt.Fprintln(w, token)
		return true, err
	case o.json:
		return true, writeJSON(w, claims)
	}
	return false, nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newDescribeOperatorCmd(a *app) *cobra.Command {
	var o outputFlags
	cmd := &cobra.Command{
		Use:   "operator",
		Short: "Describe the operator",
		Example: `  natsauth describe operator
  natsauth describe operator --raw > operator.jwt`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			h, err := a.openHome()
			if err != nil {
				return err
			}
			op := h.Operator()
			if done, err := o.emit(a.out, op, h.OperatorJWT()); done {
				return err
			}
			sysName := ""
			if sys, err := h.AccountByPub(op.SystemAccount); err == nil {
				sysName = sys.Name + " "
			}
			tw := newTable(a.out)
			fmt.Fprintf(tw, "Operator\t%s\n", op.Name)
			fmt.Fprintf(tw, "  Public key\t%s\n", op.Subject)
			for i, sk := range op.SigningKeys {
				label := ""
				if i == 0 {
					label = "  Signing keys"
				}
				fmt.Fprintf(tw, "%s\t%s\n", label, sk)
			}
			fmt.Fprintf(tw, "  Requires signing keys\t%s\n", yesNo(op.StrictSigningKeyUsage))
			fmt.Fprintf(tw, "  System account\t%s%s\n", sysName, op.SystemAccount)
			fmt.Fprintf(tw, "  Issued\t%s\n", units.FormatTime(op.IssuedAt, "-"))
			fmt.Fprintf(tw, "  Expires\t%s\n", units.FormatTime(op.Expires, "never"))
			fmt.Fprintf(tw, "  Home\t%s\n", h.Dir())
			return tw.Flush()
		},
	}
	o.bind(cmd)
	return cmd
}

func newDescribeAccountCmd(a *app) *cobra.Command {
	var o outputFlags
	var name string
	cmd := &cobra.Command{
		Use:     "account [NAME]",
		Short:   "Describe an account: keys, limits, JetStream, exports, revocations",
		Example: "  natsauth describe account MyAccount\n  natsauth describe account MyAccount --json",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			h, err := a.openHome()
			if err != nil {
				return err
			}
			p := authority.NewProblems("describe account")
			if len(args) == 1 || name != "" {
				name = nameArg(p, "account", args, name)
			} else if name, err = pickAccount(h, ""); err != nil {
				p.AddErr(err)
			}
			if err := p.Err(); err != nil {
				return err
			}
			acc, err := h.Account(name)
			if err != nil {
				return err
			}
			if done, err := o.emit(a.out, acc.Claims, acc.JWT); done {
				return err
			}
			users, err := h.Users(name)
			if err != nil {
				return err
			}
			return describeAccount(a.out, acc, users)
		},
	}
	cmd.Flags().StringVarP(&name, "name", "n", "", "account name")
	o.bind(cmd)
	return cmd
}

func describeAccount(w io.Writer, acc *authority.AccountInfo, users []authority.UserInfo) error {
	c := acc.Claims
	tw := newTable(w)
	title := acc.Name
	if acc.System {
		title += " (system account)"
	}
	fmt.Fprintf(tw, "Account\t%s\n", title)
	fmt.Fprintf(tw, "  Public key\t%s\n", acc.Pub)
	fmt.Fprintf(tw, "  Issuer\t%s\n", c.Issuer)
	for i, k := range signingKeyLines(c) {
		label := ""
		if i == 0 {
			label = "  Signing keys"
		}
		fmt.Fprintf(tw, "%s\t%s\n", label, k)
	}
	fmt.Fprintf(tw, "  Issued\t%s\n", units.FormatTime(c.IssuedAt, "-"))
	fmt.Fprintf(tw, "  Expires\t%s\n", units.FormatTime(c.Expires, "never"))
	l := c.Limits
	fmt.Fprintf(tw, "Limits\t\n")
	fmt.Fprintf(tw, "  Max connections\t%s\n", units.FormatCount(l.Conn))
	fmt.Fprintf(tw, "  Max leaf node connections\t%s\n", units.FormatCount(l.LeafNodeConn))
	fmt.Fprintf(tw, "  Max data\t%s\n", units.FormatSize(l.Data))
	fmt.Fprintf(tw, "  Max exports\t%s\n", units.FormatCount(l.Exports))
	fmt.Fprintf(tw, "  Max imports\t%s\n", units.FormatCount(l.Imports))
	fmt.Fprintf(tw, "  Max payload\t%s\n", units.FormatSize(l.Payload))
	fmt.Fprintf(tw, "  Max subscriptions\t%s\n", units.FormatCount(l.Subs))
	fmt.Fprintf(tw, "  Wildcard exports\t%s\n", yesNo(l.WildcardExports))
	fmt.Fprintf(tw, "  Bearer tokens\t%s\n", map[bool]string{true: "refused", false: "allowed"}[l.DisallowBearer])
	js := l.JetStreamLimits
	if l.IsJSEnabled() {
		fmt.Fprintf(tw, "JetStream\tenabled\n")
		fmt.Fprintf(tw, "  Memory storage\t%s\n", jsStorage(js.MemoryStorage))
		fmt.Fprintf(tw, "  Disk storage\t%s\n", jsStorage(js.DiskStorage))
		fmt.Fprintf(tw, "  Streams\t%s\n", units.FormatCount(js.Streams))
		fmt.Fprintf(tw, "  Consumers\t%s\n", units.FormatCount(js.Consumer))
	} else {
		fmt.Fprintf(tw, "JetStream\tdisabled\n")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(c.Exports) > 0 {
		fmt.Fprintln(w, "Exports")
		tw = newTable(w)
		fmt.Fprintf(tw, "  NAME\tTYPE\tSUBJECT\n")
		for _, e := range c.Exports {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", e.Name, e.Type, e.Subject)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(c.Imports) > 0 {
		fmt.Fprintln(w, "Imports")
		tw = newTable(w)
		fmt.Fprintf(tw, "  NAME\tTYPE\tSUBJECT\tFROM\n")
		for _, im := range c.Imports {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", im.Name, im.Type, im.Subject, im.Account)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	var names []string
	for _, u := range users {
		names = append(names, u.Name)
	}
	fmt.Fprintf(w, "Users (%d)  %s\n", len(users), strings.Join(names, ", "))
	if len(c.Revocations) > 0 {
		fmt.Fprintf(w, "Revocations (%d)\n", len(c.Revocations))
		byPub := map[string]string{}
		for _, u := range users {
			byPub[u.Pub] = u.Name
		}
		keys := make([]string, 0, len(c.Revocations))
		for k := range c.Revocations {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		tw = newTable(w)
		for _, k := range keys {
			fmt.Fprintf(tw, "  %s\t%s\tissued at or before %s\n", k, byPub[k], units.FormatTime(c.Revocations[k], "-"))
		}
		return tw.Flush()
	}
	return nil
}

func newDescribeUserCmd(a *app) *cobra.Command {
	var o outputFlags
	var name, account string
	cmd := &cobra.Command{
		Use:     "user [NAME]",
		Short:   "Describe a user: keys, permissions, limits, validity",
		Example: "  natsauth describe user alice\n  natsauth describe user -a MyAccount -n alice --json",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p := authority.NewProblems("describe user")
			name := nameArg(p, "user", args, name)
			h, err := a.openHome()
			if err != nil {
				return err
			}
			acc, err := pickAccount(h, account)
			p.AddErr(err)
			if err := p.Err(); err != nil {
				return err
			}
			u, err := h.User(acc, name)
			if err != nil {
				return err
			}
			if done, err := o.emit(a.out, u.Claims, u.JWT); done {
				return err
			}
			ai, err := h.Account(acc)
			if err != nil {
				return err
			}
			return describeUser(a.out, ai, u, h.CredsPath(acc, name))
		},
	}
	cmd.Flags().StringVarP(&name, "name", "n", "", "user name")
	cmd.Flags().StringVarP(&account, "account", "a", "", "account of the user")
	o.bind(cmd)
	return cmd
}

func describeUser(w io.Writer, acc *authority.AccountInfo, u *authority.UserInfo, credsPath string) error {
	c := u.Claims
	tw := newTable(w)
	fmt.Fprintf(tw, "User\t%s\n", u.Name)
	fmt.Fprintf(tw, "  Account\t%s %s\n", acc.Name, acc.Pub)
	fmt.Fprintf(tw, "  Public key\t%s\n", u.Pub)
	fmt.Fprintf(tw, "  Issuer\t%s\n", c.Issuer)
	fmt.Fprintf(tw, "  Issued\t%s\n", units.FormatTime(c.IssuedAt, "-"))
	fmt.Fprintf(tw, "  Valid from\t%s\n", units.FormatTime(c.NotBefore, "issue time"))
	exp := units.FormatTime(c.Expires, "never")
	if c.Expires != 0 && time.Unix(c.Expires, 0).Before(time.Now()) {
		exp += " (expired)"
	}
	fmt.Fprintf(tw, "  Expires\t%s\n", exp)
	fmt.Fprintf(tw, "  Bearer token\t%s\n", yesNo(c.BearerToken))
	fmt.Fprintf(tw, "  Revoked\t%s\n", yesNo(acc.IsRevoked(u)))
	fmt.Fprintf(tw, "  Creds\t%s\n", credsPath)
	p := c.Permissions
	fmt.Fprintf(tw, "Permissions\t\n")
	lines := []struct {
		name string
		v    []string
	}{{"Publish allow", p.Pub.Allow}, {"Publish deny", p.Pub.Deny}, {"Subscribe allow", p.Sub.Allow}, {"Subscribe deny", p.Sub.Deny}}
	for _, l := range lines {
		v := "-"
		if len(l.v) > 0 {
			v = strings.Join(l.v, ", ")
		} else if strings.HasSuffix(l.name, "allow") {
			v = "all"
		}
		fmt.Fprintf(tw, "  %s\t%s\n", l.name, v)
	}
	resp := "-"
	if p.Resp != nil {
		resp = formatResp(p.Resp.MaxMsgs, p.Resp.Expires)
	}
	fmt.Fprintf(tw, "  Responses\t%s\n", resp)
	fmt.Fprintf(tw, "Limits\t\n")
	fmt.Fprintf(tw, "  Max subscriptions\t%s\n", units.FormatCount(c.Limits.Subs))
	fmt.Fprintf(tw, "  Max data\t%s\n", units.FormatSize(c.Limits.Data))
	fmt.Fprintf(tw, "  Max payload\t%s\n", units.FormatSize(c.Limits.Payload))
	src := "any"
	if len(c.Src) > 0 {
		src = strings.Join(c.Src, ", ")
	}
	fmt.Fprintf(tw, "  Source networks\t%s\n", src)
	if len(c.Tags) > 0 {
		fmt.Fprintf(tw, "  Tags\t%s\n", strings.Join(c.Tags, ", "))
	}
	return tw.Flush()
}

func newTable(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0) }

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// jsStorage renders a JetStream storage limit, where 0 means none.
func jsStorage(n int64) string {
	if n == 0 {
		return "none"
	}
	return units.FormatSize(n)
}
