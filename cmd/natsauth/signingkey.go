package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/natsauth/natsauth/audit"
	"github.com/natsauth/natsauth/authority"
)

func init() {
	register("edit", newEditOperatorCmd)
	register("edit", newEditSigningKeyCmd)
}

// restartNote tells the operator what a change of the operator JWT needs.
func restartNote(w io.Writer, h *authority.Home) {
	fmt.Fprintf(w, "note: servers read the operator JWT only at start. Restart every natsauth serve, and give stock\n"+
		"  nats-servers the new operator JWT (%s, or natsauth describe operator --raw) before restarting them.\n",
		h.OperatorJWTPath())
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
			p := &problemList{op: "edit operator"}
			add, rm := splitList(sks), splitList(rmSks)
			setRequire := cmd.Flags().Changed("require-signing-keys")
			if len(add)+len(rm) == 0 && !setRequire {
				p.add("nothing to change: give --sk generate, --rm-sk KEY or --require-signing-keys (see --help)")
			}
			for _, k := range add {
				if k != "generate" && !strings.HasPrefix(k, "O") {
					p.add("--sk %.60q: give generate or an operator public key (O...)", k)
				}
				if strings.HasPrefix(k, "SO") {
					p.add("--sk: that is an operator seed; give its public key, or generate")
				}
			}
			h, err := a.openHome()
			if err != nil {
				return err
			}
			if err := p.err(); err != nil {
				return err
			}
			var resigned []string
			for _, k := range add {
				if k == "generate" {
					k = ""
				}
				pub, err := h.AddOperatorSigningKey(k)
				if err != nil {
					return err
				}
				a.audit(cmd.Context(), h, operatorChange(h, audit.ActionAddSigningKey, "operator signing key "+pub))
				fmt.Fprintf(a.out, "added operator signing key %s\n", pub)
			}
			for _, k := range rm {
				if err := h.RemoveOperatorSigningKey(k); err != nil {
					return err
				}
				a.audit(cmd.Context(), h, operatorChange(h, audit.ActionRemoveSigningKey, "operator signing key "+k))
				fmt.Fprintf(a.out, "removed operator signing key %s\n", k)
			}
			if setRequire {
				accs, err := h.SetRequireSigningKeys(require)
				if err != nil {
					return err
				}
				entries := []audit.Entry{operatorChange(h, audit.ActionEditOperator, "require signing keys: "+yesNo(require))}
				for i := range accs {
					entries = append(entries, accountChange(audit.ActionEditAccount, nil, &accs[i], "re-signed with the operator signing key"))
				}
				a.audit(cmd.Context(), h, entries...)
				fmt.Fprintf(a.out, "operator %s requires signing keys: %s\n", h.OperatorName(), yesNo(require))
				for _, acc := range accs {
					fmt.Fprintf(a.out, "  re-signed account %s with the operator signing key\n", acc.Name)
					resigned = append(resigned, acc.Name)
				}
			}
			restartNote(a.out, h)
			if len(resigned) > 0 {
				return a.publish(cmd.Context(), h, resigned...)
			}
			return nil
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

// check reports malformed values.
func (f *accountKeyFlags) check(p *problemList) {
	for _, k := range splitList(f.sk) {
		switch {
		case strings.HasPrefix(k, "SA"):
			p.add("--sk: that is an account seed; give its public key, or generate")
		case k != "generate" && !strings.HasPrefix(k, "A"):
			p.add("--sk %.60q: give generate or an account public key (A...)", k)
		}
	}
}

// apply adds and removes the account's signing keys and reports each.
func (f *accountKeyFlags) apply(ctx context.Context, a *app, h *authority.Home, account string) error {
	for _, k := range splitList(f.sk) {
		if k == "generate" {
			k = ""
		}
		before, _ := h.Account(account)
		acc, pub, err := h.AddAccountSigningKey(account, k)
		if err != nil {
			return err
		}
		a.audit(ctx, h, accountChange(audit.ActionAddSigningKey, before, acc, "account signing key "+pub))
		fmt.Fprintf(a.out, "  added signing key %s (new users of %s are signed with it)\n", pub, account)
	}
	for _, k := range splitList(f.rmSk) {
		before, _ := h.Account(account)
		acc, err := h.RemoveAccountSigningKey(account, k)
		if err != nil {
			return err
		}
		a.audit(ctx, h, accountChange(audit.ActionRemoveSigningKey, before, acc, "account signing key "+k))
		fmt.Fprintf(a.out, "  removed signing key %s\n", k)
	}
	return nil
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
			p := &problemList{op: "edit signing-key"}
			fs := cmd.Flags()
			for _, n := range []string{"name", "expiry", "start", "tag", "rm-tag"} {
				if fs.Changed(n) {
					p.add("--%s belongs to a user, not to a signing key's template", n)
				}
			}
			if key == "" {
				p.add("the signing key is required: give --sk PUBKEY (or its role)")
			}
			e := f.edit(p, fs, time.Now())
			var r *string
			if fs.Changed("role") {
				r = &role
			}
			if r == nil && e.IsZero() && len(p.items) == 0 {
				p.add("nothing to change: give --role or a permission such as --allow-pub SUBJECT")
			}
			h, err := a.openHome()
			if err != nil {
				return err
			}
			account, err := pickAccount(h, f.account)
			p.addErr(err)
			if err := p.err(); err != nil {
				return err
			}
			before, _ := h.Account(account)
			acc, scope, err := h.EditSigningKey(account, key, authority.SigningKeyEdit{Role: r, Template: e})
			if err != nil {
				return err
			}
			a.audit(cmd.Context(), h, accountChange(audit.ActionEditSigningKey, before, acc,
				fmt.Sprintf("signing key %s role %q", scope.Key, scope.Role)))
			fmt.Fprintf(a.out, "edited signing key %s of account %s: role %q\n", scope.Key, acc.Name, scope.Role)
			writePermissionSummary(a.out, scope.Template.Permissions)
			return a.publish(cmd.Context(), h, acc.Name)
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

// writePermissionSummary prints allow/deny lists and the response permission.
func writePermissionSummary(w io.Writer, p jwt.Permissions) {
	for _, l := range []struct {
		name string
		v    []string
	}{
		{"pub allow", p.Pub.Allow}, {"pub deny", p.Pub.Deny}, {"sub allow", p.Sub.Allow}, {"sub deny", p.Sub.Deny},
	} {
		if len(l.v) > 0 {
			fmt.Fprintf(w, "  %-10s %s\n", l.name, strings.Join(l.v, ", "))
		}
	}
	if p.Resp != nil {
		fmt.Fprintf(w, "  %-10s %s\n", "responses", formatResp(p.Resp.MaxMsgs, p.Resp.Expires))
	}
}

// signingKeyLines renders an account's signing keys for describe account.
func signingKeyLines(c *jwt.AccountClaims) []string {
	keys := c.SigningKeys.Keys()
	sort.Strings(keys)
	var out []string
	for _, k := range keys {
		if us, ok := c.SigningKeys[k].(*jwt.UserScope); ok && us != nil {
			out = append(out, fmt.Sprintf("%s (scoped, role %q)", k, us.Role))
			continue
		}
		out = append(out, k)
	}
	return out
}

// writeUserSigner says which signing key signed a user, and its role.
func writeUserSigner(a *app, h *authority.Home, u *authority.UserInfo) {
	if u.Claims.IssuerAccount == "" {
		return
	}
	acc, err := h.Account(u.Account)
	if err != nil {
		return
	}
	if us, ok := acc.Claims.SigningKeys[u.Claims.Issuer].(*jwt.UserScope); ok && us != nil {
		fmt.Fprintf(a.out, "  %-10s %s (scoped, role %q: its template sets the permissions)\n", "signer", u.Claims.Issuer, us.Role)
		return
	}
	fmt.Fprintf(a.out, "  %-10s %s (account signing key)\n", "signer", u.Claims.Issuer)
}
