package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/internal/units"
)

func init() {
	register("add", newAddAccountCmd)
	register("edit", newEditAccountCmd)
}

// nameArg picks a name given as the single argument or with -n; giving
// both with different values is a problem.
func nameArg(p *authority.Problems, kind string, args []string, flag string) string {
	switch {
	case len(args) == 1 && flag != "" && args[0] != flag:
		p.Add("%s name given twice: %q and -n %q", kind, args[0], flag)
		return ""
	case len(args) == 1:
		return args[0]
	case flag == "":
		p.Add("%s name is required: give it with -n NAME", kind)
	}
	return flag
}

// pickAccount returns the account named by -a, or the only account besides
// the system account when -a is not given.
func pickAccount(h *authority.Home, flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	accs, err := h.Accounts()
	if err != nil {
		return "", err
	}
	var names []string
	for _, acc := range accs {
		if !acc.System {
			names = append(names, acc.Name)
		}
	}
	switch len(names) {
	case 1:
		return names[0], nil
	case 0:
		return "", fmt.Errorf("there is no account yet: add one with natsauth add account -n NAME, or give -a %s", authority.SystemAccountName)
	}
	return "", fmt.Errorf("there are %d accounts (%s): choose one with -a ACCOUNT", len(names), strings.Join(names, ", "))
}

// rawValue is a flag value kept as text and parsed after all flags are
// read, so that every bad value is reported at once.
type rawValue struct {
	s   string
	set bool
}

func (v *rawValue) String() string { return v.s }
func (v *rawValue) Type() string   { return "string" }
func (v *rawValue) Set(s string) error {
	v.s, v.set = s, true
	return nil
}

// limitSpec describes one account limit flag and its nsc alias.
type limitSpec struct {
	name, alias string
	size        bool // a byte size (1MB, 10GB); otherwise a count
	usage       string
	field       func(*authority.AccountEdit) **int64
}

var limitSpecs = []limitSpec{
	{"max-connections", "conns", false, "maximum client connections (-1 unlimited)", func(e *authority.AccountEdit) **int64 { return &e.Conns }},
	{"max-leafnodes", "leaf-conns", false, "maximum leaf node connections (-1 unlimited)", func(e *authority.AccountEdit) **int64 { return &e.LeafConns }},
	{"max-data", "data", true, "maximum data in flight, e.g. 10GB (-1 unlimited)", func(e *authority.AccountEdit) **int64 { return &e.Data }},
	{"max-exports", "exports", false, "maximum exports (-1 unlimited)", func(e *authority.AccountEdit) **int64 { return &e.Exports }},
	{"max-imports", "imports", false, "maximum imports (-1 unlimited)", func(e *authority.AccountEdit) **int64 { return &e.Imports }},
	{"max-payload", "payload", true, "maximum message payload, e.g. 1MB (-1 unlimited)", func(e *authority.AccountEdit) **int64 { return &e.Payload }},
	{"max-subscriptions", "subscriptions", false, "maximum subscriptions (-1 unlimited)", func(e *authority.AccountEdit) **int64 { return &e.Subs }},
	{"js-mem-storage", "", true, "JetStream memory storage, e.g. 1GB (0 disabled, -1 unlimited)", func(e *authority.AccountEdit) **int64 { return &e.JSMemStorage }},
	{"js-disk-storage", "", true, "JetStream disk storage, e.g. 10GB (0 disabled, -1 unlimited)", func(e *authority.AccountEdit) **int64 { return &e.JSDiskStorage }},
	{"js-streams", "", false, "JetStream maximum streams (-1 unlimited)", func(e *authority.AccountEdit) **int64 { return &e.JSStreams }},
	{"js-consumer", "", false, "JetStream maximum consumers (-1 unlimited)", func(e *authority.AccountEdit) **int64 { return &e.JSConsumer }},
}

// limitFlags are the limit flags of add/edit account.
type limitFlags struct {
	values map[string]*rawValue // by flag name, aliases included
}

func bindLimitFlags(fs *pflag.FlagSet) *limitFlags {
	lf := &limitFlags{values: map[string]*rawValue{}}
	for _, s := range limitSpecs {
		for _, n := range []string{s.name, s.alias} {
			if n == "" {
				continue
			}
			v := &rawValue{}
			lf.values[n] = v
			usage := s.usage
			if n == s.alias {
				usage = "same as --" + s.name
			}
			fs.Var(v, n, usage)
		}
	}
	return lf
}

// edit parses the given limit flags into an AccountEdit, recording every
// bad value, and returns a description of each change.
func (lf *limitFlags) edit(p *authority.Problems) (authority.AccountEdit, []string) {
	var e authority.AccountEdit
	var changes []string
	for _, s := range limitSpecs {
		var got *int64
		var from string
		for _, n := range []string{s.name, s.alias} {
			v, ok := lf.values[n]
			if !ok || !v.set {
				continue
			}
			parse := units.ParseCount
			if s.size {
				parse = units.ParseSize
			}
			x, err := parse(v.s)
			if err != nil {
				p.Add("--%s: %v", n, err)
				continue
			}
			if got != nil && *got != x {
				p.Add("--%s %s and --%s %s disagree", from, lf.values[from].s, n, v.s)
				continue
			}
			got, from = &x, n
		}
		if got != nil {
			*s.field(&e) = got
			shown := units.FormatCount(*got)
			if s.size {
				shown = units.FormatSize(*got)
			}
			changes = append(changes, fmt.Sprintf("%s %s", s.name, shown))
		}
	}
	return e, changes
}

func newAddAccountCmd(a *app) *cobra.Command {
	var name string
	var lf *limitFlags
	cmd := &cobra.Command{
		Use:   "account [NAME]",
		Short: "Add an account, signed by the operator signing key",
		Example: `  natsauth add account -n MyAccount
  natsauth add account -n MyAccount --max-connections 1000 --max-payload 1MB --js-disk-storage 10GB`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p := authority.NewProblems("add account")
			name := nameArg(p, "account", args, name)
			if name != "" {
				p.SetOp("add account %s", name)
			}
			e, changes := lf.edit(p)
			h, err := a.openHome()
			if err != nil {
				return err
			}
			if p.Len() > 0 {
				p.AddErr(e.Check())
				if name != "" {
					if err := authority.CheckName("account", name); err != nil {
						p.Add("%v", err)
					} else if _, err := h.Account(name); err == nil {
						p.Add("account %q already exists", name)
					}
				}
				return p.Err()
			}
			m, err := a.manager()
			if err != nil {
				return err
			}
			defer m.Close()
			acc, res, err := m.AddAccount(cmd.Context(), name, e)
			if acc != nil {
				fmt.Fprintf(a.out, "added account %s %s\n", acc.Name, acc.Pub)
				for _, c := range changes {
					fmt.Fprintf(a.out, "  %s\n", c)
				}
			}
			a.writeResult(res)
			return err
		},
	}
	cmd.Flags().StringVarP(&name, "name", "n", "", "account name")
	lf = bindLimitFlags(cmd.Flags())
	return cmd
}

func newEditAccountCmd(a *app) *cobra.Command {
	var name string
	var lf *limitFlags
	kf := &accountKeyFlags{}
	cmd := &cobra.Command{
		Use:   "account [NAME]",
		Short: "Change account limits and signing keys; limits not named keep their values",
		Example: `  natsauth edit account MyAccount --max-connections 1000 --max-data 10GB --max-exports 10 \
    --max-imports 10 --max-payload 1MB --max-subscriptions 1000
  natsauth edit account MyAccount --js-mem-storage 1GB --js-disk-storage 10GB --js-streams 10 --js-consumer 100
  natsauth edit account MyAccount --sk generate`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p := authority.NewProblems("edit account")
			name := nameArg(p, "account", args, name)
			if name != "" {
				p.SetOp("edit account %s", name)
			}
			e, changes := lf.edit(p)
			if len(changes) == 0 && !kf.given() && p.Len() == 0 {
				p.Add("nothing to change: give a limit such as --max-connections 100 or --sk generate (see --help)")
			}
			kf.check(p)
			h, err := a.openHome()
			if err != nil {
				return err
			}
			if p.Len() > 0 {
				p.AddErr(e.Check())
				if name != "" {
					_, err := h.Account(name)
					p.AddErr(err)
				}
				return p.Err()
			}
			e.AddSigningKeys, e.RemoveSigningKeys = kf.keys()
			m, err := a.manager()
			if err != nil {
				return err
			}
			defer m.Close()
			before, _ := h.Account(name)
			acc, res, err := m.EditAccount(cmd.Context(), name, e)
			if acc != nil {
				fmt.Fprintf(a.out, "edited account %s %s\n", acc.Name, acc.Pub)
				for _, c := range changes {
					fmt.Fprintf(a.out, "  %s\n", c)
				}
				writeKeyChanges(a.out, before, acc)
				js := acc.Claims.Limits.JetStreamLimits
				if (e.JSStreams != nil || e.JSConsumer != nil) && js.MemoryStorage == 0 && js.DiskStorage == 0 {
					fmt.Fprintf(a.out, "  note: JetStream stays disabled until --js-mem-storage or --js-disk-storage is set\n")
				}
			}
			a.writeResult(res)
			return err
		},
	}
	cmd.Flags().StringVarP(&name, "name", "n", "", "account to edit")
	lf = bindLimitFlags(cmd.Flags())
	kf.bind(cmd.Flags())
	return cmd
}
