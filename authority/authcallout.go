package authority

import (
	"fmt"
	"strings"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
)

// GenerateCurve asks EditAuthCallout for a new curve (xkey) key pair whose
// seed is kept in the keystore, as nsc's `--curve generate` does.
const GenerateCurve = "generate"

// AnyAccount in AuthCalloutEdit.AllowedAccounts lets the authorization
// service place users in any account of the operator (nsc's "*").
const AnyAccount = jwt.AnyAccount

// AuthCalloutEdit changes an account's external authorization (auth
// callout) the way `nsc edit authcallout` does. Empty fields change
// nothing.
type AuthCalloutEdit struct {
	// AuthUsers adds users that bypass the callout and that the
	// authorization service itself connects as: user public keys (U...) or
	// names of users of the account.
	AuthUsers []string
	// RemoveAuthUsers removes auth users, by public key or name.
	RemoveAuthUsers []string
	// AllowedAccounts adds accounts the service may place users in:
	// account public keys, account names, or AnyAccount ("*") alone.
	AllowedAccounts []string
	// RemoveAllowedAccounts removes allowed accounts (keys, names or "*").
	RemoveAllowedAccounts []string
	// Curve sets the curve (xkey) public key that servers encrypt
	// authorization requests to: an X... public key, or GenerateCurve to
	// make one whose seed is kept in the keystore.
	Curve string
	// RemoveCurve removes the curve key: requests travel unencrypted.
	RemoveCurve bool
	// Disable removes the whole external authorization configuration; it
	// excludes every other field.
	Disable bool
}

// IsZero reports whether the edit changes nothing.
func (e AuthCalloutEdit) IsZero() bool {
	return len(e.AuthUsers)+len(e.RemoveAuthUsers)+len(e.AllowedAccounts)+len(e.RemoveAllowedAccounts) == 0 &&
		e.Curve == "" && !e.RemoveCurve && !e.Disable
}

// check adds a problem for every invalid value that needs no home.
func (e AuthCalloutEdit) check(p *problems) {
	if e.IsZero() {
		p.add("nothing to change: give --auth-user, --allowed-account, --curve, their --rm- forms, or --disable")
	}
	if e.Disable && (len(e.AuthUsers)+len(e.RemoveAuthUsers)+len(e.AllowedAccounts)+len(e.RemoveAllowedAccounts) > 0 ||
		e.Curve != "" || e.RemoveCurve) {
		p.add("--disable is exclusive of all other options")
	}
	if e.Curve != "" && e.RemoveCurve {
		p.add("give either --curve or --rm-curve, not both")
	}
	switch {
	case e.Curve == "" || e.Curve == GenerateCurve:
	case strings.HasPrefix(e.Curve, "SX"):
		p.add("curve key: that is a curve seed; give its public key (X...), or generate one")
	case !nkeys.IsValidPublicCurveKey(e.Curve):
		p.add("curve key %.60q is not a curve public key (X...) or %q", e.Curve, GenerateCurve)
	}
}

// EditAuthCallout changes the external authorization (auth callout) of
// an account and re-signs it with the operator signing key. The JWT it
// writes is the one nsc writes for the same flags: auth users, allowed
// accounts and the curve key in the account's "authorization" claim. A
// generated curve key's seed is kept in the keystore (0600), where nsc
// keeps it. Every problem is reported at once and nothing is written when
// there is one.
func (h *Home) EditAuthCallout(account string, e AuthCalloutEdit) (*AccountInfo, error) {
	p := newProblems("edit authcallout of account %s", account)
	e.check(p)
	unlock, err := h.lock(true)
	if err != nil {
		return nil, err
	}
	defer unlock()
	acc, err := h.readAccount(account)
	p.addErr(err)
	var next jwt.ExternalAuthorization
	if acc != nil {
		if acc.System {
			p.add("the system account cannot delegate authorization to a callout")
		}
		next = h.nextAuthorization(p, acc, e)
	}
	signer, err := h.OperatorSigner()
	p.addErr(err)
	if err := p.err(); err != nil {
		return nil, err
	}
	var t txn
	if e.Curve == GenerateCurve {
		kp, err := nkeys.CreateCurveKeys()
		if err != nil {
			return nil, fmt.Errorf("edit authcallout of account %s: create curve key: %w", account, err)
		}
		if next.XKey, err = h.stageKey(&t, kp); err != nil {
			return nil, fmt.Errorf("edit authcallout of account %s: %w", account, err)
		}
	}
	info, err := h.stageResignAccount(&t, acc, signer, func(ac *jwt.AccountClaims) { ac.Authorization = next })
	if err != nil {
		return nil, fmt.Errorf("edit authcallout: %w", err)
	}
	if err := t.commit(); err != nil {
		return nil, fmt.Errorf("edit authcallout of account %s: %w", account, err)
	}
	return info, nil
}

// nextAuthorization computes the account's new external authorization,
// adding a problem for every key or name that does not resolve and for a
// result nats-server would refuse. The caller holds the lock.
func (h *Home) nextAuthorization(p *problems, acc *AccountInfo, e AuthCalloutEdit) jwt.ExternalAuthorization {
	if e.Disable {
		return jwt.ExternalAuthorization{}
	}
	cur := acc.Claims.Authorization
	next := jwt.ExternalAuthorization{XKey: cur.XKey}
	next.AuthUsers = append(next.AuthUsers, cur.AuthUsers...)
	next.AllowedAccounts = append(next.AllowedAccounts, cur.AllowedAccounts...)
	var users []UserInfo
	if len(e.AuthUsers)+len(e.RemoveAuthUsers) > 0 {
		var err error
		users, err = h.listUsers(acc)
		p.addErr(err)
	}
	for _, u := range e.AuthUsers {
		if pub := resolveAuthUser(p, acc, users, u); pub != "" {
			next.AuthUsers.Add(pub)
		}
	}
	for _, u := range e.RemoveAuthUsers {
		if pub := resolveAuthUser(p, acc, users, u); pub != "" {
			next.AuthUsers.Remove(pub)
		}
	}
	var accs []AccountInfo
	if len(e.AllowedAccounts)+len(e.RemoveAllowedAccounts) > 0 {
		var err error
		accs, err = h.listAccounts()
		p.addErr(err)
	}
	for _, a := range e.AllowedAccounts {
		if pub := resolveAllowedAccount(p, accs, a); pub != "" {
			next.AllowedAccounts.Add(pub)
		}
	}
	for _, a := range e.RemoveAllowedAccounts {
		if pub := resolveAllowedAccount(p, accs, a); pub != "" {
			next.AllowedAccounts.Remove(pub)
		}
	}
	switch {
	case e.RemoveCurve:
		next.XKey = ""
	case e.Curve != "" && e.Curve != GenerateCurve:
		next.XKey = e.Curve
	}
	if len(next.AllowedAccounts) > 0 && len(next.AuthUsers) == 0 {
		p.add("the callout needs at least one --auth-user (the user the authorization service connects as) " +
			"when accounts are allowed; use --disable to turn the callout off")
	}
	if next.AllowedAccounts.Contains(AnyAccount) && len(next.AllowedAccounts) > 1 {
		p.add("allowed accounts are either a list of accounts or %q alone", AnyAccount)
	}
	return next
}

// resolveAuthUser turns a user public key or a user name of acc into a
// user public key.
func resolveAuthUser(p *problems, acc *AccountInfo, users []UserInfo, s string) string {
	s = strings.TrimSpace(s)
	switch {
	case nkeys.IsValidPublicUserKey(s):
		return s
	case strings.HasPrefix(s, "SU"):
		p.add("auth user: that is a user seed; give the public key (U...) or the user's name")
		return ""
	}
	for _, u := range users {
		if u.Name == s {
			return u.Pub
		}
	}
	p.addKind(ErrNotFound, "auth user %.60q is neither a user public key (U...) nor a user of account %s", s, acc.Name)
	return ""
}

// resolveAllowedAccount turns an account public key, name or "*" into
// what the authorization claim holds.
func resolveAllowedAccount(p *problems, accs []AccountInfo, s string) string {
	s = strings.TrimSpace(s)
	switch {
	case s == AnyAccount || nkeys.IsValidPublicAccountKey(s):
		return s
	case strings.HasPrefix(s, "SA"):
		p.add("allowed account: that is an account seed; give the public key (A...) or the account's name")
		return ""
	}
	for _, a := range accs {
		if a.Name == s {
			return a.Pub
		}
	}
	p.addKind(ErrNotFound, "allowed account %.60q is neither an account public key (A...), an account name, nor %q", s, AnyAccount)
	return ""
}

// CurveKey returns the curve (xkey) key pair whose public key is pub from
// the keystore, for the authorization service to open the requests that
// servers encrypt to it. Errors name the key and path, never the seed.
func (h *Home) CurveKey(pub string) (nkeys.KeyPair, error) {
	if !nkeys.IsValidPublicCurveKey(pub) {
		return nil, fmt.Errorf("curve key %.60q: not a curve public key: %w", pub, ErrInvalid)
	}
	kp, err := h.readKey(pub)
	if err != nil {
		return nil, fmt.Errorf("curve key: %w", err)
	}
	return kp, nil
}
