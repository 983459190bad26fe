package authority

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"

	"github.com/natsauth/natsauth/internal/units"
)

// AccountEdit sets account limits. A nil field leaves that limit as it is,
// so editing one limit never resets another. -1 means unlimited.
type AccountEdit struct {
	Conns     *int64 // max client connections
	LeafConns *int64 // max leaf node connections
	Data      *int64 // max data in flight, bytes
	Exports   *int64 // max exports
	Imports   *int64 // max imports
	Payload   *int64 // max message payload, bytes
	Subs      *int64 // max subscriptions

	// JetStream (global tier). JetStream is enabled for the account when
	// memory or disk storage is non-zero; 0 disables, -1 is unlimited.
	JSMemStorage  *int64 // bytes
	JSDiskStorage *int64 // bytes
	JSStreams     *int64
	JSConsumer    *int64

	// AddSigningKeys adds account signing keys: an account public key
	// (its seed stays wherever it is), or "" to generate one whose seed
	// is kept in the keystore. New users are signed with a generated key.
	AddSigningKeys []string
	// RemoveSigningKeys removes signing keys by public key or by the role
	// of a scoped key, and deletes their seeds. A key that still signs
	// users of the home is refused (rotate it instead).
	RemoveSigningKeys []string
}

// Int64 returns a pointer to v, for the fields of AccountEdit.
func Int64(v int64) *int64 { return &v }

type limitField struct {
	name string
	v    *int64
	size bool // a byte size; otherwise a count
}

func (e AccountEdit) fields() []limitField {
	return []limitField{
		{"max-connections", e.Conns, false}, {"max-leafnodes", e.LeafConns, false}, {"max-data", e.Data, true},
		{"max-exports", e.Exports, false}, {"max-imports", e.Imports, false}, {"max-payload", e.Payload, true},
		{"max-subscriptions", e.Subs, false}, {"js-mem-storage", e.JSMemStorage, true},
		{"js-disk-storage", e.JSDiskStorage, true}, {"js-streams", e.JSStreams, false}, {"js-consumer", e.JSConsumer, false},
	}
}

// Changes describes each limit the edit sets, e.g. "max-payload 1MB", in
// the order of the flags.
func (e AccountEdit) Changes() []string {
	var out []string
	for _, f := range e.fields() {
		if f.v == nil {
			continue
		}
		shown := units.FormatCount(*f.v)
		if f.size {
			shown = units.FormatSize(*f.v)
		}
		out = append(out, f.name+" "+shown)
	}
	return out
}

// IsZero reports whether the edit changes nothing.
func (e AccountEdit) IsZero() bool {
	if len(e.AddSigningKeys)+len(e.RemoveSigningKeys) > 0 {
		return false
	}
	return e.LimitsZero()
}

// LimitsZero reports whether the edit changes no limit.
func (e AccountEdit) LimitsZero() bool {
	for _, f := range e.fields() {
		if f.v != nil {
			return false
		}
	}
	return true
}

// Check reports every invalid value of the edit without looking at a
// home; AddAccount and EditAccount run the same checks and more.
func (e AccountEdit) Check() error {
	p := newProblems("account limits")
	e.check(p)
	return p.err()
}

func (e AccountEdit) setsJetStream() bool {
	return e.JSMemStorage != nil || e.JSDiskStorage != nil || e.JSStreams != nil || e.JSConsumer != nil
}

// check adds a problem for every invalid value.
func (e AccountEdit) check(p *problems) {
	for _, f := range e.fields() {
		if f.v != nil && *f.v < -1 {
			p.add("%s %d is invalid: use a value of 0 or more, or -1 for unlimited", f.name, *f.v)
		}
	}
	seen := map[string]bool{}
	for _, k := range e.AddSigningKeys {
		switch {
		case strings.HasPrefix(k, "SA"):
			p.add("signing key: that is an account seed; give its public key, or generate one")
		case k != "" && !nkeys.IsValidPublicAccountKey(k):
			p.add("signing key %.60q is not an account public key (A...)", k)
		case k != "" && seen[k]:
			p.add("signing key %s is given twice", k)
		}
		seen[k] = true
	}
}

// checkAgainst adds problems that depend on the account being edited.
func (e AccountEdit) checkAgainst(p *problems, acc *AccountInfo) {
	if acc.System {
		for _, f := range []limitField{{"js-mem-storage", e.JSMemStorage, true}, {"js-disk-storage", e.JSDiskStorage, true}} {
			if f.v != nil && *f.v != 0 {
				p.add("%s: the system account cannot have JetStream enabled", f.name)
			}
		}
	}
	if e.setsJetStream() && len(acc.Claims.Limits.JetStreamTieredLimits) > 0 {
		p.add("account %s has tiered JetStream limits (%s); natsauth edits only the global tier — remove them with nsc first",
			acc.Name, strings.Join(sortedKeys(acc.Claims.Limits.JetStreamTieredLimits), ", "))
	}
}

func jsLimitsSet(l *jwt.JetStreamLimits) bool {
	return l.MemoryStorage != 0 || l.DiskStorage != 0 || l.Streams != 0 ||
		l.Consumer != 0 || l.MaxAckPending != 0 || l.MemoryMaxStreamBytes != 0 ||
		l.DiskMaxStreamBytes != 0 || l.MaxBytesRequired
}

// apply writes the set fields into ac.
func (e AccountEdit) apply(ac *jwt.AccountClaims) {
	set := func(dst *int64, v *int64) {
		if v != nil {
			*dst = *v
		}
	}
	set(&ac.Limits.Conn, e.Conns)
	set(&ac.Limits.LeafNodeConn, e.LeafConns)
	set(&ac.Limits.Data, e.Data)
	set(&ac.Limits.Exports, e.Exports)
	set(&ac.Limits.Imports, e.Imports)
	set(&ac.Limits.Payload, e.Payload)
	set(&ac.Limits.Subs, e.Subs)
	if e.setsJetStream() {
		js := &ac.Limits.JetStreamLimits
		if !jsLimitsSet(js) {
			// First JetStream limits of the account: what nsc writes for
			// the limits not given (unlimited).
			js.Streams, js.Consumer, js.MaxAckPending = -1, -1, -1
			js.MemoryMaxStreamBytes, js.DiskMaxStreamBytes = -1, -1
		}
		set(&js.MemoryStorage, e.JSMemStorage)
		set(&js.DiskStorage, e.JSDiskStorage)
		set(&js.Streams, e.JSStreams)
		set(&js.Consumer, e.JSConsumer)
	}
}

// AddAccount creates an account signed by the operator signing key, with
// the limits of e applied to nsc's defaults (unlimited, JetStream off).
func (h *Home) AddAccount(name string, e AccountEdit) (*AccountInfo, error) {
	p := newProblems("add account %s", name)
	if err := CheckName("account", name); err != nil {
		p.add("%v", err)
	}
	e.check(p)
	if len(e.RemoveSigningKeys) > 0 {
		p.add("a new account has no signing keys to remove")
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
	}
	signer, err := h.OperatorSigner()
	p.addErr(err)
	if err := p.err(); err != nil {
		return nil, err
	}

	kp, err := nkeys.CreateAccount()
	if err != nil {
		return nil, fmt.Errorf("add account %s: create key: %w", name, err)
	}
	var t txn
	sks, err := h.stageNewSigningKeys(&t, e.AddSigningKeys)
	if err != nil {
		return nil, fmt.Errorf("add account %s: %w", name, err)
	}
	ac := jwt.NewAccountClaims(pubKey(kp))
	ac.Name = name
	e.apply(ac)
	for _, k := range sks {
		ac.SigningKeys.Add(k)
	}
	info, err := h.signAccount(ac, signer, 0)
	if err != nil {
		return nil, fmt.Errorf("add account %s: %w", name, err)
	}
	info.Name = name
	if _, err := h.stageKey(&t, kp); err != nil {
		return nil, fmt.Errorf("add account %s: %w", name, err)
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
		p.add("nothing to change: give at least one limit or signing key")
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
		e.checkAgainst(p, acc)
		removed = h.checkSigningKeyEdit(p, acc, e)
	}
	signer, err := h.OperatorSigner()
	p.addErr(err)
	if err := p.err(); err != nil {
		return nil, err
	}
	var t txn
	added, err := h.stageNewSigningKeys(&t, e.AddSigningKeys)
	if err != nil {
		return nil, fmt.Errorf("edit account %s: %w", name, err)
	}
	info, err := h.stageResignAccount(&t, acc, signer, func(ac *jwt.AccountClaims) {
		e.apply(ac)
		for _, k := range removed {
			ac.SigningKeys.Remove(k)
		}
		for _, k := range added {
			ac.SigningKeys.Add(k)
		}
	})
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
