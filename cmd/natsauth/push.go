package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/claims"
)

func init() { register("", newPushCmd) }

type pushFlags struct {
	remoteFlags
	prune bool
}

func newPushCmd(a *app) *cobra.Command {
	var f pushFlags
	cmd := &cobra.Command{
		Use:   "push (-a ACCOUNT | -A | --prune) [--server nats://HOST:4222]... [--account-server http://HOST:9090]...",
		Short: "Send account JWTs from the home to servers, like nsc push",
		Long: `Send account JWTs from the home to:

  --server nats://…          natsauth nodes and stock nats-servers with a full resolver,
                             over the system account ($SYS.REQ.CLAIMS.UPDATE, as nsc push);
                             every server of the cluster answers, and each answer is reported
  --account-server http://…  account servers (POST /jwt/v1/accounts/<pubkey>)

--prune then deletes, from every --server, the accounts it stores that the home does not
have: it lists them ($SYS.REQ.CLAIMS.LIST) and sends a delete request signed by the
operator signing key ($SYS.REQ.CLAIMS.DELETE), exactly as nsc push --prune does. The
servers must allow deletes (allow_delete: true; natsauth serve --allow-delete). The
system account is never deleted.

NATS requests use the home's system user (--creds to pick another). The command exits
non-zero if any server refused or did not answer.`,
		Example: `  natsauth push -A --server nats://127.0.0.1:4222
  natsauth push -a MyAccount --account-server http://127.0.0.1:9090
  natsauth push -A --prune --server nats://n1:4222 --server nats://n2:4222`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.push(cmd.Context(), f)
		},
	}
	f.bind(cmd.Flags(), "push")
	cmd.Flags().BoolVarP(&f.prune, "prune", "P", false,
		"delete from every --server the accounts the home does not have (operator-signed)")
	return cmd
}

func (a *app) push(ctx context.Context, f pushFlags) error {
	if err := f.check("push"); err != nil {
		return err
	}
	if !f.all && f.account == "" && !f.prune {
		return fmt.Errorf("push: which accounts? give -a ACCOUNT, -A (all) or --prune")
	}
	h, err := a.openHome()
	if err != nil {
		return err
	}
	servers, accountServers, err := f.targets(h, "push")
	if err != nil {
		return err
	}
	if f.prune && len(servers) == 0 {
		return fmt.Errorf("push: --prune needs a --server: the account-server API has no delete")
	}
	accs, err := f.selectAccounts(h)
	if err != nil {
		return fmt.Errorf("push: %w", err)
	}
	var keep []authority.AccountInfo
	if f.prune {
		if keep, err = h.Accounts(); err != nil {
			return fmt.Errorf("push: %w", err)
		}
	}
	rep := &report{out: a.out, asJSON: f.asJSON}
	for _, s := range servers {
		target := redactURL(s)
		nc, err := f.connect(h, s, "natsauth push")
		if err != nil {
			rep.add(errResult("push", target, nil, err))
			continue
		}
		c := claims.NewClient(nc, f.timeout)
		pushNATS(ctx, c, target, accs, rep)
		if f.prune {
			pruneNATS(ctx, h, c, target, keep, rep)
		}
		nc.Close()
	}
	if len(accountServers) > 0 && len(accs) > 0 {
		hc, err := f.httpClient()
		if err != nil {
			return fmt.Errorf("push: %w", err)
		}
		for _, s := range accountServers {
			as, err := claims.NewAccountServer(s, hc)
			if err != nil {
				rep.add(errResult("push", redactURL(s), nil, err))
				continue
			}
			for i := range accs {
				acc := &accs[i]
				r, err := as.Post(ctx, acc.Pub, acc.JWT)
				if err != nil {
					rep.add(errResult("push", as.URL(), acc, err))
					continue
				}
				res := replyResult("push", as.URL(), acc, r)
				res.Server, res.ServerID = "", ""
				res.Code = r.Code
				rep.add(res)
			}
		}
	}
	return rep.finish("push")
}

// pushNATS pushes every account at once and reports each server's answer,
// in the order of the accounts.
func pushNATS(ctx context.Context, c *claims.Client, target string, accs []authority.AccountInfo, rep *report) {
	type answer struct {
		replies []claims.Reply
		err     error
	}
	answers := make([]answer, len(accs))
	forEachConcurrently(len(accs), func(i int) {
		answers[i].replies, answers[i].err = c.Update(ctx, accs[i].JWT)
	})
	for i, ans := range answers {
		acc := &accs[i]
		sortReplies(ans.replies)
		for _, r := range ans.replies {
			rep.add(replyResult("push", target, acc, r))
		}
		if ans.err != nil {
			rep.add(errResult("push", target, acc, ans.err))
		}
	}
}

// pruneNATS deletes from the servers behind c every account they store
// that is not in keep, with an operator-signed request as nsc sends it.
func pruneNATS(ctx context.Context, h *authority.Home, c *claims.Client, target string, keep []authority.AccountInfo, rep *report) {
	lists, err := c.List(ctx)
	if err != nil {
		rep.add(errResult("prune", target, nil, fmt.Errorf("list accounts: %w", err)))
		if len(lists) == 0 {
			return
		}
	}
	known := map[string]bool{h.SystemAccount(): true}
	for _, k := range keep {
		known[k.Pub] = true
	}
	seen := map[string]bool{}
	var del []string
	sort.Slice(lists, func(i, j int) bool { return lists[i].Server.String() < lists[j].Server.String() })
	for _, l := range lists {
		var only []string
		for _, pub := range l.Accounts {
			if known[pub] {
				continue
			}
			only = append(only, pub)
			if !seen[pub] {
				seen[pub] = true
				del = append(del, pub)
			}
		}
		msg := fmt.Sprintf("stores %d accounts, none missing from the home", len(l.Accounts))
		if len(only) > 0 {
			sort.Strings(only)
			msg = fmt.Sprintf("stores %d accounts, %d not in the home: %s", len(l.Accounts), len(only), strings.Join(only, ", "))
		}
		rep.add(result{Op: "prune", Target: target, Server: l.Server.Name, ServerID: l.Server.ID, OK: true, Message: msg})
	}
	if len(del) == 0 {
		rep.add(result{Op: "prune", Target: target, OK: true, Message: "nothing to prune"})
		return
	}
	signer, err := h.OperatorSigner()
	if err != nil {
		rep.add(errResult("prune", target, nil, fmt.Errorf("sign the delete request: %w", err)))
		return
	}
	sort.Strings(del)
	req, err := claims.DeleteRequest(signer, del)
	if err != nil {
		rep.add(errResult("prune", target, nil, err))
		return
	}
	replies, err := c.Delete(ctx, req)
	sortReplies(replies)
	for _, r := range replies {
		rep.add(replyResult("prune", target, nil, r))
	}
	if err != nil {
		rep.add(errResult("prune", target, nil, err))
		return
	}
	if len(replies) < len(lists) {
		rep.add(result{Op: "prune", Target: target, Message: fmt.Sprintf(
			"fewer servers answered the delete (%d) than the list (%d): accounts may remain", len(replies), len(lists))})
	}
}

// maxInFlight bounds the claims requests in flight at once: each waits
// out the answer window, so they run together, but not thousands at once.
const maxInFlight = 32

// forEachConcurrently calls f(0..n-1), at most maxInFlight at a time, and
// returns when all have returned.
func forEachConcurrently(n int, f func(i int)) {
	sem := make(chan struct{}, maxInFlight)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			f(i)
		}()
	}
	wg.Wait()
}

func sortReplies(rs []claims.Reply) {
	sort.SliceStable(rs, func(i, j int) bool { return rs[i].Server.String() < rs[j].Server.String() })
}
