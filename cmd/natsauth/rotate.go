package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
	"github.com/spf13/cobra"

	"github.com/natsauth/natsauth/audit"
	"github.com/natsauth/natsauth/authority"
)

func init() {
	register("rotate", newRotateAccountKeyCmd)
	register("rotate", newRotateOperatorKeyCmd)
}

// rotateFlags are shared by both rotate commands.
type rotateFlags struct {
	sys     sysFlags
	key     string
	settle  time.Duration
	timeout time.Duration
}

func (f *rotateFlags) bind(cmd *cobra.Command) {
	fl := cmd.Flags()
	f.sys.bind(fl, "check that every server applied each step")
	fl.StringVar(&f.key, "key", "", "the signing key to retire (public key, or role of a scoped account key); default: the only one")
	fl.DurationVar(&f.settle, "settle", 3*time.Second, "without --server: how long to wait for servers to read the store after a publish")
	fl.DurationVar(&f.timeout, "timeout", 30*time.Second, "with --server: how long to wait for every server to apply a step")
}

// pausedError says a rotation stopped between steps and how to resume.
func pausedError(err error, resume string) error {
	return fmt.Errorf("%w\nthe rotation is paused and recorded in the home; fix the problem and run %s again to resume", err, resume)
}

func newRotateAccountKeyCmd(a *app) *cobra.Command {
	var f rotateFlags
	var account string
	var keepOld bool
	cmd := &cobra.Command{
		Use:   "account-signing-key",
		Short: "Replace an account signing key: add a new key, re-issue its users, remove the old key",
		Long: `Replace an account signing key without a moment where a user holding fresh creds is refused:

  1. a new signing key (with the old one's scope) is added beside the old one, and the account
     JWT listing both is published to the store; natsauth waits until the servers apply it
     (with --server it connects a throwaway user signed by the new key to every server of the
     cluster until all accept it; without, it waits --settle);
  2. every user the old key signed is re-signed with the new key (keeping its issued-at time, so
     revocations still apply) and its creds file in the home rewritten;
  3. the old key is removed and its seed deleted, and the account JWT published again: servers
     disconnect connections made with the old creds (clients that re-read their creds file, as
     nats.go's UserCredentials does, reconnect with the new ones) and refuse the old creds.

An account without signing keys moves its users from the identity key to a new signing key (the
identity key stays: it is the account). The rotation is recorded in the home: if a step fails,
run the command again to resume. --keep-old stops after step 2, to hand out re-issued creds
before the old ones stop working; run again to finish.`,
		Example: `  natsauth rotate account-signing-key -a MyAccount --server nats://127.0.0.1:4222
  natsauth rotate account-signing-key -a MyAccount --key service --keep-old`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			h, err := a.openHome()
			if err != nil {
				return err
			}
			account, err := pickAccount(h, account)
			if err != nil {
				return fmt.Errorf("rotate account-signing-key: %w", err)
			}
			resume := "natsauth rotate account-signing-key -a " + account
			var nc *nats.Conn
			if f.sys.server != "" {
				if nc, err = f.sys.connect(h, "natsauth rotate"); err != nil {
					return fmt.Errorf("rotate account-signing-key: %w", err)
				}
				defer nc.Close()
			}
			pending, err := h.PendingRotation(authority.RotateAccount, account)
			if err != nil {
				return err
			}
			before, _ := h.Account(account)
			r, acc, err := h.BeginAccountKeyRotation(account, f.key)
			if err != nil {
				return err
			}
			if pending == nil {
				a.audit(ctx, h, accountChange(audit.ActionRotate, before, acc,
					fmt.Sprintf("step 1/3: added signing key %s to replace %s", r.New, r.Old)))
			}
			what := "signing key " + r.Old
			if r.IdentityKey {
				what = "identity key " + r.Old + " (it stays: it is the account; its users move to the new signing key)"
			}
			if pending != nil {
				fmt.Fprintf(a.out, "resuming the rotation of account %s started %s\n", account, r.Started.Format(time.RFC3339))
			}
			fmt.Fprintf(a.out, "step 1/3: account %s lists the new signing key %s beside the %s\n", account, r.New, what)
			if err := a.publish(ctx, h, account); err != nil {
				return pausedError(err, resume)
			}
			fresh, err := newProbe(h, acc, r.New)
			if err != nil {
				return pausedError(err, resume)
			}
			if err := a.awaitServers(ctx, nc, f, fresh, true); err != nil {
				return pausedError(err, resume)
			}

			old := map[string]authority.UserInfo{}
			if us, err := h.Users(account); err == nil {
				for _, u := range us {
					old[u.Name] = u
				}
			}
			users, err := h.ReissueAccountUsers(r)
			if err != nil {
				return pausedError(err, resume)
			}
			var entries []audit.Entry
			for i := range users {
				var prev *authority.UserInfo
				if u, ok := old[users[i].Name]; ok {
					prev = &u
				}
				entries = append(entries, userChange(audit.ActionRotate, prev, &users[i].UserInfo,
					fmt.Sprintf("step 2/3: re-issued with signing key %s (was %s)", r.New, r.Old)))
			}
			if len(entries) > 0 {
				a.audit(ctx, h, entries...)
			}
			fmt.Fprintf(a.out, "step 2/3: re-issued %d users signed by the old key\n", len(users))
			for _, u := range users {
				if u.CredsWritten {
					fmt.Fprintf(a.out, "  %-20s creds rewritten: %s\n", u.Name, h.CredsPath(u.Account, u.Name))
				} else {
					fmt.Fprintf(a.out, "  %-20s no seed here: give its holder the new JWT (natsauth describe user -a %s -n %s --raw)\n",
						u.Name, u.Account, u.Name)
				}
			}
			if keepOld {
				fmt.Fprintf(a.out, "the old key stays until you run %s again (--keep-old): hand out the re-issued creds first\n", resume)
				return nil
			}

			var stale probe
			if !r.IdentityKey {
				// Minted while the old seed is still here: once servers refuse
				// it, they refuse every user the old key signed.
				if stale, err = newProbe(h, acc, r.Old); err != nil {
					return pausedError(err, resume)
				}
			}
			beforeFin, _ := h.Account(account)
			fin, err := h.FinishAccountKeyRotation(r)
			if err != nil {
				return pausedError(err, resume)
			}
			a.audit(ctx, h, accountChange(audit.ActionRotate, beforeFin, fin,
				fmt.Sprintf("step 3/3: removed signing key %s (replaced by %s)", r.Old, r.New)))
			if r.IdentityKey {
				fmt.Fprintf(a.out, "step 3/3: the users of %s are signed by %s; the rotation is done\n", account, r.New)
				return nil
			}
			fmt.Fprintf(a.out, "step 3/3: removed the old key %s from account %s and deleted its seed\n", r.Old, account)
			if err := a.publish(ctx, h, account); err != nil {
				return err
			}
			if err := a.awaitServers(ctx, nc, f, stale, false); err != nil {
				return fmt.Errorf("the rotation is done in the home and the store, but: %w", err)
			}
			fmt.Fprintf(a.out, "done: creds signed by %s are refused from now on\n", r.Old)
			return nil
		},
	}
	f.bind(cmd)
	cmd.Flags().StringVarP(&account, "account", "a", "", "account whose signing key to rotate (optional when there is one account besides SYS)")
	cmd.Flags().BoolVar(&keepOld, "keep-old", false, "stop before removing the old key (run again to finish)")
	return cmd
}

// probe is a throwaway user of an account, signed by one of its keys: the
// servers accept it exactly when they run an account JWT that lists that
// key. It may publish and subscribe nothing and expires in minutes.
type probe struct {
	account, key string
	jwt, seed    string
}

func newProbe(h *authority.Home, acc *authority.AccountInfo, key string) (probe, error) {
	signer, err := h.AccountSigner(key)
	if err != nil {
		return probe{}, fmt.Errorf("probe user: %w", err)
	}
	ukp, err := nkeys.CreateUser()
	if err != nil {
		return probe{}, fmt.Errorf("probe user: %w", err)
	}
	upub, _ := ukp.PublicKey()
	uc := jwt.NewUserClaims(upub)
	uc.Name = "natsauth-rotation-probe"
	uc.Expires = time.Now().Add(10 * time.Minute).Unix()
	if key != acc.Pub {
		uc.IssuerAccount = acc.Pub
	}
	if s, ok := acc.Claims.SigningKeys[key]; ok && s != nil {
		uc.UserPermissionLimits = jwt.UserPermissionLimits{} // a scoped key's template applies
	} else {
		uc.Pub.Deny.Add(">")
		uc.Sub.Deny.Add(">")
	}
	tok, err := uc.Encode(signer)
	if err != nil {
		return probe{}, fmt.Errorf("probe user: %w", err)
	}
	seed, _ := ukp.Seed()
	return probe{account: acc.Name, key: key, jwt: tok, seed: string(seed)}, nil
}

// serverURLs are the client URLs of every server the connection knows:
// the one it uses and those the cluster advertised.
func serverURLs(nc *nats.Conn) []string {
	seen := map[string]bool{}
	var out []string
	for _, u := range append([]string{nc.ConnectedUrl()}, nc.Servers()...) {
		if u != "" && !seen[u] {
			seen[u] = true
			out = append(out, u)
		}
	}
	sort.Strings(out)
	return out
}

// try connects the probe to url: nil when the server accepts it,
// errAuthorization when it refuses it, another error when it cannot tell.
func (f rotateFlags) try(url string, p probe) error {
	opts := []nats.Option{nats.UserJWTAndSeed(p.jwt, p.seed), nats.NoReconnect(), nats.Timeout(5 * time.Second),
		nats.Name("natsauth-rotation-probe")}
	if f.sys.tlsCA != "" {
		opts = append(opts, nats.RootCAs(f.sys.tlsCA))
	}
	if f.sys.tlsCert != "" || f.sys.tlsKey != "" {
		opts = append(opts, nats.ClientCert(f.sys.tlsCert, f.sys.tlsKey))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		if errors.Is(err, nats.ErrAuthorization) || strings.Contains(strings.ToLower(err.Error()), "authorization violation") {
			return errAuthorization
		}
		return err
	}
	defer nc.Close()
	return nc.Flush()
}

var errAuthorization = errors.New("authorization violation")

// awaitServers waits until every server accepts the probe (accept) or
// refuses it (!accept): then it runs the account JWT that lists (or no
// longer lists) the probe's key. Without a server connection it waits
// f.settle for the servers to read the store.
func (a *app) awaitServers(ctx context.Context, nc *nats.Conn, f rotateFlags, p probe, accept bool) error {
	if nc == nil {
		fmt.Fprintf(a.out, "  no --server: natsauth cannot see the servers; waiting %s for them to read the store\n", f.settle)
		select {
		case <-time.After(f.settle):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	want := "accept"
	if !accept {
		want = "refuse"
	}
	deadline := time.Now().Add(f.timeout)
	for {
		urls := serverURLs(nc)
		var behind []string
		for _, u := range urls {
			err := f.try(u, p)
			switch {
			case accept && err == nil, !accept && errors.Is(err, errAuthorization):
			case err == nil || errors.Is(err, errAuthorization):
				behind = append(behind, u)
			default:
				behind = append(behind, u+" ("+err.Error()+")")
			}
		}
		if len(behind) == 0 {
			fmt.Fprintf(a.out, "  all %d servers %s users signed by %s\n", len(urls), want, p.key)
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("servers %s do not %s users of account %s signed by %s after %s",
				strings.Join(behind, ", "), want, p.account, p.key, f.timeout)
		}
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func newRotateOperatorKeyCmd(a *app) *cobra.Command {
	var f rotateFlags
	var restarted bool
	cmd := &cobra.Command{
		Use:   "operator-signing-key",
		Short: "Replace the operator signing key: add a new key, re-issue the accounts, remove the old key",
		Long: `Replace the operator signing key that signs accounts. Servers read the operator JWT only at
start, so the rotation runs in two invocations with a restart of every server in between:

  first run:  a new operator signing key is added beside the old one and the operator JWT re-signed.
              Restart every server with the new operator JWT (natsauth serve reads it from the home;
              stock nats-servers need the file copied to their operator: setting).
  second run: (with --server natsauth checks that every server trusts the new key; without it, say
              so with --servers-restarted) every account the old key (or the operator identity key)
              signed is re-signed with the new key and published, then the old key is removed from
              the operator JWT and its seed deleted. Restart every server again: until then they still
              trust the old key.

The rotation is recorded in the home; each run resumes where the last stopped.`,
		Example: `  natsauth rotate operator-signing-key
  # restart every server with the new operator JWT, then:
  natsauth rotate operator-signing-key --server nats://127.0.0.1:4222`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			h, err := a.openHome()
			if err != nil {
				return err
			}
			const resume = "natsauth rotate operator-signing-key"
			var nc *nats.Conn
			if f.sys.server != "" {
				if nc, err = f.sys.connect(h, "natsauth rotate"); err != nil {
					return fmt.Errorf("rotate operator-signing-key: %w", err)
				}
				defer nc.Close()
			}
			pending, err := h.PendingRotation(authority.RotateOperator, "")
			if err != nil {
				return err
			}
			r, err := h.BeginOperatorKeyRotation(f.key)
			if err != nil {
				return err
			}
			if pending == nil {
				a.audit(ctx, h, operatorChange(h, audit.ActionRotate,
					fmt.Sprintf("step 1/3: added operator signing key %s to replace %s", r.New, r.Old)))
				fmt.Fprintf(a.out, "step 1/3: operator %s lists the new signing key %s beside %s\n", h.OperatorName(), r.New, r.Old)
				fmt.Fprintf(a.out, "next: restart every server with the new operator JWT (%s), then run %s again\n"+
					"  (with --server URL natsauth checks that the servers trust the new key; or pass --servers-restarted)\n",
					h.OperatorJWTPath(), resume)
				if nc != nil {
					if missing, n, err := serversMissingKey(ctx, nc, f.sys.gather, r.New); err == nil {
						fmt.Fprintf(a.out, "  %d of %d servers that answered do not trust the new key yet\n", len(missing), n)
					}
				}
				return nil
			}
			fmt.Fprintf(a.out, "resuming the rotation of operator signing key %s started %s\n", r.Old, r.Started.Format(time.RFC3339))
			switch {
			case nc != nil:
				missing, n, err := serversMissingKey(ctx, nc, f.sys.gather, r.New)
				if err != nil {
					return pausedError(err, resume)
				}
				if len(missing) > 0 {
					return pausedError(fmt.Errorf("servers %s do not trust the new key %s yet: restart them with the new operator JWT (%s)",
						strings.Join(missing, ", "), r.New, h.OperatorJWTPath()), resume)
				}
				fmt.Fprintf(a.out, "step 2/3: all %d servers that answered trust the new key\n", n)
			case !restarted:
				return pausedError(errors.New("natsauth cannot see the servers: restart every server with the new operator JWT, "+
					"then run again with --servers-restarted, or with --server URL to let natsauth check"), resume)
			default:
				fmt.Fprintf(a.out, "step 2/3: servers restarted with the new operator JWT (--servers-restarted)\n")
			}
			prevAccs := map[string]authority.AccountInfo{}
			if as, err := h.Accounts(); err == nil {
				for _, acc := range as {
					prevAccs[acc.Name] = acc
				}
			}
			accs, err := h.ReissueAccounts(r)
			if err != nil {
				return pausedError(err, resume)
			}
			var entries []audit.Entry
			for i := range accs {
				var prev *authority.AccountInfo
				was := r.Old
				if p, ok := prevAccs[accs[i].Name]; ok {
					prev, was = &p, p.Claims.Issuer
				}
				entries = append(entries, accountChange(audit.ActionRotate, prev, &accs[i],
					fmt.Sprintf("step 2/3: re-signed with operator signing key %s (was %s)", r.New, was)))
			}
			if len(entries) > 0 {
				a.audit(ctx, h, entries...)
			}
			names := make([]string, 0, len(accs))
			for _, acc := range accs {
				names = append(names, acc.Name)
				fmt.Fprintf(a.out, "  re-signed account %s with %s\n", acc.Name, r.New)
			}
			if len(names) > 0 {
				if err := a.publish(ctx, h, names...); err != nil {
					return pausedError(err, resume)
				}
			}
			if err := h.FinishOperatorKeyRotation(r); err != nil {
				return pausedError(err, resume)
			}
			a.audit(ctx, h, operatorChange(h, audit.ActionRotate,
				fmt.Sprintf("step 3/3: removed operator signing key %s (replaced by %s)", r.Old, r.New)))
			fmt.Fprintf(a.out, "step 3/3: removed %s from the operator and deleted its seed\n", r.Old)
			fmt.Fprintf(a.out, "next: restart every server again with the new operator JWT (%s): until then they still trust %s\n",
				h.OperatorJWTPath(), r.Old)
			return nil
		},
	}
	f.bind(cmd)
	cmd.Flags().BoolVar(&restarted, "servers-restarted", false, "confirm that every server runs with the new operator JWT (without --server)")
	return cmd
}

// serversMissingKey asks every server for its trusted operators ($SYS.REQ.
// SERVER.PING.VARZ) and returns those that do not list key as an operator
// signing key, and how many answered.
func serversMissingKey(ctx context.Context, nc *nats.Conn, gather time.Duration, key string) ([]string, int, error) {
	replies, err := pingServers(ctx, nc, "VARZ", struct{}{}, gather)
	if err != nil {
		return nil, 0, err
	}
	var missing []string
	for _, r := range replies {
		var vz struct {
			Operators []*jwt.OperatorClaims `json:"trusted_operators_claim"`
		}
		if r.Error != nil || json.Unmarshal(r.Data, &vz) != nil {
			missing = append(missing, r.label())
			continue
		}
		ok := false
		for _, oc := range vz.Operators {
			if oc != nil && oc.SigningKeys.Contains(key) {
				ok = true
			}
		}
		if !ok {
			missing = append(missing, r.label())
		}
	}
	sort.Strings(missing)
	return missing, len(replies), nil
}
