package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/manage"
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

// accountSpecs are the settings flags of add/edit account, named as nsc's;
// edit adds the ones that remove something.
func accountSpecs(e *authority.AccountEdit, edit bool) []spec {
	s := []spec{
		{"max-connections|conns", "maximum client connections (-1 unlimited)", 's', limit(&e.Conns, false)},
		{"max-leafnodes|leaf-conns", "maximum leaf node connections (-1 unlimited)", 's', limit(&e.LeafConns, false)},
		{"max-data|data", "maximum data in flight, e.g. 10GB (-1 unlimited)", 's', limit(&e.Data, true)},
		{"max-exports|exports", "maximum exports (-1 unlimited)", 's', limit(&e.Exports, false)},
		{"max-imports|imports", "maximum imports (-1 unlimited)", 's', limit(&e.Imports, false)},
		{"max-payload|payload", "maximum message payload, e.g. 1MB (-1 unlimited)", 's', limit(&e.Payload, true)},
		{"max-subscriptions|subscriptions", "maximum subscriptions (-1 unlimited)", 's', limit(&e.Subs, false)},
		{"js-mem-storage", "JetStream memory storage, e.g. 1GB (0 disabled, -1 unlimited)", 's', limit(&e.JSMemStorage, true)},
		{"js-disk-storage", "JetStream disk storage, e.g. 10GB (0 disabled, -1 unlimited)", 's', limit(&e.JSDiskStorage, true)},
		{"js-streams", "JetStream maximum streams (-1 unlimited)", 's', limit(&e.JSStreams, false)},
		{"js-consumer", "JetStream maximum consumers (-1 unlimited)", 's', limit(&e.JSConsumer, false)},
		{"js-max-ack-pending", "JetStream maximum acks pending per consumer (-1 unlimited)", 's', limit(&e.JSMaxAckPending, false)},
		{"js-max-mem-stream", "JetStream maximum bytes of one memory stream (-1 unlimited)", 's', limit(&e.JSMaxMemStream, true)},
		{"js-max-disk-stream", "JetStream maximum bytes of one disk stream (-1 unlimited)", 's', limit(&e.JSMaxDiskStream, true)},
		{"js-max-bytes-required", "JetStream streams must set a maximum size", 'b', to(&e.JSMaxBytesRequired, truth)},
		{"js-tier", "JetStream tier the --js-* limits apply to: 1 (R1) or 3 (R3); 0 is the global limits", 's', to(&e.JSTier, whole)},
		{"js-enable", "enable JetStream tier 0 (global), 1 or 3 with unlimited storage", 's', to(&e.JSEnable, whole)},
		{"expiry", expiryUsage, 's', to(&e.Expires, when)},
		{"start", "valid from: 0 (now), yyyy-mm-dd, or a past time such as -1h", 's', to(&e.Start, when)},
		{"disallow-bearer", "servers refuse bearer user JWTs of the account (--disallow-bearer=false allows them)", 'b', to(&e.DisallowBearer, truth)},
		{"wildcard-exports", "allow exports with wildcards (the default; --wildcard-exports=false forbids them)", 'b', to(&e.WildcardExports, truth)},
		{"description", "description of the account", 's', to(&e.Description, text)},
		{"info-url", "http(s) URL with more information about the account", 's', to(&e.InfoURL, text)},
		{"tag", "add tags", 'l', list(&e.Tags)},
		{"trace-context-subject", `where servers send traces of messages carrying a W3C trace context ("" turns tracing off)`, 's', to(&e.TraceSubject, text)},
		{"trace-context-sampling", "percentage of those messages traced, 1-100", 's', to(&e.TraceSampling, whole)},
	}
	s = append(s, permSpecs(&e.DefaultPermissions, "its users without permissions of their own", edit)...)
	if edit {
		s = append(s, spec{"rm-tag", "remove tags", 'l', list(&e.RemoveTags)},
			spec{"rm-js-tier", "remove the JetStream limits of tier 0 (global), 1 or 3", 's', to(&e.RemoveJSTier, whole)},
			spec{"js-disable", "remove every JetStream limit: JetStream off", 'b', value(&e.JSDisable, truth)})
	}
	return s
}

// accountFlags are the flags of add/edit account.
type accountFlags struct {
	name  string
	e     authority.AccountEdit
	specs *specs
}

func (f *accountFlags) bind(fs *pflag.FlagSet, edit bool) {
	fs.StringVarP(&f.name, "name", "n", "", "account name")
	f.specs = bindSpecs(fs, accountSpecs(&f.e, edit)...)
}

// edit parses the flags: the account name, the edit and what it sets.
func (f *accountFlags) edit(verb string, args []string) (*authority.Problems, string, []string) {
	p := authority.NewProblems("%s account", verb)
	name := nameArg(p, "account", args, f.name)
	if name != "" {
		p.SetOp("%s account %s", verb, name)
	}
	return p, name, f.specs.apply(p)
}

// writeAccountChange prints an added or edited account and what was set.
func (a *app) writeAccountChange(verb string, acc *authority.AccountInfo, changes []string) {
	if acc != nil {
		fmt.Fprintf(a.out, "%s account %s %s\n", verb, acc.Name, acc.Pub)
		for _, c := range changes {
			fmt.Fprintf(a.out, "  %s\n", c)
		}
	}
}

func newAddAccountCmd(a *app) *cobra.Command {
	f := &accountFlags{}
	var pub string
	cmd := &cobra.Command{
		Use:   "account [NAME]",
		Short: "Add an account, signed by the operator signing key",
		Example: `  natsauth add account -n MyAccount
  natsauth add account -n MyAccount --max-connections 1000 --max-payload 1MB --js-disk-storage 10GB
  natsauth add account -n Partner --public-key AB...   # its seed stays with its owner
  natsauth add account -n Team --allow-sub "team.>" --allow-pub "team.>" --disallow-bearer --tag team`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, name, changes := f.edit("add", args)
			h, err := a.openHome()
			if err != nil {
				return err
			}
			if p.Len() > 0 {
				p.AddErr(f.e.Check())
				if name != "" {
					if err := authority.CheckName("account", name); err != nil {
						p.Add("%v", err)
					} else if _, err := h.Account(name); err == nil {
						p.Add("account %q already exists", name)
					}
				}
				return p.Err()
			}
			return a.change(p, name, func(m *manage.Manager, _ string) (*manage.Result, error) {
				acc, res, err := m.AddAccountWith(cmd.Context(), name, f.e, authority.AccountIssue{PublicKey: pub})
				a.writeAccountChange("added", acc, changes)
				if acc != nil && pub != "" {
					fmt.Fprintf(a.out, "  its seed is not here: add a signing key (natsauth edit account %s --sk generate) to issue its users here\n", acc.Name)
				}
				return res, err
			})
		},
	}
	f.bind(cmd.Flags(), false)
	cmd.Flags().StringVar(&pub, "public-key", "", "create the account for this account public key (A...); its seed is held elsewhere")
	return cmd
}

func newEditAccountCmd(a *app) *cobra.Command {
	f := &accountFlags{}
	kf := &accountKeyFlags{}
	cmd := &cobra.Command{
		Use:   "account [NAME]",
		Short: "Change an account's limits, JetStream, default permissions, signing keys and settings; what is not named stays",
		Example: `  natsauth edit account MyAccount --max-connections 1000 --max-data 10GB --max-exports 10 \
    --max-imports 10 --max-payload 1MB --max-subscriptions 1000
  natsauth edit account MyAccount --js-mem-storage 1GB --js-disk-storage 10GB --js-streams 10 --js-consumer 100
  natsauth edit account MyAccount --js-tier 3 --js-disk-storage 10GB --js-max-disk-stream 1GB
  natsauth edit account MyAccount --allow-pub "orders.>" --deny-sub "admin.>" --disallow-bearer --expiry 1y
  natsauth edit account MyAccount --sk generate`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, name, changes := f.edit("edit", args)
			if f.e.IsZero() && !kf.given() && p.Len() == 0 {
				p.Add("nothing to change: give a setting such as --max-connections 100 or --sk generate (see --help)")
			}
			kf.check(p)
			h, err := a.openHome()
			if err != nil {
				return err
			}
			if p.Len() > 0 {
				p.AddErr(f.e.Check())
				if name != "" {
					_, err := h.Account(name)
					p.AddErr(err)
				}
				return p.Err()
			}
			f.e.AddSigningKeys, f.e.RemoveSigningKeys = kf.keys()
			before, _ := h.Account(name)
			return a.change(p, name, func(m *manage.Manager, _ string) (*manage.Result, error) {
				acc, res, err := m.EditAccount(cmd.Context(), name, f.e)
				a.writeAccountChange("edited", acc, changes)
				if acc != nil {
					writeKeyChanges(a.out, before, acc)
					js := acc.Claims.Limits.JetStreamLimits
					if (f.e.JSStreams != nil || f.e.JSConsumer != nil) && js.MemoryStorage == 0 && js.DiskStorage == 0 {
						fmt.Fprintf(a.out, "  note: JetStream stays disabled until --js-mem-storage or --js-disk-storage is set\n")
					}
				}
				return res, err
			})
		},
	}
	f.bind(cmd.Flags(), true)
	kf.bind(cmd.Flags())
	return cmd
}
