package doctor

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/jwt/v2"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/store"
	"github.com/natsauth/natsauth/trust"
)

// Checks comparing the home with the account-JWT store its servers read.
const (
	CheckStoreMissing = "account-missing-from-store"
	CheckStoreOlder   = "store-older-than-home"
	CheckStoreNewer   = "store-newer-than-home"
	CheckStoreFuture  = "store-jwt-from-the-future"
	CheckStoreOnly    = "account-only-in-store"
)

// CheckStore compares every account JWT of the home with the copy in st,
// the store the home's servers read, and reports each account whose two
// copies differ: missing from the store, older or newer there, or — the
// worst — issued in the future, which makes every later write of the
// account stale until that time. It also reports accounts of the home's
// operator that are in the store but not in the home. It reads only.
func CheckStore(ctx context.Context, h *authority.Home, st store.Store, o Options) ([]Finding, error) {
	o.defaults()
	c := &checker{o: o, h: h, now: o.Now()}
	accs, err := h.Accounts()
	if err != nil {
		return nil, fmt.Errorf("doctor: %w", err)
	}
	inHome := map[string]bool{}
	for i := range accs {
		a := &accs[i]
		inHome[a.Pub] = true
		rec, err := st.Get(ctx, a.Pub)
		switch {
		case errors.Is(err, store.ErrNotFound):
			c.add(High, CheckStoreMissing, "account "+a.Name,
				"the store the servers read has no JWT for this account: its users cannot connect",
				c.cmd("store", "replace", a.Name)+"   # publishes the home's JWT")
			continue
		case err != nil:
			return nil, fmt.Errorf("doctor: compare account %s with the store: %w", a.Name, err)
		}
		c.compare(a, rec)
	}
	ids, err := st.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("doctor: list the store: %w", err)
	}
	policy := h.Policy().WithClockSkew(trust.NoClockCheck)
	for _, id := range ids {
		if inHome[id] {
			continue
		}
		rec, err := st.Get(ctx, id)
		if err != nil {
			continue // deleted meanwhile
		}
		if _, err := policy.CheckAccount(id, rec.JWT); err != nil {
			continue // another operator's account
		}
		c.future(store.Record{Account: id, JWT: rec.JWT, IssuedAt: rec.IssuedAt}, "account "+id, id)
		c.add(Info, CheckStoreOnly, "account "+id,
			"the store holds this account of the operator but the home does not: it was added by another home or tool",
			c.cmd("pull", "-A")+"   # imports the servers' accounts into the home")
	}
	Sort(c.out)
	return c.out, nil
}

// compare reports how the store's copy of an account differs from the home's.
func (c *checker) compare(a *authority.AccountInfo, rec store.Record) {
	obj := "account " + a.Name
	if rec.JWT == a.JWT {
		return
	}
	if c.future(rec, obj, a.Name) {
		return
	}
	homeIAT := a.Claims.IssuedAt
	switch {
	case rec.IssuedAt < homeIAT:
		c.add(High, CheckStoreOlder, obj,
			fmt.Sprintf("the store holds a JWT issued %s, older than the home's (%s): the last change to the account "+
				"(a limit, a revocation) has not reached the servers", unix(rec.IssuedAt), unix(homeIAT)),
			c.cmd("store", "replace", a.Name)+"   # publishes the home's JWT")
	default:
		c.add(Medium, CheckStoreNewer, obj,
			fmt.Sprintf("the store holds a JWT issued %s, not the home's (%s): it was changed by another tool "+
				"(nsc push, an HTTP POST) and the home does not have that change", unix(rec.IssuedAt), unix(homeIAT)),
			c.cmd("pull", "-a", a.Name)+"   # imports the store's JWT into the home; or `"+
				c.cmd("store", "replace", a.Name)+"` to publish the home's")
	}
}

// future reports a stored JWT issued beyond the clock skew in the future.
func (c *checker) future(rec store.Record, obj, name string) bool {
	skew := c.h.Policy().ClockSkew()
	iat := rec.IssuedAt
	if iat == 0 {
		if ac, err := jwt.DecodeAccountClaims(rec.JWT); err == nil {
			iat = ac.IssuedAt
		}
	}
	if skew < 0 || iat <= c.now.Add(skew).Unix() {
		return false
	}
	c.add(High, CheckStoreFuture, obj,
		fmt.Sprintf("the store holds a JWT issued in the future (%s): every later change of the account is refused as "+
			"older than it, until then", unix(iat)),
		c.cmd("store", "replace", name)+"   # replaces it with the home's JWT, on purpose")
	return true
}

func unix(s int64) string { return time.Unix(s, 0).UTC().Format(time.RFC3339) }
