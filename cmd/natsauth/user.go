package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/describe"
	"github.com/natsauth/natsauth/internal/flagspec"
	"github.com/natsauth/natsauth/manage"
)

func init() {
	register("add", func(a *app) *cobra.Command { return newUserCmd(a, false) })
	register("edit", func(a *app) *cobra.Command { return newUserCmd(a, true) })
}

// userFlags are the permission, validity and limit flags of add/edit user
// (and of a signing key's template), named as nsc's.
type userFlags struct {
	name, account string
	perms         authority.PermissionEdit
	e             authority.UserEdit
	specs         *flagspec.Set
}

func (f *userFlags) bind(fs *pflag.FlagSet, edit bool) {
	fs.StringVarP(&f.name, "name", "n", "", "user name")
	fs.StringVarP(&f.account, "account", "a", "", "account of the user (optional when there is one account besides SYS)")
	e := &f.e
	s := append(permSpecs(&f.perms, "the user", edit),
		flagspec.S("expiry", expiryUsage, 's', flagspec.To(&e.Expires, flagspec.Time)),
		flagspec.S("start", startUsage, 's', flagspec.To(&e.Start, flagspec.Time)),
		flagspec.S("bearer", "bearer token: connect without signing the server nonce", 'b', flagspec.To(&e.Bearer, flagspec.Bool)),
		flagspec.S("source-network", "add source networks (CIDR, e.g. 10.0.0.0/8) the user may connect from", 'l', flagspec.List(&e.Src)),
		flagspec.S("tag", "add tags", 'l', flagspec.List(&e.Tags)),
		flagspec.S("subs", "maximum subscriptions of the user (-1 unlimited)", 's', flagspec.Limit(&e.Subs, false)),
		flagspec.S("data", "maximum data in flight of the user, e.g. 1MB (-1 unlimited)", 's', flagspec.Limit(&e.Data, true)),
		flagspec.S("payload", "maximum message payload of the user, e.g. 64K (-1 unlimited)", 's', flagspec.Limit(&e.Payload, true)),
		flagspec.S("conn-type", "allow only these connection types: STANDARD, WEBSOCKET, LEAFNODE, LEAFNODE_WS, MQTT, MQTT_WS, IN_PROCESS", 'l', flagspec.List(&e.ConnTypes)),
		flagspec.S("time", "allow connecting only within this daily window, hh:mm:ss-hh:mm:ss (repeat for several)", 'l', flagspec.List(&e.Times)),
		flagspec.S("locale", "IANA time zone of the --time windows, e.g. Europe/Berlin (default: the server's local time)", 's', flagspec.To(&e.Locale, flagspec.Text)))
	if edit {
		s = append(s, flagspec.S("rm-source-network", "remove source networks", 'l', flagspec.List(&e.RemoveSrc)),
			flagspec.S("rm-tag", "remove tags", 'l', flagspec.List(&e.RemoveTags)),
			flagspec.S("rm-conn-type", "remove allowed connection types", 'l', flagspec.List(&e.RemoveConnTypes)),
			flagspec.S("rm-time", "remove the connect-time windows starting at these times (hh:mm:ss)", 'l', flagspec.List(&e.RemoveTimes)))
	}
	f.specs = flagspec.Bind(fs, s...)
}

// splitList flattens repeated, comma-separated flag values.
func splitList(vals []string) []string {
	var out []string
	for _, v := range vals {
		for _, s := range strings.Split(v, ",") {
			out = append(out, strings.TrimSpace(s))
		}
	}
	return out
}

// edit parses the flags into a UserEdit, recording every bad value.
func (f *userFlags) edit(p *authority.Problems) authority.UserEdit {
	f.specs.Apply(p.Add)
	e, pe := f.e, f.perms
	e.AllowPub, e.AllowSub, e.AllowPubSub, e.DenyPub, e.DenySub, e.DenyPubSub = pe.AllowPub, pe.AllowSub, pe.AllowPubSub, pe.DenyPub, pe.DenySub, pe.DenyPubSub
	e.Remove, e.RespMax, e.RespTTL, e.RemoveResp = pe.Remove, pe.RespMax, pe.RespTTL, pe.RemoveResp
	return e
}

// userName picks the user name from the argument or -n, with a hint for
// the common `--allow-pub-response 5` slip (the count needs '=').
func (f *userFlags) userName(p *authority.Problems, fs *pflag.FlagSet, args []string) string {
	if len(args) == 1 && fs.Changed("allow-pub-response") && f.name != "" {
		if _, err := strconv.Atoi(args[0]); err == nil {
			p.Add("unexpected argument %q: write the response count as --allow-pub-response=%s", args[0], args[0])
			return f.name
		}
	}
	return nameArg(p, "user", args, f.name)
}

func newUserCmd(a *app, edit bool) *cobra.Command {
	f := &userFlags{}
	var signingKey, publicKey string
	verb := map[bool]string{false: "add", true: "edit"}[edit]
	cmd := &cobra.Command{
		Use:   "user [NAME]",
		Short: map[bool]string{false: "Add a user with permissions, signed by its account, and write its creds", true: "Change a user's permissions and limits; its JWT and creds are re-issued"}[edit],
		Example: map[bool]string{false: `  natsauth add user -n alice --allow-pub "orders.>" --allow-sub "orders.alice.>" --allow-pub-response
  natsauth add user -n bob --allow-pubsub "inventory.>" --deny-pub inventory.delete
  natsauth add user -n svc -a MyAccount --allow-sub "jobs.* workers" --expiry 30d --source-network 10.0.0.0/8
  natsauth add user -n kiosk --conn-type WEBSOCKET --time 08:00:00-18:00:00 --locale Europe/Berlin --payload 64K
  natsauth add user -n worker1 -K service        # signed by the scoped signing key with role "service"
  natsauth add user -n device7 -k UDXU...        # from a public key: the seed never leaves the device`,
			true: `  natsauth edit user alice --allow-pub "payments.>" --response-ttl 5s
  natsauth edit user bob --rm inventory.delete --expiry 0 --subs 100 --rm-conn-type MQTT`}[edit],
		Args: cobra.MaximumNArgs(1),
	}
	f.bind(cmd.Flags(), edit)
	if !edit {
		cmd.Flags().StringVarP(&signingKey, "private-key", "K", "",
			"account key that signs the user: the role of a scoped signing key, or a signing key's public key")
		cmd.Flags().StringVarP(&publicKey, "public-key", "k", "",
			"issue the user for this user public key (U...); no seed is stored and no creds file written")
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		p := authority.NewProblems("%s user", verb)
		name := f.userName(p, cmd.Flags(), args)
		if name != "" {
			p.SetOp("%s user %s", verb, name)
		}
		e := f.edit(p)
		if edit && e.IsZero() && p.Len() == 0 {
			p.Add("nothing to change: give a permission or setting such as --allow-pub SUBJECT (see --help)")
		}
		m, err := a.manager()
		if err != nil {
			return err
		}
		defer m.Close()
		h := m.Home()
		account, err := manage.PickAccount(h, f.account)
		p.AddErr(err)
		if p.Len() > 0 { // report the problems the library would find as well
			h.UserProblems(p, account, name, e, edit)
			return p.Err()
		}
		var u *authority.UserInfo
		var reRevoked bool
		if edit {
			u, reRevoked, err = m.EditUser(cmd.Context(), account, name, e)
		} else {
			u, err = m.AddUser(cmd.Context(), account, name, e, authority.UserIssue{PublicKey: publicKey, SigningKey: signingKey})
		}
		if err != nil {
			return err
		}
		describe.UserIssued(a.out, h, u, edit, publicKey != "")
		if reRevoked {
			fmt.Fprintf(a.errOut, "warning: %s was revoked; the re-issued JWT is newer than the revocation and is accepted.\n"+
				"  revoke it again with: natsauth revocations add-user -a %s -n %s\n", u.Name, u.Account, u.Name)
		}
		return nil
	}
	return cmd
}

// Usages shared by several commands.
const (
	expiryUsage = "valid until: 0 (never), yyyy-mm-dd, or a number with m(inutes) h(ours) d(ays) w(eeks) M(onths) y(ears), e.g. 30d"
	startUsage  = "valid from: 0 (now), yyyy-mm-dd, or a number with m h d w M y, e.g. 1h"
	acctUsage   = "account (optional when there is one account besides SYS)"
)

// permSpecs are the permission flags of a user, a signing key's template
// or an account's default permissions, named as nsc's; who says whose.
func permSpecs(e *authority.PermissionEdit, who string, edit bool) []flagspec.Spec {
	s := []flagspec.Spec{
		flagspec.S("allow-pub", "add subjects "+who+" may publish to", 'l', flagspec.List(&e.AllowPub)),
		flagspec.S("allow-sub", "add subjects "+who+` may subscribe to; "subject queue" for a queue group`, 'l', flagspec.List(&e.AllowSub)),
		flagspec.S("allow-pubsub", "add subjects "+who+" may publish and subscribe to", 'l', flagspec.List(&e.AllowPubSub)),
		flagspec.S("deny-pub", "add subjects "+who+" may not publish to", 'l', flagspec.List(&e.DenyPub)),
		flagspec.S("deny-sub", "add subjects "+who+" may not subscribe to", 'l', flagspec.List(&e.DenySub)),
		flagspec.S("deny-pubsub", "add subjects "+who+" may neither publish nor subscribe to", 'l', flagspec.List(&e.DenyPubSub)),
		flagspec.S("allow-pub-response", "allow "+who+" to publish responses to received requests [=N per request, -1 unlimited]", '1', flagspec.To(&e.RespMax, flagspec.Int)),
		flagspec.S("response-ttl", "how long a response may be sent after the request, e.g. 5s", 's', flagspec.To(&e.RespTTL, flagspec.Duration)),
	}
	if edit {
		s = append(s, flagspec.S("rm", "remove subjects from every allow and deny list", 'l', flagspec.List(&e.Remove)),
			flagspec.S("rm-response-perms", "remove the response permission", 'b', flagspec.Value(&e.RemoveResp, flagspec.Bool)))
	}
	return s
}
