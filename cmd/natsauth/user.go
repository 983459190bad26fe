package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/describe"
	"github.com/natsauth/natsauth/internal/units"
)

func init() {
	register("add", newAddUserCmd)
	register("edit", newEditUserCmd)
}

// userFlags are the permission and limit flags of add/edit user, named as
// nsc's. List flags take comma-separated values or repeat.
type userFlags struct {
	name, account                   string
	allowPub, allowSub, allowPubSub []string
	denyPub, denySub, denyPubSub    []string
	respMax, respTTL                rawValue
	expiry, start                   rawValue
	bearer                          bool
	src, tags                       []string
	// edit only
	rm, rmSrc, rmTags []string
	rmResp            bool
}

func (f *userFlags) bind(fs *pflag.FlagSet, edit bool) {
	fs.StringVarP(&f.name, "name", "n", "", "user name")
	fs.StringVarP(&f.account, "account", "a", "", "account of the user (optional when there is one account besides SYS)")
	list := func(p *[]string, name, usage string) {
		fs.StringArrayVar(p, name, nil, usage+" (comma-separated or repeated)")
	}
	list(&f.allowPub, "allow-pub", "add subjects the user may publish to")
	list(&f.allowSub, "allow-sub", `add subjects the user may subscribe to; "subject queue" for a queue group`)
	list(&f.allowPubSub, "allow-pubsub", "add subjects the user may publish and subscribe to")
	list(&f.denyPub, "deny-pub", "add subjects the user may not publish to")
	list(&f.denySub, "deny-sub", "add subjects the user may not subscribe to")
	list(&f.denyPubSub, "deny-pubsub", "add subjects the user may neither publish nor subscribe to")
	fs.Var(&f.respMax, "allow-pub-response", "allow publishing responses to received requests [=N responses per request, -1 unlimited]")
	fs.Lookup("allow-pub-response").NoOptDefVal = "1"
	fs.Var(&f.respTTL, "response-ttl", "how long a response may be sent after the request, e.g. 5s")
	fs.Var(&f.expiry, "expiry", "valid until: 0 (never), yyyy-mm-dd, or a number with m(inutes) h(ours) d(ays) w(eeks) M(onths) y(ears), e.g. 30d")
	fs.Var(&f.start, "start", "valid from: 0 (now), yyyy-mm-dd, or a number with m h d w M y, e.g. 1h")
	fs.BoolVar(&f.bearer, "bearer", false, "bearer token: connect without signing the server nonce")
	list(&f.src, "source-network", "add source networks (CIDR, e.g. 10.0.0.0/8) the user may connect from")
	list(&f.tags, "tag", "add tags")
	if edit {
		list(&f.rm, "rm", "remove subjects from every allow and deny list")
		fs.BoolVar(&f.rmResp, "rm-response-perms", false, "remove the response permission")
		list(&f.rmSrc, "rm-source-network", "remove source networks")
		list(&f.rmTags, "rm-tag", "remove tags")
	}
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
func (f *userFlags) edit(p *authority.Problems, fs *pflag.FlagSet, now time.Time) authority.UserEdit {
	e := authority.UserEdit{
		AllowPub: splitList(f.allowPub), AllowSub: splitList(f.allowSub), AllowPubSub: splitList(f.allowPubSub),
		DenyPub: splitList(f.denyPub), DenySub: splitList(f.denySub), DenyPubSub: splitList(f.denyPubSub),
		Remove: splitList(f.rm), RemoveResp: f.rmResp,
		Src: splitList(f.src), RemoveSrc: splitList(f.rmSrc), Tags: splitList(f.tags), RemoveTags: splitList(f.rmTags),
	}
	if f.respMax.set {
		n, err := strconv.Atoi(strings.TrimSpace(f.respMax.s))
		if err != nil {
			p.Add("--allow-pub-response=%q: give a number of responses, e.g. --allow-pub-response=5", f.respMax.s)
		} else {
			e.RespMax = &n
		}
	}
	if f.respTTL.set {
		d, err := units.ParseTTL(f.respTTL.s)
		if err != nil {
			p.Add("--response-ttl: %v", err)
		} else {
			e.RespTTL = &d
		}
	}
	for _, t := range []struct {
		name string
		v    *rawValue
		dst  **time.Time
	}{{"expiry", &f.expiry, &e.Expires}, {"start", &f.start, &e.Start}} {
		if !t.v.set {
			continue
		}
		at, err := units.ParseExpiry(t.v.s, now)
		if err != nil {
			p.Add("--%s: %v", t.name, err)
			continue
		}
		*t.dst = &at
	}
	if fs.Changed("bearer") {
		e.Bearer = &f.bearer
	}
	return e
}

// userName picks the user name from the argument or -n, with a hint for
// the common `--allow-pub-response 5` slip (the count needs '=').
func (f *userFlags) userName(p *authority.Problems, args []string) string {
	if len(args) == 1 && f.respMax.set && f.name != "" {
		if _, err := strconv.Atoi(args[0]); err == nil {
			p.Add("unexpected argument %q: write the response count as --allow-pub-response=%s", args[0], args[0])
			return f.name
		}
	}
	return nameArg(p, "user", args, f.name)
}

func newAddUserCmd(a *app) *cobra.Command {
	f := &userFlags{}
	var signingKey, publicKey string
	cmd := &cobra.Command{
		Use:   "user [NAME]",
		Short: "Add a user with permissions, signed by its account, and write its creds",
		Example: `  natsauth add user -n alice --allow-pub "orders.>" --allow-sub "orders.alice.>" --allow-pub-response
  natsauth add user -n bob --allow-pubsub "inventory.>" --deny-pub inventory.delete
  natsauth add user -n svc -a MyAccount --allow-sub "jobs.* workers" --expiry 30d --source-network 10.0.0.0/8
  natsauth add user -n worker1 -K service        # signed by the scoped signing key with role "service"
  natsauth add user -n device7 -k UDXU...        # from a public key: the seed never leaves the device`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p := authority.NewProblems("add user")
			name := f.userName(p, args)
			if name != "" {
				p.SetOp("add user %s", name)
			}
			e := f.edit(p, cmd.Flags(), time.Now())
			m, err := a.manager()
			if err != nil {
				return err
			}
			defer m.Close()
			h := m.Home()
			account, err := pickAccount(h, f.account)
			p.AddErr(err)
			if p.Len() > 0 {
				// Report the problems the library would find as well.
				if name != "" {
					if err := authority.CheckName("user", name); err != nil {
						p.Add("%v", err)
					}
				}
				p.AddErr(e.Check())
				if account != "" {
					_, err := h.Account(account)
					p.AddErr(err)
				}
				return p.Err()
			}
			u, err := m.AddUser(cmd.Context(), account, name, e, authority.UserIssue{PublicKey: publicKey, SigningKey: signingKey})
			if err != nil {
				return err
			}
			fmt.Fprintf(a.out, "added user %s %s to account %s\n", u.Name, u.Pub, u.Account)
			describe.UserSummary(a.out, u)
			if acc, err := h.Account(u.Account); err == nil {
				describe.UserSigner(a.out, acc, u)
			}
			if publicKey != "" {
				fmt.Fprintf(a.out, "  creds  none: the user was issued from its public key and its seed is not here.\n"+
					"         The holder of the seed makes the creds file from the user JWT:\n"+
					"         natsauth describe user -a %s -n %s --raw > %s.jwt\n", u.Account, u.Name, u.Name)
				return nil
			}
			fmt.Fprintf(a.out, "  creds  %s\n", h.CredsPath(u.Account, u.Name))
			return nil
		},
	}
	f.bind(cmd.Flags(), false)
	cmd.Flags().StringVarP(&signingKey, "private-key", "K", "",
		"account key that signs the user: the role of a scoped signing key, or a signing key's public key")
	cmd.Flags().StringVarP(&publicKey, "public-key", "k", "",
		"issue the user for this user public key (U...); no seed is stored and no creds file written")
	return cmd
}

func newEditUserCmd(a *app) *cobra.Command {
	f := &userFlags{}
	cmd := &cobra.Command{
		Use:   "user [NAME]",
		Short: "Change a user's permissions and limits; its JWT and creds are re-issued",
		Example: `  natsauth edit user alice --allow-pub "payments.>" --response-ttl 5s
  natsauth edit user bob --rm inventory.delete --expiry 0`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p := authority.NewProblems("edit user")
			name := f.userName(p, args)
			if name != "" {
				p.SetOp("edit user %s", name)
			}
			e := f.edit(p, cmd.Flags(), time.Now())
			if e.IsZero() && p.Len() == 0 {
				p.Add("nothing to change: give a permission or setting such as --allow-pub SUBJECT (see --help)")
			}
			m, err := a.manager()
			if err != nil {
				return err
			}
			defer m.Close()
			h := m.Home()
			account, err := pickAccount(h, f.account)
			p.AddErr(err)
			if p.Len() > 0 {
				p.AddErr(e.Check())
				if account != "" && name != "" {
					_, err := h.User(account, name)
					p.AddErr(err)
				}
				return p.Err()
			}
			u, reRevoked, err := m.EditUser(cmd.Context(), account, name, e)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.out, "edited user %s %s in account %s\n", u.Name, u.Pub, u.Account)
			describe.UserSummary(a.out, u)
			fmt.Fprintf(a.out, "  creds  %s\n", h.CredsPath(u.Account, u.Name))
			if reRevoked {
				fmt.Fprintf(a.errOut, "warning: %s was revoked; the re-issued JWT is newer than the revocation and is accepted.\n"+
					"  revoke it again with: natsauth revocations add-user -a %s -n %s\n", u.Name, u.Account, u.Name)
			}
			return nil
		},
	}
	f.bind(cmd.Flags(), true)
	return cmd
}
