package authority

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"unicode"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
)

// Signing keys, as nsc keeps them: the operator's sign accounts, an
// account's sign its users. A scoped account signing key carries a role
// and a template of user permissions and limits; users it signs carry none
// of their own. Editing the operator needs the operator identity seed in
// the keystore; nothing else does.
//
// Operator edits change the Home's operator in memory: do not run them
// concurrently with other calls on the same Home.

// OperatorSigningKeys returns the operator's signing keys in the order of
// the operator JWT; natsauth signs accounts with the first whose seed is in
// the keystore.
func (h *Home) OperatorSigningKeys() []string {
	return append([]string(nil), h.opClaims.SigningKeys...)
}

// AddOperatorSigningKey adds a signing key to the operator and re-signs the
// operator JWT with the operator identity key. pub is an operator public
// key to add (its seed stays wherever it is), or "" to generate a key and
// keep its seed in the keystore. The new key goes last: natsauth keeps
// signing accounts with the key it used so far, because servers learn of
// the new one only when they restart with the new operator JWT (until then
// they refuse accounts it signs).
func (h *Home) AddOperatorSigningKey(pub string) (string, error) {
	p := newProblems("add operator signing key")
	if pub != "" && !nkeys.IsValidPublicOperatorKey(pub) {
		p.add("%.60q is not an operator public key (O...)", pub)
	}
	unlock, err := h.lock(true)
	if err != nil {
		return "", err
	}
	defer unlock()
	oc, idKP := h.operatorForEdit(p)
	if oc != nil && pub != "" && (oc.SigningKeys.Contains(pub) || pub == oc.Subject) {
		p.addKind(ErrExists, "operator %s already has the key %s", h.op, pub)
	}
	if err := p.err(); err != nil {
		return "", err
	}
	var t txn
	if pub == "" {
		kp, err := nkeys.CreateOperator()
		if err != nil {
			return "", fmt.Errorf("add operator signing key: %w", err)
		}
		if pub, err = h.stageKey(&t, kp); err != nil {
			return "", fmt.Errorf("add operator signing key: %w", err)
		}
	}
	oc.SigningKeys = append(oc.SigningKeys, pub)
	if err := h.stageOperator(&t, oc, idKP); err != nil {
		return "", fmt.Errorf("add operator signing key: %w", err)
	}
	if err := h.commitOperator(&t, oc); err != nil {
		return "", fmt.Errorf("add operator signing key: %w", err)
	}
	return pub, nil
}

// RemoveOperatorSigningKey removes a signing key from the operator, deletes
// its seed and re-signs the operator JWT. It refuses while accounts of the
// home are signed by the key (rotate it instead: their JWTs would be
// refused) and when it is the last key natsauth can sign accounts with.
func (h *Home) RemoveOperatorSigningKey(pub string) error {
	p := newProblems("remove operator signing key %.60s", pub)
	unlock, err := h.lock(true)
	if err != nil {
		return err
	}
	defer unlock()
	oc, idKP := h.operatorForEdit(p)
	if oc != nil {
		h.checkRemoveOperatorKey(p, oc, pub)
	}
	if err := p.err(); err != nil {
		return err
	}
	var t txn
	oc.SigningKeys.Remove(pub)
	if err := h.stageOperator(&t, oc, idKP); err != nil {
		return fmt.Errorf("remove operator signing key: %w", err)
	}
	t.del(h.keyPath(pub))
	if err := h.commitOperator(&t, oc); err != nil {
		return fmt.Errorf("remove operator signing key: %w", err)
	}
	pruneDirs(h.pruneKey(pub).dir, h.pruneKey(pub).stop)
	return nil
}

// checkRemoveOperatorKey adds the reasons pub cannot be removed.
func (h *Home) checkRemoveOperatorKey(p *problems, oc *jwt.OperatorClaims, pub string) {
	if !oc.SigningKeys.Contains(pub) {
		p.addKind(ErrNotFound, "operator %s has no signing key %.60q (signing keys: %s)", h.op, pub,
			strings.Join(oc.SigningKeys, ", "))
		return
	}
	usable := 0
	for _, k := range oc.SigningKeys {
		if k != pub && h.hasKey(k) {
			usable++
		}
	}
	if usable == 0 {
		p.add("%s is the operator's last signing key with a seed here, and natsauth signs accounts with one: "+
			"add another (natsauth edit operator --sk generate) or rotate it (natsauth rotate operator-signing-key)", pub)
	}
	accs, err := h.listAccounts()
	p.addErr(err)
	var signed []string
	for _, a := range accs {
		if a.Claims.Issuer == pub {
			signed = append(signed, a.Name)
		}
	}
	if len(signed) > 0 {
		p.add("accounts %s are signed by %s and would be refused: rotate the key instead "+
			"(natsauth rotate operator-signing-key --key %s)", strings.Join(signed, ", "), pub, pub)
	}
}

// SetRequireSigningKeys sets whether the operator requires signing keys:
// servers then refuse accounts signed by the operator identity key and
// users signed by an account identity key. Turning it on re-signs, with the
// operator signing key, the accounts the identity key signed (returned, to
// be published before servers restart with the new operator JWT), and is
// refused while users of the home are signed by an account identity key
// (rotate those accounts' keys first).
func (h *Home) SetRequireSigningKeys(on bool) ([]AccountInfo, error) {
	p := newProblems("require signing keys")
	unlock, err := h.lock(true)
	if err != nil {
		return nil, err
	}
	defer unlock()
	oc, idKP := h.operatorForEdit(p)
	var resign []AccountInfo
	if oc != nil && on {
		accs, err := h.listAccounts()
		p.addErr(err)
		for i := range accs {
			a := &accs[i]
			if a.Claims.Issuer == oc.Subject {
				resign = append(resign, *a)
			}
			users, err := h.listUsers(a)
			p.addErr(err)
			var byIdentity []string
			for _, u := range users {
				if u.Claims.Issuer == a.Pub {
					byIdentity = append(byIdentity, u.Name)
				}
			}
			if len(byIdentity) > 0 {
				p.add("users %s of account %s are signed by the account identity key and would be refused: "+
					"move them to a signing key first with natsauth rotate account-signing-key -a %s",
					strings.Join(byIdentity, ", "), a.Name, a.Name)
			}
		}
	}
	var signer nkeys.KeyPair
	if len(resign) > 0 {
		signer, err = h.OperatorSigner()
		p.addErr(err)
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	var t txn
	var out []AccountInfo
	for i := range resign {
		info, err := h.stageResignAccount(&t, &resign[i], signer, func(*jwt.AccountClaims) {})
		if err != nil {
			return nil, fmt.Errorf("require signing keys: %w", err)
		}
		out = append(out, *info)
	}
	oc.StrictSigningKeyUsage = on
	if err := h.stageOperator(&t, oc, idKP); err != nil {
		return nil, fmt.Errorf("require signing keys: %w", err)
	}
	if err := h.commitOperator(&t, oc); err != nil {
		return nil, fmt.Errorf("require signing keys: %w", err)
	}
	return out, nil
}

// operatorForEdit reads the operator JWT from disk (another natsauth may
// have changed it since Open) and the identity key that signs it. The
// caller holds the lock.
func (h *Home) operatorForEdit(p *problems) (*jwt.OperatorClaims, nkeys.KeyPair) {
	raw, err := os.ReadFile(h.operatorJWTPath())
	if err != nil {
		p.addErr(fmt.Errorf("read operator jwt: %w", err))
		return nil, nil
	}
	oc, err := jwt.DecodeOperatorClaims(strings.TrimSpace(string(raw)))
	if err != nil {
		p.addErr(fmt.Errorf("operator jwt %s: %w", h.operatorJWTPath(), err))
		return nil, nil
	}
	h.opJWT, h.opClaims = strings.TrimSpace(string(raw)), oc
	kp, err := h.readKey(oc.Subject)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			p.add("the operator identity key %s is not in the keystore (kept offline?); editing the operator needs its seed at %s",
				oc.Subject, h.keyPath(oc.Subject))
		} else {
			p.addErr(err)
		}
		return oc, nil
	}
	return oc, kp
}

// stageOperator signs oc with the operator identity key and schedules
// writing the operator JWT.
func (h *Home) stageOperator(t *txn, oc *jwt.OperatorClaims, idKP nkeys.KeyPair) error {
	tok, err := encodeAt(oc, idKP, max(h.opClaims.IssuedAt, jwtNow()))
	if err != nil {
		return fmt.Errorf("sign operator: %w", err)
	}
	t.put(h.operatorJWTPath(), []byte(tok))
	return nil
}

// commitOperator applies t and makes oc (as written) the Home's operator.
func (h *Home) commitOperator(t *txn, oc *jwt.OperatorClaims) error {
	if err := t.commit(); err != nil {
		return err
	}
	raw, err := os.ReadFile(h.operatorJWTPath())
	if err != nil {
		return err
	}
	tok := strings.TrimSpace(string(raw))
	claims, err := jwt.DecodeOperatorClaims(tok)
	if err != nil {
		return err
	}
	h.opJWT, h.opClaims = tok, claims
	return nil
}

// stageResignAccount applies mod to acc's claims, signs them with signer
// (iat not before the current JWT's) and schedules writing the account.
func (h *Home) stageResignAccount(t *txn, acc *AccountInfo, signer nkeys.KeyPair, mod func(*jwt.AccountClaims)) (*AccountInfo, error) {
	ac, err := jwt.DecodeAccountClaims(acc.JWT)
	if err != nil {
		return nil, fmt.Errorf("account %s: %w", acc.Name, err)
	}
	mod(ac)
	return h.stageAccountClaims(t, acc, ac, signer)
}

// stageAccountClaims signs ac, the new claims of acc, with signer (iat not
// before acc's) and schedules writing the account JWT.
func (h *Home) stageAccountClaims(t *txn, acc *AccountInfo, ac *jwt.AccountClaims, signer nkeys.KeyPair) (*AccountInfo, error) {
	info, err := h.signAccount(ac, signer, acc.Claims.IssuedAt)
	if err != nil {
		return nil, fmt.Errorf("account %s: %w", acc.Name, err)
	}
	info.Name = acc.Name
	t.put(h.accountJWTPath(acc.Name), []byte(info.JWT))
	return info, nil
}

// checkAccountClaims adds the blocking problems jwt finds in ac (time
// checks excepted: callers check times themselves).
func checkAccountClaims(p *problems, ac *jwt.AccountClaims) {
	if ac.Trace != nil {
		// Validate fills in a zero sampling; keep the JWT as nsc writes it.
		defer func(s int) { ac.Trace.Sampling = s }(ac.Trace.Sampling)
	}
	vr := jwt.CreateValidationResults()
	ac.Validate(vr)
	for _, is := range vr.Issues {
		if is.Blocking && !is.TimeCheck {
			p.add("%s", is.Description)
		}
	}
}

// AddAccountSigningKey adds a signing key to an account and re-signs it
// with the operator signing key. pub is an account public key to add (its
// seed stays wherever it is), or "" to generate one and keep its seed in
// the keystore. From then on natsauth signs new users of the account with
// it. It returns the account and the key.
func (h *Home) AddAccountSigningKey(account, pub string) (*AccountInfo, string, error) {
	p := newProblems("add signing key to account %s", account)
	if pub != "" && !nkeys.IsValidPublicAccountKey(pub) {
		p.add("%.60q is not an account public key (A...)", pub)
	}
	unlock, err := h.lock(true)
	if err != nil {
		return nil, "", err
	}
	defer unlock()
	acc, err := h.readAccount(account)
	p.addErr(err)
	if acc != nil && pub != "" && (acc.Claims.SigningKeys.Contains(pub) || pub == acc.Pub) {
		p.addKind(ErrExists, "account %s already has the key %s", account, pub)
	}
	signer, err := h.OperatorSigner()
	p.addErr(err)
	if err := p.err(); err != nil {
		return nil, "", err
	}
	var t txn
	if pub == "" {
		kp, err := nkeys.CreateAccount()
		if err != nil {
			return nil, "", fmt.Errorf("add signing key to account %s: %w", account, err)
		}
		if pub, err = h.stageKey(&t, kp); err != nil {
			return nil, "", fmt.Errorf("add signing key to account %s: %w", account, err)
		}
	}
	info, err := h.stageResignAccount(&t, acc, signer, func(ac *jwt.AccountClaims) { ac.SigningKeys.Add(pub) })
	if err != nil {
		return nil, "", fmt.Errorf("add signing key: %w", err)
	}
	if err := t.commit(); err != nil {
		return nil, "", fmt.Errorf("add signing key to account %s: %w", account, err)
	}
	return info, pub, nil
}

// RemoveAccountSigningKey removes a signing key (its public key or the
// role of a scoped key) from an account, re-signs the account and deletes
// the key's seed. It refuses while users of the home are signed by the key:
// servers would refuse them (rotate the key instead).
func (h *Home) RemoveAccountSigningKey(account, key string) (*AccountInfo, error) {
	p := newProblems("remove signing key %.60s from account %s", key, account)
	unlock, err := h.lock(true)
	if err != nil {
		return nil, err
	}
	defer unlock()
	acc, err := h.readAccount(account)
	p.addErr(err)
	var pub string
	if acc != nil {
		pub = findSigningKey(p, acc, key)
		if pub != "" {
			users, err := h.listUsers(acc)
			p.addErr(err)
			var signed []string
			for _, u := range users {
				if u.Claims.Issuer == pub {
					signed = append(signed, u.Name)
				}
			}
			if len(signed) > 0 {
				p.add("users %s are signed by %s and would be refused: rotate the key instead "+
					"(natsauth rotate account-signing-key -a %s --key %s)", strings.Join(signed, ", "), pub, account, pub)
			}
		}
	}
	signer, err := h.OperatorSigner()
	p.addErr(err)
	if err := p.err(); err != nil {
		return nil, err
	}
	var t txn
	info, err := h.stageResignAccount(&t, acc, signer, func(ac *jwt.AccountClaims) { ac.SigningKeys.Remove(pub) })
	if err != nil {
		return nil, fmt.Errorf("remove signing key: %w", err)
	}
	t.del(h.keyPath(pub))
	if err := t.commit(); err != nil {
		return nil, fmt.Errorf("remove signing key from account %s: %w", account, err)
	}
	pruneDirs(h.pruneKey(pub).dir, h.pruneKey(pub).stop)
	return info, nil
}

// findSigningKey resolves a signing key's public key or a scoped key's
// role to the public key, adding a problem when the account has neither.
func findSigningKey(p *problems, acc *AccountInfo, key string) string {
	for k, s := range acc.Claims.SigningKeys {
		if k == key {
			return k
		}
		if us, ok := s.(*jwt.UserScope); ok && us.Role == key && key != "" {
			return k
		}
	}
	p.addKind(ErrNotFound, "account %s has no signing key with public key or role %.60q (%s)", acc.Name, key, describeSigningKeys(acc))
	return ""
}

// SigningKeyEdit changes the scope of an account signing key: its role and
// the template of permissions and limits its users get.
type SigningKeyEdit struct {
	// Role names the scope; AddUserWith's SigningKey picks a key by role.
	Role *string
	// Template applies the permission, response, bearer and source-network
	// settings of a UserEdit to the template (start, expiry and tags belong
	// to each user and are refused here).
	Template UserEdit
}

// EditSigningKey makes an account signing key (its public key, or the role
// of a scoped key) a scoped key, or changes its scope, and re-signs the
// account. Servers then disconnect the users signed by the key, which
// reconnect with the new template applied. Making an unscoped key scoped
// is refused while users of the home signed by it carry permissions of
// their own (servers would refuse them).
func (h *Home) EditSigningKey(account, key string, e SigningKeyEdit) (*AccountInfo, *jwt.UserScope, error) {
	p := newProblems("edit signing key %.60s of account %s", key, account)
	if e.Role == nil && e.Template.IsZero() {
		p.add("nothing to change: give a role or a permission")
	}
	if e.Role != nil {
		if err := checkRole(*e.Role); err != nil {
			p.add("%v", err)
		}
	}
	te := e.Template
	if te.Expires != nil || te.Start != nil || len(te.Tags)+len(te.RemoveTags) > 0 {
		p.add("start, expiry and tags belong to each user, not to a signing key's template")
	}
	unlock, err := h.lock(true)
	if err != nil {
		return nil, nil, err
	}
	defer unlock()
	acc, err := h.readAccount(account)
	p.addErr(err)
	var pub string
	var scope *jwt.UserScope
	var src userNorm
	if acc != nil {
		pub = findSigningKey(p, acc, key)
		if pub != "" {
			if cur := scopeOf(acc.Claims.SigningKeys, pub); cur != nil {
				c := *cur
				scope = &c
			} else {
				scope = jwt.NewUserScope()
				scope.Key = pub
				users, err := h.listUsers(acc)
				p.addErr(err)
				var own []string
				for _, u := range users {
					if u.Claims.Issuer == pub && !u.Claims.HasEmptyPermissions() {
						own = append(own, u.Name)
					}
				}
				if len(own) > 0 {
					p.add("users %s are signed by %s with permissions of their own, which servers refuse from a scoped key: "+
						"re-issue them first (natsauth rotate account-signing-key -a %s --key %s) or scope another key "+
						"(natsauth edit account %s --sk generate)", strings.Join(own, ", "), pub, account, pub, account)
				}
			}
			if e.Role != nil {
				for k, s := range acc.Claims.SigningKeys {
					if us, ok := s.(*jwt.UserScope); ok && k != pub && us.Role == *e.Role {
						p.addKind(ErrExists, "role %q is already the role of signing key %s", *e.Role, k)
					}
				}
			}
			// Check removals against the current template.
			tmp := &jwt.UserClaims{}
			tmp.Name = "signing key " + pub
			tmp.UserPermissionLimits = scope.Template
			src = te.check(p, tmp, true)
		}
	}
	if scope == nil {
		te.check(p, nil, true) // report bad values even without the key
	}
	signer, err := h.OperatorSigner()
	p.addErr(err)
	if err := p.err(); err != nil {
		return nil, nil, err
	}
	tmp := &jwt.UserClaims{}
	tmp.UserPermissionLimits = scope.Template
	te.apply(tmp, src)
	scope.Template = tmp.UserPermissionLimits
	if e.Role != nil {
		scope.Role = *e.Role
	}
	vr := jwt.CreateValidationResults()
	scope.Template.Permissions.Validate(vr)
	for _, is := range vr.Issues {
		if is.Blocking {
			p.add("%s", is.Description)
		}
	}
	if err := p.err(); err != nil {
		return nil, nil, err
	}
	var t txn
	info, err := h.stageResignAccount(&t, acc, signer, func(ac *jwt.AccountClaims) { ac.SigningKeys.AddScopedSigner(scope) })
	if err != nil {
		return nil, nil, fmt.Errorf("edit signing key: %w", err)
	}
	if err := t.commit(); err != nil {
		return nil, nil, fmt.Errorf("edit signing key of account %s: %w", account, err)
	}
	return info, scope, nil
}

// checkRole reports whether r may name a signing key's role: printable,
// no whitespace, at most 128 bytes, and not shaped like a public key (so
// that a role and a key never read alike).
func checkRole(r string) error {
	switch {
	case r == "":
		return fmt.Errorf("role is empty")
	case len(r) > maxNameLen:
		return fmt.Errorf("role %.20q... is longer than %d bytes", r, maxNameLen)
	}
	for _, c := range r {
		if unicode.IsSpace(c) || !unicode.IsPrint(c) {
			return fmt.Errorf("role %q contains whitespace or a control character", r)
		}
	}
	if _, err := nkeys.FromPublicKey(r); err == nil {
		return fmt.Errorf("role %q is a public key; give the role a name", r)
	}
	return nil
}
