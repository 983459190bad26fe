package manage

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/claims"
	"github.com/natsauth/natsauth/store"
)

// Push sends the named accounts' JWTs (every account with all) from the
// home to r's NATS servers ($SYS.REQ.CLAIMS.UPDATE, as nsc push) and
// account servers (POST). With prune it then deletes, from every NATS
// server, the accounts it stores that the home does not have, with an
// operator-signed request (as nsc push --prune). Every answer goes to rep;
// an error means nothing could be sent.
func (m *Manager) Push(ctx context.Context, r Remote, names []string, all, prune bool, rep *Report) error {
	if err := r.Check(); err != nil {
		return fmt.Errorf("push: %w", err)
	}
	r, err := r.orDefault(m.home, "push")
	if err != nil {
		return err
	}
	if prune && len(r.Servers) == 0 {
		return errors.New("push: --prune needs a NATS server: the account-server API has no delete")
	}
	accs, err := m.selectAccounts(names, all)
	if err != nil {
		return fmt.Errorf("push: %w", err)
	}
	var keep []authority.AccountInfo
	if prune {
		if keep, err = m.home.Accounts(); err != nil {
			return fmt.Errorf("push: %w", err)
		}
	}
	for _, s := range r.Servers {
		target := store.Redact(s)
		nc, err := m.Connect(r, s, "natsauth push")
		if err != nil {
			rep.add(errAnswer("push", target, nil, err))
			continue
		}
		c := claims.NewClient(nc, r.Wait)
		pushNATS(ctx, c, target, accs, rep)
		if prune {
			m.pruneNATS(ctx, c, target, keep, rep)
		}
		nc.Close()
	}
	if len(r.AccountServers) == 0 || len(accs) == 0 {
		return nil
	}
	hc, err := r.httpClient(m.cfg.PublishTimeout)
	if err != nil {
		return fmt.Errorf("push: %w", err)
	}
	for _, s := range r.AccountServers {
		as, err := claims.NewAccountServer(s, hc)
		if err != nil {
			rep.add(errAnswer("push", store.Redact(s), nil, err))
			continue
		}
		for i := range accs {
			acc := &accs[i]
			reply, err := as.Post(ctx, acc.Pub, acc.JWT)
			if err != nil {
				rep.add(errAnswer("push", as.URL(), acc, err))
				continue
			}
			a := replyAnswer("push", as.URL(), acc, reply)
			a.Server, a.ServerID, a.Code = "", "", reply.Code
			rep.add(a)
		}
	}
	return nil
}

// pushNATS pushes every account at once and reports each server's answer,
// in the order of the accounts.
func pushNATS(ctx context.Context, c *claims.Client, target string, accs []authority.AccountInfo, rep *Report) {
	type answer struct {
		replies []claims.Reply
		err     error
	}
	answers := make([]answer, len(accs))
	forEach(len(accs), func(i int) {
		answers[i].replies, answers[i].err = c.Update(ctx, accs[i].JWT)
	})
	for i, ans := range answers {
		acc := &accs[i]
		sortReplies(ans.replies)
		for _, r := range ans.replies {
			rep.add(replyAnswer("push", target, acc, r))
		}
		if ans.err != nil {
			rep.add(errAnswer("push", target, acc, ans.err))
		}
	}
}

// pruneNATS deletes from the servers behind c every account they store
// that is not in keep, with an operator-signed request as nsc sends it.
func (m *Manager) pruneNATS(ctx context.Context, c *claims.Client, target string, keep []authority.AccountInfo, rep *Report) {
	lists, err := c.List(ctx)
	if err != nil {
		rep.add(errAnswer("prune", target, nil, fmt.Errorf("list accounts: %w", err)))
		if len(lists) == 0 {
			return
		}
	}
	known := map[string]bool{m.home.SystemAccount(): true}
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
		rep.add(Answer{Op: "prune", Target: target, Server: l.Server.Name, ServerID: l.Server.ID, OK: true, Message: msg})
	}
	if len(del) == 0 {
		rep.add(Answer{Op: "prune", Target: target, OK: true, Message: "nothing to prune"})
		return
	}
	signer, err := m.home.OperatorSigner()
	if err != nil {
		rep.add(errAnswer("prune", target, nil, fmt.Errorf("sign the delete request: %w", err)))
		return
	}
	sort.Strings(del)
	req, err := claims.DeleteRequest(signer, del)
	if err != nil {
		rep.add(errAnswer("prune", target, nil, err))
		return
	}
	replies, err := c.Delete(ctx, req)
	sortReplies(replies)
	for _, r := range replies {
		rep.add(replyAnswer("prune", target, nil, r))
	}
	if err != nil {
		rep.add(errAnswer("prune", target, nil, err))
		return
	}
	if len(replies) < len(lists) {
		rep.add(Answer{Op: "prune", Target: target, Message: fmt.Sprintf(
			"fewer servers answered the delete (%d) than the list (%d): accounts may remain", len(replies), len(lists))})
	}
}

// Pull fetches the named accounts' JWTs (every account with all) from r's
// NATS servers ($SYS.REQ.ACCOUNT.<pub>.CLAIMS.LOOKUP) and account servers
// (GET), and imports the newest valid one of each into the home when it is
// newer — through ImportAccountJWT, so it is recorded and published like
// any change. It returns the names of the accounts that changed.
func (m *Manager) Pull(ctx context.Context, r Remote, names []string, all bool, rep *Report) ([]string, *Result, error) {
	if err := r.Check(); err != nil {
		return nil, nil, fmt.Errorf("pull: %w", err)
	}
	r, err := r.orDefault(m.home, "pull")
	if err != nil {
		return nil, nil, err
	}
	accs, err := m.selectAccounts(names, all)
	if err != nil {
		return nil, nil, fmt.Errorf("pull: %w", err)
	}
	found := make([][]candidate, len(accs))
	for _, s := range r.Servers {
		target := store.Redact(s)
		nc, err := m.Connect(r, s, "natsauth pull")
		if err != nil {
			rep.add(errAnswer("pull", target, nil, err))
			continue
		}
		c := claims.NewClient(nc, r.Wait)
		answers := make([][]string, len(accs))
		errs := make([]error, len(accs))
		forEach(len(accs), func(i int) { answers[i], errs[i] = c.Lookup(ctx, accs[i].Pub) })
		for i := range accs {
			for _, tok := range answers[i] {
				if tok != "" {
					found[i] = append(found[i], candidate{source: target, token: tok})
				}
			}
			if errs[i] != nil {
				rep.add(errAnswer("pull", target, &accs[i], errs[i]))
			}
		}
		nc.Close()
	}
	if len(r.AccountServers) > 0 {
		hc, err := r.httpClient(m.cfg.PublishTimeout)
		if err != nil {
			return nil, nil, fmt.Errorf("pull: %w", err)
		}
		for _, s := range r.AccountServers {
			as, err := claims.NewAccountServer(s, hc)
			if err != nil {
				rep.add(errAnswer("pull", store.Redact(s), nil, err))
				continue
			}
			for i := range accs {
				tok, err := as.Get(ctx, accs[i].Pub)
				switch {
				case errors.Is(err, claims.ErrNotFound):
				case err != nil:
					rep.add(errAnswer("pull", as.URL(), &accs[i], err))
				default:
					found[i] = append(found[i], candidate{source: as.URL(), token: tok})
				}
			}
		}
	}
	var changed []string
	res := &Result{}
	var errs []error
	for i := range accs {
		ok, r, err := m.importNewest(ctx, &accs[i], found[i], rep)
		if ok {
			changed = append(changed, accs[i].Name)
		}
		if r != nil {
			res.Deliveries = append(res.Deliveries, r.Deliveries...)
			res.Servers = r.Servers
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return changed, res, errors.Join(errs...)
}

// importNewest imports the newest valid fetched JWT of acc when it is
// newer than the home's, reporting the outcome.
func (m *Manager) importNewest(ctx context.Context, acc *authority.AccountInfo, cands []candidate, rep *Report) (bool, *Result, error) {
	best, bestClaims := m.newestValid(acc, cands, rep)
	if best == nil {
		if len(cands) == 0 {
			rep.add(Answer{Op: "pull", Account: acc.Name, Pub: acc.Pub, Target: "servers", OK: true,
				Message: "no server has this account; the home's copy stays"})
		}
		return false, nil, nil
	}
	a := Answer{Op: "pull", Account: acc.Name, Pub: acc.Pub, Target: best.source, OK: true}
	_, changed, res, err := m.ImportAccountJWT(ctx, best.token, best.source)
	var perr *PublishError
	switch {
	case errors.Is(err, authority.ErrStale) && bestClaims.IssuedAt == acc.Claims.IssuedAt:
		a.Message = fmt.Sprintf("the servers' JWT differs from the home's but was issued at the same time (%s): kept the home's",
			when(acc.Claims.IssuedAt))
		err = nil
	case errors.Is(err, authority.ErrStale):
		a.Message = fmt.Sprintf("the servers' JWT (issued %s) is older than the home's (issued %s): kept the home's",
			when(bestClaims.IssuedAt), when(acc.Claims.IssuedAt))
		err = nil
	case errors.As(err, &perr):
		a.Message = fmt.Sprintf("updated the home's copy: issued %s, was %s", when(bestClaims.IssuedAt), when(acc.Claims.IssuedAt))
	case err != nil:
		a.OK, a.Message = false, err.Error()
		err = nil
	case changed:
		a.Message = fmt.Sprintf("updated the home's copy: issued %s, was %s", when(bestClaims.IssuedAt), when(acc.Claims.IssuedAt))
	default:
		a.Message = "the home is up to date"
	}
	rep.add(a)
	return changed, res, err
}
