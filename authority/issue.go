package authority

import (
	"fmt"
	"sort"
	"strings"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
)

// UserIssue says how AddUserWith issues a user.
type UserIssue struct {
	// PublicKey issues the user for an existing user public key (U...), so
	// that a client never hands over its seed: no seed is stored and no
	// creds file is written; whoever holds the seed makes the creds file
	// from the user JWT.
	PublicKey string
	// SigningKey picks the account key that signs the user: the role of a
	// scoped signing key, a signing key's public key, or the account's own
	// public key. Empty picks the account's (unscoped) signing key, else
	// its identity key. A user signed by a scoped signing key carries no
	// permissions of its own: the key's template applies.
	SigningKey string
}

// AddUserWith creates a user of account as AddUser does, signed and keyed
// as o says.
func (h *Home) AddUserWith(account, name string, e UserEdit, o UserIssue) (*UserInfo, error) {
	p := newProblems("add user %s", name)
	if err := CheckName("user", name); err != nil {
		p.add("%v", err)
	}
	src := e.check(p, nil, false)
	if o.PublicKey != "" && !nkeys.IsValidPublicUserKey(o.PublicKey) {
		if strings.HasPrefix(o.PublicKey, "SU") {
			p.add("public key: that is a user seed; give the public key (U...) and keep the seed where it is")
		} else {
			p.add("public key %.60q is not a user public key (U...)", o.PublicKey)
		}
	}
	unlock, err := h.lock(true)
	if err != nil {
		return nil, err
	}
	defer unlock()
	acc, err := h.readAccount(account)
	p.addErr(err)
	var signer nkeys.KeyPair
	var scope *jwt.UserScope
	if acc != nil {
		users, err := h.listUsers(acc)
		p.addErr(err)
		for _, u := range users {
			if strings.EqualFold(u.Name, name) {
				if u.Name == name {
					p.addKind(ErrExists, "user %q already exists in account %s", name, acc.Name)
				} else {
					p.addKind(ErrExists, "user %q differs only in case from the existing user %q", name, u.Name)
				}
			}
			if o.PublicKey != "" && u.Pub == o.PublicKey {
				p.addKind(ErrExists, "public key %s is already the key of user %s", o.PublicKey, u.Name)
			}
		}
		if e.Bearer != nil && *e.Bearer && acc.Claims.Limits.DisallowBearer {
			p.add("account %s does not allow bearer tokens", acc.Name)
		}
		signer, scope = h.userSigner(p, acc, o.SigningKey, nil)
		if scope != nil {
			checkScopedEdit(p, e, scope)
		}
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	var kp nkeys.KeyPair
	pub := o.PublicKey
	if pub == "" {
		kp, err = nkeys.CreateUser()
		if err != nil {
			return nil, fmt.Errorf("add user %s: create key: %w", name, err)
		}
		pub = pubKey(kp)
	}
	uc := jwt.NewUserClaims(pub)
	uc.Name = name
	e.apply(uc, src)
	if scope != nil {
		uc.UserPermissionLimits = jwt.UserPermissionLimits{}
	}
	checkUserClaims(p, uc)
	if err := p.err(); err != nil {
		return nil, err
	}
	var t txn
	if kp != nil {
		if _, err := h.stageKey(&t, kp); err != nil {
			return nil, fmt.Errorf("add user %s: %w", name, err)
		}
	}
	info, err := h.stageUser(&t, acc, name, uc, signer, kp)
	if err != nil {
		return nil, fmt.Errorf("add user %s: %w", name, err)
	}
	if err := t.commit(); err != nil {
		return nil, fmt.Errorf("add user %s: %w", name, err)
	}
	return info, nil
}

// checkScopedEdit refuses permissions and limits on a user signed by a
// scoped signing key: nats-server refuses such a user; the key's template
// is what applies.
func checkScopedEdit(p *problems, e UserEdit, scope *jwt.UserScope) {
	if !e.perms().IsZero() || len(e.Src)+len(e.RemoveSrc) > 0 || (e.Bearer != nil && *e.Bearer) || !e.limitsZero() {
		p.add("the user is signed by the scoped signing key %s (role %q), whose template sets its permissions and limits; "+
			"give no permission, response, bearer, source-network, limit, connection-type or time flags, "+
			"or change the role with natsauth edit signing-key", scope.Key, scope.Role)
	}
}

// userSigner picks the key that signs a user of acc and its scope (nil for
// an unscoped key):
//   - want, when given: the role of a scoped signing key, a signing key's
//     public key or the account's public key;
//   - else the scoped key that signed cur, when it is still the account's,
//     so an edited scoped user keeps its role;
//   - else the account's unscoped signing key whose seed is in the keystore
//     (the first by public key when there are several);
//   - else the account identity key, unless the operator requires signing
//     keys (its servers refuse users signed by an identity key).
//
// The caller holds the lock. Problems are added to p.
func (h *Home) userSigner(p *problems, acc *AccountInfo, want string, cur *jwt.UserClaims) (nkeys.KeyPair, *jwt.UserScope) {
	sks := acc.Claims.SigningKeys
	strict := h.opClaims.StrictSigningKeyUsage
	load := func(pub string) nkeys.KeyPair {
		kp, err := h.readKey(pub)
		if err != nil {
			p.addErr(fmt.Errorf("signing key %s of account %s: %w", pub, acc.Name, err))
			return nil
		}
		return kp
	}
	// During a rotation the retiring key and its replacement share a
	// scope: sign with the replacement.
	retiring := ""
	if r, err := h.readRotation(RotateAccount, acc.Name); err == nil && r != nil {
		retiring = r.Old
	}
	if want != "" {
		var byRole []string
		for k, s := range sks {
			if us, ok := s.(*jwt.UserScope); ok && us.Role == want {
				byRole = append(byRole, k)
			}
		}
		key := preferred(byRole, retiring)
		if key == "" && (sks.Contains(want) || want == acc.Pub) {
			key = want
		}
		if key == "" {
			p.addKind(ErrNotFound, "account %s has no signing key with role or public key %q (%s)", acc.Name, want, describeSigningKeys(acc))
			return nil, nil
		}
		if key == acc.Pub && strict {
			p.add("operator %s requires signing keys: users signed by the identity key of account %s are refused", h.op, acc.Name)
			return nil, nil
		}
		return load(key), scopeOf(sks, key)
	}
	if cur != nil {
		if s := scopeOf(sks, cur.Issuer); s != nil {
			return load(cur.Issuer), s
		}
	}
	var unscoped []string
	for k, s := range sks {
		if s == nil && h.hasKey(k) {
			unscoped = append(unscoped, k)
		}
	}
	if len(unscoped) > 0 {
		return load(preferred(unscoped, retiring)), nil
	}
	if strict {
		p.add("operator %s requires signing keys and account %s has no signing key with a seed here: "+
			"add one with natsauth edit account %s --sk generate", h.op, acc.Name, acc.Name)
		return nil, nil
	}
	return load(acc.Pub), nil
}

// preferred picks from keys the first by public key, passing over the
// retiring one when there is another; "" when keys is empty.
func preferred(keys []string, retiring string) string {
	sort.Strings(keys)
	for _, k := range keys {
		if k != retiring {
			return k
		}
	}
	if len(keys) > 0 {
		return keys[0]
	}
	return ""
}

// scopeOf returns the user scope of signing key k, or nil.
func scopeOf(sks jwt.SigningKeys, k string) *jwt.UserScope {
	if s, ok := sks.GetScope(k); ok && s != nil {
		if us, ok := s.(*jwt.UserScope); ok {
			return us
		}
	}
	return nil
}

// describeSigningKeys lists an account's signing keys and roles for error
// messages.
func describeSigningKeys(acc *AccountInfo) string {
	if len(acc.Claims.SigningKeys) == 0 {
		return "it has no signing keys"
	}
	var parts []string
	for _, k := range sortedKeys(acc.Claims.SigningKeys) {
		if us := scopeOf(acc.Claims.SigningKeys, k); us != nil {
			parts = append(parts, fmt.Sprintf("%s role %q", k, us.Role))
		} else {
			parts = append(parts, k)
		}
	}
	return "signing keys: " + strings.Join(parts, ", ")
}

// hasKey reports whether the keystore holds the seed of pub.
func (h *Home) hasKey(pub string) bool {
	_, err := h.readKey(pub)
	return err == nil
}

// UserSigner returns the key natsauth signs new users of the account with
// public key pub: its unscoped signing key when it has one with a seed in
// the keystore, else its identity key. `serve` uses the system account's
// to mint an in-process user, which must be signed by a signing key when
// the operator requires them.
func (h *Home) UserSigner(pub string) (nkeys.KeyPair, error) {
	acc, err := h.AccountByPub(pub)
	if err != nil {
		return nil, fmt.Errorf("user signer: %w", err)
	}
	p := newProblems("user signer of account %s", acc.Name)
	kp, _ := h.userSigner(p, acc, "", nil)
	if err := p.err(); err != nil {
		return nil, err
	}
	return kp, nil
}
