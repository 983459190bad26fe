package main

import (
	"github.com/spf13/cobra"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/describe"
	"github.com/natsauth/natsauth/internal/flagspec"
	"github.com/natsauth/natsauth/manage"
)

func init() {
	register("add", func(a *app) *cobra.Command { return newAccountCmd(a, false) })
	register("edit", func(a *app) *cobra.Command { return newAccountCmd(a, true) })
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

// accountSpecs are the settings flags of add/edit account, named as nsc's;
// edit adds the ones that remove something.
func accountSpecs(e *authority.AccountEdit, edit bool) []flagspec.Spec {
	s := []flagspec.Spec{
		flagspec.S("max-connections|conns", "maximum client connections (-1 unlimited)", 's', flagspec.Limit(&e.Conns, false)),
		flagspec.S("max-leafnodes|leaf-conns", "maximum leaf node connections (-1 unlimited)", 's', flagspec.Limit(&e.LeafConns, false)),
		flagspec.S("max-data|data", "maximum data in flight, e.g. 10GB (-1 unlimited)", 's', flagspec.Limit(&e.Data, true)),
		flagspec.S("max-exports|exports", "maximum exports (-1 unlimited)", 's', flagspec.Limit(&e.Exports, false)),
		flagspec.S("max-imports|imports", "maximum imports (-1 unlimited)", 's', flagspec.Limit(&e.Imports, false)),
		flagspec.S("max-payload|payload", "maximum message payload, e.g. 1MB (-1 unlimited)", 's', flagspec.Limit(&e.Payload, true)),
		flagspec.S("max-subscriptions|subscriptions", "maximum subscriptions (-1 unlimited)", 's', flagspec.Limit(&e.Subs, false)),
		flagspec.S("js-mem-storage", "JetStream memory storage, e.g. 1GB (0 disabled, -1 unlimited)", 's', flagspec.Limit(&e.JSMemStorage, true)),
		flagspec.S("js-disk-storage", "JetStream disk storage, e.g. 10GB (0 disabled, -1 unlimited)", 's', flagspec.Limit(&e.JSDiskStorage, true)),
		flagspec.S("js-streams", "JetStream maximum streams (-1 unlimited)", 's', flagspec.Limit(&e.JSStreams, false)),
		flagspec.S("js-consumer", "JetStream maximum consumers (-1 unlimited)", 's', flagspec.Limit(&e.JSConsumer, false)),
		flagspec.S("js-max-ack-pending", "JetStream maximum acks pending per consumer (-1 unlimited)", 's', flagspec.Limit(&e.JSMaxAckPending, false)),
		flagspec.S("js-max-mem-stream", "JetStream maximum bytes of one memory stream (-1 unlimited)", 's', flagspec.Limit(&e.JSMaxMemStream, true)),
		flagspec.S("js-max-disk-stream", "JetStream maximum bytes of one disk stream (-1 unlimited)", 's', flagspec.Limit(&e.JSMaxDiskStream, true)),
		flagspec.S("js-max-bytes-required", "JetStream streams must set a maximum size", 'b', flagspec.To(&e.JSMaxBytesRequired, flagspec.Bool)),
		flagspec.S("js-tier", "JetStream tier the --js-* limits apply to: 1 (R1) or 3 (R3); 0 is the global limits", 's', flagspec.To(&e.JSTier, flagspec.Int)),
		flagspec.S("js-enable", "enable JetStream tier 0 (global), 1 or 3 with unlimited storage", 's', flagspec.To(&e.JSEnable, flagspec.Int)),
		flagspec.S("expiry", expiryUsage, 's', flagspec.To(&e.Expires, flagspec.Time)),
		flagspec.S("start", "valid from: 0 (now), yyyy-mm-dd, or a past time such as -1h", 's', flagspec.To(&e.Start, flagspec.Time)),
		flagspec.S("disallow-bearer", "servers refuse bearer user JWTs of the account (--disallow-bearer=false allows them)", 'b', flagspec.To(&e.DisallowBearer, flagspec.Bool)),
		flagspec.S("wildcard-exports", "allow exports with wildcards (the default; --wildcard-exports=false forbids them)", 'b', flagspec.To(&e.WildcardExports, flagspec.Bool)),
		flagspec.S("description", "description of the account", 's', flagspec.To(&e.Description, flagspec.Text)),
		flagspec.S("info-url", "http(s) URL with more information about the account", 's', flagspec.To(&e.InfoURL, flagspec.Text)),
		flagspec.S("tag", "add tags", 'l', flagspec.List(&e.Tags)),
		flagspec.S("trace-context-subject", `where servers send traces of messages carrying a W3C trace context ("" turns tracing off)`, 's', flagspec.To(&e.TraceSubject, flagspec.Text)),
		flagspec.S("trace-context-sampling", "percentage of those messages traced, 1-100", 's', flagspec.To(&e.TraceSampling, flagspec.Int)),
	}
	s = append(s, permSpecs(&e.DefaultPermissions, "its users without permissions of their own", edit)...)
	if edit {
		s = append(s, flagspec.S("rm-tag", "remove tags", 'l', flagspec.List(&e.RemoveTags)),
			flagspec.S("rm-js-tier", "remove the JetStream limits of tier 0 (global), 1 or 3", 's', flagspec.To(&e.RemoveJSTier, flagspec.Int)),
			flagspec.S("js-disable", "remove every JetStream limit: JetStream off", 'b', flagspec.Value(&e.JSDisable, flagspec.Bool)))
	}
	return s
}

func newAccountCmd(a *app, edit bool) *cobra.Command {
	var e authority.AccountEdit
	var name, pub string
	kf := &accountKeyFlags{}
	verb := map[bool]string{false: "add", true: "edit"}[edit]
	cmd := &cobra.Command{
		Use:   "account [NAME]",
		Short: map[bool]string{false: "Add an account, signed by the operator signing key", true: "Change an account's settings, limits, JetStream, default permissions and signing keys; what is not named stays"}[edit],
		Example: map[bool]string{false: `  natsauth add account -n MyAccount
  natsauth add account -n MyAccount --max-connections 1000 --max-payload 1MB --js-disk-storage 10GB
  natsauth add account -n Partner --public-key AB...   # its seed stays with its owner
  natsauth add account -n Team --allow-sub "team.>" --allow-pub "team.>" --disallow-bearer --tag team`,
			true: `  natsauth edit account MyAccount --max-connections 1000 --max-data 10GB --max-exports 10 \
    --max-imports 10 --max-payload 1MB --max-subscriptions 1000
  natsauth edit account MyAccount --js-mem-storage 1GB --js-disk-storage 10GB --js-streams 10 --js-consumer 100
  natsauth edit account MyAccount --js-tier 3 --js-disk-storage 10GB --js-max-disk-stream 1GB
  natsauth edit account MyAccount --allow-pub "orders.>" --deny-sub "admin.>" --disallow-bearer --expiry 1y
  natsauth edit account MyAccount --sk generate`}[edit],
		Args: cobra.MaximumNArgs(1),
	}
	fs := cmd.Flags()
	fs.StringVarP(&name, "name", "n", "", "account name")
	sp := flagspec.Bind(fs, accountSpecs(&e, edit)...)
	if edit {
		kf.bind(fs)
	} else {
		fs.StringVar(&pub, "public-key", "", "create the account for this account public key (A...); its seed is held elsewhere")
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		p := authority.NewProblems("%s account", verb)
		if name = nameArg(p, "account", args, name); name != "" {
			p.SetOp("%s account %s", verb, name)
		}
		changes := sp.Apply(p.Add)
		if edit && e.IsZero() && !kf.given() && p.Len() == 0 {
			p.Add("nothing to change: give a setting such as --max-connections 100 or --sk generate (see --help)")
		}
		addKeys, rmKeys := kf.keys(p)
		h, err := a.openHome()
		if err != nil {
			return err
		}
		if p.Len() > 0 { // report what the library would find as well
			h.AccountProblems(p, name, e, edit)
			return p.Err()
		}
		before, _ := h.Account(name)
		e.AddSigningKeys, e.RemoveSigningKeys = addKeys, rmKeys
		return a.change(p, name, func(m *manage.Manager, _ string) (*manage.Result, error) {
			change := func() (*authority.AccountInfo, *manage.Result, error) { return m.EditAccount(cmd.Context(), name, e) }
			if !edit {
				change = func() (*authority.AccountInfo, *manage.Result, error) {
					return m.AddAccountWith(cmd.Context(), name, e, authority.AccountIssue{PublicKey: pub})
				}
			}
			acc, res, err := change()
			if acc == nil {
				return res, err
			}
			describe.AccountChanged(a.out, before, acc, e, changes, edit, pub != "")
			return res, err
		})
	}
	return cmd
}
