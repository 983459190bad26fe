package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/spf13/cobra"

	"github.com/natsauth/natsauth/audit"
	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/claims"
)

func init() { register("", newPullCmd) }

func newPullCmd(a *app) *cobra.Command {
	var f remoteFlags
	cmd := &cobra.Command{
		Use:   "pull (-a ACCOUNT | -A) [--server nats://HOST:4222]... [--account-server http://HOST:9090]...",
		Short: "Fetch account JWTs from servers into the home when they are newer, like nsc pull",
		Long: `Fetch the JWTs of the home's accounts from natsauth nodes and stock full-resolver
servers (--server: $SYS.REQ.ACCOUNT.<pubkey>.CLAIMS.LOOKUP, answered by every server of
the cluster) and from account servers (--account-server: GET /jwt/v1/accounts/<pubkey>).

Every fetched JWT is validated against the home's operator; the newest valid one replaces
the home's copy only when it was issued after it — the home never goes back to an older
JWT. Updated accounts are then published to the account-JWT store like any edit. Accounts
the servers have but the home does not are not imported. The command exits non-zero if a
server could not be asked or sent an invalid JWT.`,
		Example: `  natsauth pull -A --server nats://127.0.0.1:4222
  natsauth pull -a MyAccount --account-server http://127.0.0.1:9090`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.pull(cmd.Context(), f)
		},
	}
	f.bind(cmd.Flags(), "pull")
	return cmd
}

// candidate is one JWT fetched for an account, with where it came from.
type candidate struct {
	source string
	token  string
}

func (a *app) pull(ctx context.Context, f remoteFlags) error {
	if err := f.check("pull"); err != nil {
		return err
	}
	if !f.all && f.account == "" {
		return fmt.Errorf("pull: which accounts? give -a ACCOUNT or -A (all)")
	}
	h, err := a.openHome()
	if err != nil {
		return err
	}
	servers, accountServers, err := f.targets(h, "pull")
	if err != nil {
		return err
	}
	accs, err := f.selectAccounts(h)
	if err != nil {
		return fmt.Errorf("pull: %w", err)
	}
	rep := &report{out: a.out, asJSON: f.asJSON}
	found := make([][]candidate, len(accs))
	for _, s := range servers {
		target := redactURL(s)
		nc, err := f.connect(h, s, "natsauth pull")
		if err != nil {
			rep.add(errResult("pull", target, nil, err))
			continue
		}
		lookupNATS(ctx, claims.NewClient(nc, f.timeout), target, accs, found, rep)
		nc.Close()
	}
	if len(accountServers) > 0 {
		hc, err := f.httpClient()
		if err != nil {
			return fmt.Errorf("pull: %w", err)
		}
		for _, s := range accountServers {
			as, err := claims.NewAccountServer(s, hc)
			if err != nil {
				rep.add(errResult("pull", redactURL(s), nil, err))
				continue
			}
			for i := range accs {
				tok, err := as.Get(ctx, accs[i].Pub)
				switch {
				case errors.Is(err, claims.ErrNotFound):
				case err != nil:
					rep.add(errResult("pull", as.URL(), &accs[i], err))
				default:
					found[i] = append(found[i], candidate{source: as.URL(), token: tok})
				}
			}
		}
	}

	var changed []string
	for i := range accs {
		if a.importNewest(ctx, h, &accs[i], found[i], rep) {
			changed = append(changed, accs[i].Name)
		}
	}
	failed := rep.finish("pull")
	if len(changed) == 0 {
		return failed
	}
	// The home changed: publish to the store like any edit, quietly under
	// --json so that the output stays one JSON document.
	pub := a
	if f.asJSON {
		quiet := *a
		quiet.out = io.Discard
		pub = &quiet
	}
	return errors.Join(failed, pub.publish(ctx, h, changed...))
}

// lookupNATS asks the servers behind c for every account at once.
func lookupNATS(ctx context.Context, c *claims.Client, target string, accs []authority.AccountInfo, found [][]candidate, rep *report) {
	type answer struct {
		tokens []string
		err    error
	}
	answers := make([]answer, len(accs))
	forEachConcurrently(len(accs), func(i int) {
		answers[i].tokens, answers[i].err = c.Lookup(ctx, accs[i].Pub)
	})
	for i, ans := range answers {
		for _, tok := range ans.tokens {
			if tok != "" {
				found[i] = append(found[i], candidate{source: target, token: tok})
			}
		}
		if ans.err != nil {
			rep.add(errResult("pull", target, &accs[i], ans.err))
		}
	}
}

// importNewest validates what was fetched for acc, and imports the newest
// valid JWT into the home when it is newer. It reports the outcome and
// whether the home changed.
func (a *app) importNewest(ctx context.Context, h *authority.Home, acc *authority.AccountInfo, cands []candidate, rep *report) bool {
	var best *candidate
	var bestClaims *jwt.AccountClaims
	for i := range cands {
		c := &cands[i]
		ac, err := h.Policy().CheckAccount(acc.Pub, c.token)
		if err != nil {
			rep.add(errResult("pull", c.source, acc, fmt.Errorf("the server sent an invalid JWT: %w", err)))
			continue
		}
		if best == nil || ac.IssuedAt > bestClaims.IssuedAt {
			best, bestClaims = c, ac
		}
	}
	if best == nil {
		if len(cands) == 0 {
			rep.add(result{Op: "pull", Account: acc.Name, Pub: acc.Pub, Target: "servers", OK: true,
				Message: "no server has this account; the home's copy stays"})
		}
		return false
	}
	res := result{Op: "pull", Account: acc.Name, Pub: acc.Pub, Target: best.source, OK: true}
	imported, changed, err := h.ImportAccountJWT(best.token)
	switch {
	case errors.Is(err, authority.ErrStale) && bestClaims.IssuedAt == acc.Claims.IssuedAt:
		res.Message = fmt.Sprintf("the servers' JWT differs from the home's but was issued at the same time (%s): kept the home's",
			when(acc.Claims.IssuedAt))
	case errors.Is(err, authority.ErrStale):
		res.Message = fmt.Sprintf("the servers' JWT (issued %s) is older than the home's (issued %s): kept the home's",
			when(bestClaims.IssuedAt), when(acc.Claims.IssuedAt))
	case err != nil:
		res.OK, res.Message = false, err.Error()
	case changed:
		a.audit(ctx, h, accountChange(audit.ActionPullAccount, acc, imported, "from "+best.source))
		res.Message = fmt.Sprintf("updated the home's copy: issued %s, was %s", when(bestClaims.IssuedAt), when(acc.Claims.IssuedAt))
	default:
		res.Message = "the home is up to date"
	}
	rep.add(res)
	return changed
}

func when(sec int64) string { return time.Unix(sec, 0).UTC().Format(time.RFC3339) }
