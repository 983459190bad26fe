package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/describe"
	"github.com/natsauth/natsauth/manage"
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

// show writes v as indented JSON (asJSON) or for people, with its
// WriteText.
func (a *app) show(asJSON bool, v interface{ WriteText(io.Writer) }) error {
	if asJSON {
		return writeJSON(a.out, v)
	}
	v.WriteText(a.out)
	return nil
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
			if done, err := o.emit(a.out, h.Operator(), h.OperatorJWT()); done {
				return err
			}
			return describe.Operator(a.out, h)
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
		Short:   "Describe an account: keys, settings, limits, JetStream, exports and imports, users, revocations",
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
			} else if name, err = manage.PickAccount(h, ""); err != nil {
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
			return describe.AccountInHome(a.out, h, acc)
		},
	}
	cmd.Flags().StringVarP(&name, "name", "n", "", "account name")
	o.bind(cmd)
	return cmd
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
			h, acc, err := a.homeAccount(p, account)
			if err != nil {
				return err
			}
			u, err := h.User(acc, name)
			if err != nil {
				return err
			}
			if done, err := o.emit(a.out, u.Claims, u.JWT); done {
				return err
			}
			return describe.UserInHome(a.out, h, u)
		},
	}
	cmd.Flags().StringVarP(&name, "name", "n", "", "user name")
	cmd.Flags().StringVarP(&account, "account", "a", "", "account of the user")
	o.bind(cmd)
	return cmd
}
