package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/describe"
	"github.com/natsauth/natsauth/manage"
)

func init() {
	register("edit", newEditOperatorCmd)
	register("edit", newEditSigningKeyCmd)
}

func newEditOperatorCmd(a *app) *cobra.Command {
	var sks, rmSks []string
	var require bool
	cmd := &cobra.Command{
		Use:   "operator",
		Short: "Add or remove operator signing keys; require signing keys",
		Long: `Edit the operator JWT (signed by the operator identity key, whose seed must be in the keystore).

--sk generate adds a new operator signing key (or --sk OPUBKEY adds a key whose seed is kept elsewhere).
natsauth keeps signing accounts with the key servers already trust; to move to a new key, use
natsauth rotate operator-signing-key. --rm-sk removes a key no account of the home is signed by.

--require-signing-keys makes servers refuse accounts signed by the operator identity key and users
signed by an account identity key. Accounts the identity key signed are re-signed and published; users
signed by an account identity key must first move to a signing key (natsauth rotate
account-signing-key -a ACCOUNT), or the change is refused.

Servers read the operator JWT only at start: restart them after an edit.`,
		Example: `  natsauth edit operator --sk generate
  natsauth edit operator --rm-sk OAB...
  natsauth edit operator --require-signing-keys`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p := authority.NewProblems("edit operator")
			add, rm := splitList(sks), splitList(rmSks)
			setRequire := cmd.Flags().Changed("require-signing-keys")
			if len(add)+len(rm) == 0 && !setRequire {
				p.Add("nothing to change: give --sk generate, --rm-sk KEY or --require-signing-keys (see --help)")
			}
			for _, k := range add {
				if k != "generate" && !strings.HasPrefix(k, "O") {
					p.Add("--sk %.60q: give generate or an operator public key (O...)", k)
				}
				if strings.HasPrefix(k, "SO") {
					p.Add("--sk: that is an operator seed; give its public key, or generate")
				}
			}
			if err := p.Err(); err != nil {
				return err
			}
			e := manage.OperatorEdit{RemoveSigningKeys: rm}
			for _, k := range add {
				e.AddSigningKeys = append(e.AddSigningKeys, strings.TrimPrefix(k, "generate"))
			}
			if setRequire {
				e.RequireSigningKeys = &require
			}
			return a.withManager(func(m *manage.Manager) error {
				out, res, err := m.EditOperator(cmd.Context(), e)
				var required *bool
				if setRequire && err == nil {
					required = &require
				}
				describe.OperatorEdited(a.out, m.Home(), out.Added, out.Removed, required, out.Resigned)
				res.WriteText(a.out)
				return err
			})
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&sks, "sk", nil, "add a signing key: generate, or an operator public key (comma-separated or repeated)")
	fl.StringArrayVar(&rmSks, "rm-sk", nil, "remove a signing key (comma-separated or repeated)")
	fl.BoolVar(&require, "require-signing-keys", false, "require accounts and users to be signed by signing keys (=false to stop)")
	return cmd
}

// accountKeyFlags are the signing-key flags of `edit account`.
type accountKeyFlags struct {
	sk, rmSk []string
}

func (f *accountKeyFlags) bind(fs *pflag.FlagSet) {
	fs.StringArrayVar(&f.sk, "sk", nil, "add a signing key: generate, or an account public key (comma-separated or repeated)")
	fs.StringArrayVar(&f.rmSk, "rm-sk", nil, "remove a signing key by public key or role (comma-separated or repeated)")
}

// given reports whether any signing-key flag was used.
func (f *accountKeyFlags) given() bool { return len(f.sk)+len(f.rmSk) > 0 }

// keys are the signing keys to add ("" generates one) and to remove; p
// gets the malformed values.
func (f *accountKeyFlags) keys(p *authority.Problems) (add, rm []string) {
	for _, k := range splitList(f.sk) {
		switch {
		case strings.HasPrefix(k, "SA"):
			p.Add("--sk: that is an account seed; give its public key, or generate")
		case k != "generate" && !strings.HasPrefix(k, "A"):
			p.Add("--sk %.60q: give generate or an account public key (A...)", k)
		}
		add = append(add, strings.TrimPrefix(k, "generate"))
	}
	return add, splitList(f.rmSk)
}

func newEditSigningKeyCmd(a *app) *cobra.Command {
	f := &userFlags{}
	var key, role string
	cmd := &cobra.Command{
		Use:   "signing-key",
		Short: "Scope an account signing key: a role and the permissions its users get",
		Long: `Make an account signing key a scoped key, or change its scope: a role (add user -K ROLE signs
with it) and a template of permissions and limits. Users signed by a scoped key carry no permissions
of their own; servers apply the template, and when it changes they disconnect those users, who
reconnect under the new template. The permission flags are add user's.`,
		Example: `  natsauth edit account MyAccount --sk generate
  natsauth edit signing-key -a MyAccount --sk AB... --role service --allow-sub "orders.>" --allow-pub-response
  natsauth add user -a MyAccount -n worker1 -K service`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p := authority.NewProblems("edit signing-key")
			fs := cmd.Flags()
			for _, n := range []string{"name", "expiry", "start", "tag", "rm-tag"} {
				if fs.Changed(n) {
					p.Add("--%s belongs to a user, not to a signing key's template", n)
				}
			}
			if key == "" {
				p.Add("the signing key is required: give --sk PUBKEY (or its role)")
			}
			e := f.edit(p)
			var r *string
			if fs.Changed("role") {
				r = &role
			}
			if r == nil && e.IsZero() && p.Len() == 0 {
				p.Add("nothing to change: give --role or a permission such as --allow-pub SUBJECT")
			}
			return a.change(p, f.account, func(m *manage.Manager, account string) (*manage.Result, error) {
				acc, scope, res, err := m.EditSigningKey(cmd.Context(), account, key, authority.SigningKeyEdit{Role: r, Template: e})
				if acc != nil {
					fmt.Fprintf(a.out, "edited signing key %s of account %s: role %q\n", scope.Key, acc.Name, scope.Role)
					describe.Permissions(a.out, scope.Template.Permissions)
				}
				return res, err
			})
		},
	}
	f.bind(cmd.Flags(), true)
	for _, n := range []string{"name", "expiry", "start", "tag", "rm-tag"} {
		_ = cmd.Flags().MarkHidden(n)
	}
	cmd.Flags().StringVar(&key, "sk", "", "the account signing key (public key, or the role of a scoped key)")
	cmd.Flags().StringVar(&role, "role", "", "role of the scoped key (add user -K ROLE)")
	return cmd
}
