package authority

import (
	"sort"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
)

// Revocation is one entry of an account's revocation list.
type Revocation struct {
	Pub  string    // user public key, or "*" for every user
	User string    // the user's name when it is in the home
	At   time.Time // user JWTs issued at or before At are refused
}

// resolveUser turns a user name, a user public key or "*" into the key
// the revocation list uses. The caller holds the lock.
func (h *Home) resolveUser(p *problems, acc *AccountInfo, user string) string {
	switch {
	case user == jwt.All:
		return jwt.All
	case nkeys.IsValidPublicUserKey(user):
		return user
	}
	u, err := h.readUser(acc, user)
	if err != nil {
		p.addErr(err)
		return ""
	}
	return u.Pub
}

// RevokeUser adds a revocation to the account: the user's JWTs issued at
// or before at (now when at is zero) are refused and their connections
// closed once servers have the account JWT. user is a user name, a user
// public key (for users no longer in the home) or "*" for every user.
func (h *Home) RevokeUser(account, user string, at time.Time) (*AccountInfo, error) {
	if at.IsZero() {
		at = time.Now()
	}
	p := newProblems("revoke user %s", user)
	unlock, err := h.lock(true)
	if err != nil {
		return nil, err
	}
	defer unlock()
	acc, err := h.readAccount(account)
	p.addErr(err)
	var pub string
	if acc != nil {
		pub = h.resolveUser(p, acc, user)
	}
	signer, err := h.OperatorSigner()
	p.addErr(err)
	if err := p.err(); err != nil {
		return nil, err
	}
	return h.resignAccount(acc, signer, func(ac *jwt.AccountClaims) { ac.RevokeAt(pub, at) })
}

// UnrevokeUser removes the account's revocation of a user (name, public
// key or "*").
func (h *Home) UnrevokeUser(account, user string) (*AccountInfo, error) {
	p := newProblems("unrevoke user %s", user)
	unlock, err := h.lock(true)
	if err != nil {
		return nil, err
	}
	defer unlock()
	acc, err := h.readAccount(account)
	p.addErr(err)
	var pub string
	if acc != nil {
		pub = h.resolveUser(p, acc, user)
		if _, ok := acc.Claims.Revocations[pub]; pub != "" && !ok {
			p.addKind(ErrNotFound, "user %s is not revoked in account %s", user, acc.Name)
		}
	}
	signer, err := h.OperatorSigner()
	p.addErr(err)
	if err := p.err(); err != nil {
		return nil, err
	}
	return h.resignAccount(acc, signer, func(ac *jwt.AccountClaims) { ac.ClearRevocation(pub) })
}

// Revocations lists the account's revocations, by user name then key.
func (h *Home) Revocations(account string) ([]Revocation, error) {
	unlock, err := h.lock(false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	acc, err := h.readAccount(account)
	if err != nil {
		return nil, err
	}
	users, err := h.listUsers(acc)
	if err != nil {
		return nil, err
	}
	names := map[string]string{}
	for _, u := range users {
		names[u.Pub] = u.Name
	}
	var out []Revocation
	for pub, at := range acc.Claims.Revocations {
		out = append(out, Revocation{Pub: pub, User: names[pub], At: time.Unix(at, 0).UTC()})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].User != out[j].User {
			return out[i].User < out[j].User
		}
		return out[i].Pub < out[j].Pub
	})
	return out, nil
}

// IsRevoked reports whether the account revokes the user's current JWT.
func (a *AccountInfo) IsRevoked(u *UserInfo) bool {
	return a.Claims.Revocations.IsRevoked(u.Pub, time.Unix(u.Claims.IssuedAt, 0))
}
