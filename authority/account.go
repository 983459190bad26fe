package authority

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
)

// AddAccount creates an account signed by the operator signing key, with
// the settings of e applied to nsc's defaults (unlimited, JetStream off).
func (h *Home) AddAccount(name string, e AccountEdit) (*AccountInfo, error) {
	return h.AddAccountWith(name, e, AccountIssue{})
}

// AddAccountWith creates an account as AddAccount does, keyed as o says.
func (h *Home) AddAccountWith(name string, e AccountEdit, o AccountIssue) (*AccountInfo, error) {
	p := newProblems("add account %s", name)
	if err := CheckName("account", name); err != nil {
		p.add("%v", err)
	}
	e.check(p)
	if len(e.RemoveSigningKeys) > 0 || len(e.RemoveTags) > 0 || e.DefaultPermissions.removes() ||
		e.RemoveJSTier != nil || e.JSDisable {
		p.add("a new account has no signing keys, tags, permissions or JetStream tiers to remove")
	}
	if o.PublicKey != "" && !nkeys.IsValidPublicAccountKey(o.PublicKey) {
		if strings.HasPrefix(o.PublicKey, "SA") {
			p.add("public key: that is an account seed; give the public key (A...) and keep the seed where it is")
		} else {
			p.add("public key %.60q is not an account public key (A...)", o.PublicKey)
		}
	}
	unlock, err := h.lock(true)
	if err != nil {
		return nil, err
	}
	defer unlock()
	accs, err := h.listAccounts()
	if err != nil {
		return nil, fmt.Errorf("add account %s: %w", name, err)
	}
	for _, a := range accs {
		if strings.EqualFold(a.Name, name) {
			if a.Name == name {
				p.addKind(ErrExists, "account %q already exists", name)
			} else {
				p.addKind(ErrExists, "account %q differs only in case from the existing account %q", name, a.Name)
			}
		}
		if o.PublicKey != "" && a.Pub == o.PublicKey {
			p.addKind(ErrExists, "public key %s is already the key of account %s", o.PublicKey, a.Name)
		}
	}
	if o.PublicKey != "" && o.PublicKey == h.opClaims.SystemAccount {
		p.addKind(ErrExists, "public key %s is the operator's system account", o.PublicKey)
	}
	signer, err := h.OperatorSigner()
	p.addErr(err)
	if err := p.err(); err != nil {
		return nil, err
	}

	var kp nkeys.KeyPair
	pub := o.PublicKey
	if pub == "" {
		if kp, err = nkeys.CreateAccount(); err != nil {
			return nil, fmt.Errorf("add account %s: create key: %w", name, err)
		}
		pub = pubKey(kp)
	}
	var t txn
	sks, err := h.stageNewSigningKeys(&t, e.AddSigningKeys)
	if err != nil {
		return nil, fmt.Errorf("add account %s: %w", name, err)
	}
	ac := jwt.NewAccountClaims(pub)
	ac.Name = name
	e.apply(ac)
	for _, k := range sks {
		ac.SigningKeys.Add(k)
	}
	checkAccountClaims(p, ac)
	if err := p.err(); err != nil {
		return nil, err
	}
	info, err := h.signAccount(ac, signer, 0)
	if err != nil {
		return nil, fmt.Errorf("add account %s: %w", name, err)
	}
	info.Name = name
	if kp != nil {
		if _, err := h.stageKey(&t, kp); err != nil {
			return nil, fmt.Errorf("add account %s: %w", name, err)
		}
	}
	t.put(h.accountJWTPath(name), []byte(info.JWT))
	if err := t.commit(); err != nil {
		return nil, fmt.Errorf("add account %s: %w", name, err)
	}
	return info, nil
}

// EditAccount applies e to the named account and re-signs it. The new
// JWT's iat is never earlier than the old one's.
func (h *Home) EditAccount(name string, e AccountEdit) (*AccountInfo, error) {
	p := newProblems("edit account %s", name)
	if e.IsZero() {
		p.add("nothing to change: give at least one setting, limit or signing key")
	}
	e.check(p)
	unlock, err := h.lock(true)
	if err != nil {
		return nil, err
	}
	defer unlock()
	acc, err := h.readAccount(name)
	p.addErr(err)
	var removed []string
	if acc != nil {
		users, err := h.listUsers(acc)
		p.addErr(err)
		e.checkAgainst(p, acc, users)
		removed = h.checkSigningKeyEdit(p, acc, e)
	}
	signer, err := h.OperatorSigner()
	p.addErr(err)
	if err := p.err(); err != nil {
		return nil, err
	}
	ac, err := jwt.DecodeAccountClaims(acc.JWT)
	if err != nil {
		return nil, fmt.Errorf("edit account %s: %w", name, err)
	}
	e.apply(ac)
	for _, k := range removed {
		ac.SigningKeys.Remove(k)
	}
	checkAccountClaims(p, ac)
	if err := p.err(); err != nil {
		return nil, err
	}
	var t txn
	added, err := h.stageNewSigningKeys(&t, e.AddSigningKeys)
	if err != nil {
		return nil, fmt.Errorf("edit account %s: %w", name, err)
	}
	for _, k := range added {
		ac.SigningKeys.Add(k)
	}
	info, err := h.stageAccountClaims(&t, acc, ac, signer)
	if err != nil {
		return nil, fmt.Errorf("edit account %s: %w", name, err)
	}
	for _, k := range removed {
		t.del(h.keyPath(k))
	}
	if err := t.commit(); err != nil {
		return nil, fmt.Errorf("edit account %s: %w", name, err)
	}
	for _, k := range removed {
		pruneDirs(h.pruneKey(k).dir, h.pruneKey(k).stop)
	}
	return info, nil
}

// checkSigningKeyEdit adds the problems of e's signing-key changes to acc
// and returns the public keys to remove. The caller holds the lock.
func (h *Home) checkSigningKeyEdit(p *problems, acc *AccountInfo, e AccountEdit) []string {
	for _, k := range e.AddSigningKeys {
		if k != "" && (acc.Claims.SigningKeys.Contains(k) || k == acc.Pub) {
			p.addKind(ErrExists, "account %s already has the key %s", acc.Name, k)
		}
	}
	if len(e.RemoveSigningKeys) == 0 {
		return nil
	}
	users, err := h.listUsers(acc)
	p.addErr(err)
	var out []string
	for _, key := range e.RemoveSigningKeys {
		pub := findSigningKey(p, acc, key)
		if pub == "" {
			continue
		}
		var signed []string
		for _, u := range users {
			if u.Claims.Issuer == pub {
				signed = append(signed, u.Name)
			}
		}
		if len(signed) > 0 {
			p.add("users %s are signed by %s and would be refused: rotate the key instead "+
				"(natsauth rotate account-signing-key -a %s --key %s)", strings.Join(signed, ", "), pub, acc.Name, pub)
		}
		out = append(out, pub)
	}
	return out
}

// stageNewSigningKeys returns the public keys to add: each given key, or a
// generated one (its seed staged into the keystore) for "".
func (h *Home) stageNewSigningKeys(t *txn, keys []string) ([]string, error) {
	var out []string
	for _, k := range keys {
		if k == "" {
			kp, err := nkeys.CreateAccount()
			if err != nil {
				return nil, fmt.Errorf("create signing key: %w", err)
			}
			if k, err = h.stageKey(t, kp); err != nil {
				return nil, err
			}
		}
		out = append(out, k)
	}
	return out, nil
}

// resignAccount applies mod to a copy of acc's claims, signs them with
// signer (iat not before the current JWT's) and saves the account. The
// caller holds the lock and has validated everything.
func (h *Home) resignAccount(acc *AccountInfo, signer nkeys.KeyPair, mod func(*jwt.AccountClaims)) (*AccountInfo, error) {
	ac, err := jwt.DecodeAccountClaims(acc.JWT)
	if err != nil {
		return nil, fmt.Errorf("account %s: %w", acc.Name, err)
	}
	mod(ac)
	info, err := h.signAccount(ac, signer, acc.Claims.IssuedAt)
	if err != nil {
		return nil, fmt.Errorf("account %s: %w", acc.Name, err)
	}
	info.Name = acc.Name
	var t txn
	t.put(h.accountJWTPath(acc.Name), []byte(info.JWT))
	if err := t.commit(); err != nil {
		return nil, fmt.Errorf("account %s: %w", acc.Name, err)
	}
	return info, nil
}

// signAccount signs ac and checks the result with the home's trust policy,
// the same validation every store applies.
func (h *Home) signAccount(ac *jwt.AccountClaims, signer nkeys.KeyPair, minIat int64) (*AccountInfo, error) {
	tok, err := encodeAccount(ac, signer, minIat)
	if err != nil {
		return nil, err
	}
	checked, err := h.Policy().CheckAccount(ac.Subject, tok)
	if err != nil {
		return nil, err
	}
	return &AccountInfo{Name: checked.Name, Pub: checked.Subject, JWT: tok, Claims: checked,
		System: checked.Subject == h.opClaims.SystemAccount}, nil
}

// DeleteAccount removes an account with its users, their creds and the
// account's and users' seeds. The system account cannot be deleted. It
// returns the account as it was, so callers can remove it from stores.
func (h *Home) DeleteAccount(name string) (*AccountInfo, error) {
	p := newProblems("delete account %s", name)
	unlock, err := h.lock(true)
	if err != nil {
		return nil, err
	}
	defer unlock()
	acc, err := h.readAccount(name)
	p.addErr(err)
	if acc != nil && acc.System {
		p.add("%s is the operator's system account and cannot be deleted", name)
	}
	var users []UserInfo
	if acc != nil {
		users, err = h.listUsers(acc)
		p.addErr(err)
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	var t txn
	var prunes []prune
	for i := range users {
		prunes = append(prunes, h.stageDeleteUser(&t, &users[i])...)
	}
	t.del(h.accountJWTPath(name))
	t.del(h.keyPath(acc.Pub))
	prunes = append(prunes, h.pruneKey(acc.Pub),
		prune{h.usersDir(name), h.accountsDir()},
		prune{h.credsDir(name), filepath.Join(h.keystoreDir(), credsSubDir)})
	if err := t.commit(); err != nil {
		return nil, fmt.Errorf("delete account %s: %w", name, err)
	}
	for _, d := range prunes {
		pruneDirs(d.dir, d.stop)
	}
	return acc, nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
