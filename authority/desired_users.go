package authority

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
)

// buildUsers works out the users of ap: the state's, and what becomes of
// the home's users it does not list.
func (r *reconciler) buildUsers(ap *accountPlan) {
	var curUsers []*UserInfo
	if ap.cur != nil {
		curUsers = r.snap.users[ap.cur.Name]
	}
	if r.s.SkipUsers {
		for _, u := range curUsers {
			r.checkKept(ap, u)
		}
		return
	}
	byName := map[string]*UserInfo{}
	byLower := map[string]*UserInfo{}
	for _, u := range curUsers {
		byName[u.Name], byLower[strings.ToLower(u.Name)] = u, u
	}
	listed := map[string]string{}
	for i := range ap.d.Users {
		d := &ap.d.Users[i]
		low := strings.ToLower(d.Name)
		if prev, ok := listed[low]; ok {
			r.addKind(ErrExists, d.Where, "user %q is given twice in account %s (or differs only in case from %q)", d.Name, ap.d.Name, prev)
			continue
		}
		listed[low] = d.Name
		if u := byLower[low]; u != nil && u.Name != d.Name {
			r.addKind(ErrExists, d.Where, "user %q differs only in case from the existing user %q of account %s", d.Name, u.Name, ap.d.Name)
			continue
		}
		ap.users = append(ap.users, r.buildUser(ap, d, byName[d.Name]))
	}
	for _, u := range curUsers {
		if listed[strings.ToLower(u.Name)] == u.Name {
			continue
		}
		if r.s.Prune {
			if r.decoded(ap, u) {
				ap.gone = append(ap.gone, u)
			}
			continue
		}
		r.checkKept(ap, u)
	}
}

// decoded makes sure u's claims are decoded, reporting when they cannot be.
func (r *reconciler) decoded(ap *accountPlan, u *UserInfo) bool {
	if _, err := r.snap.claims(u); err != nil {
		r.add(ap.d.Where, "account %s: %v", ap.d.Name, err)
		return false
	}
	return true
}

// checkKept checks that a user the state leaves as it is still works with
// the account as it will be.
func (r *reconciler) checkKept(ap *accountPlan, u *UserInfo) {
	if !r.decoded(ap, u) {
		return
	}
	iss := u.Claims.Issuer
	if iss != ap.view.Pub && !ap.ac.SigningKeys.Contains(iss) {
		r.add(ap.d.Where, "account %s: user %s is signed by %s, which the file removes from the account, and servers would refuse it: "+
			"list the key, or move the user to another key first (natsauth rotate account-signing-key -a %s --key %s)",
			ap.d.Name, u.Name, iss, shellArg(ap.d.Name), iss)
	}
	if u.Claims.BearerToken && ap.ac.Limits.DisallowBearer && (ap.cur == nil || !ap.cur.Claims.Limits.DisallowBearer) {
		r.add(ap.d.Where, "account %s: disallow-bearer: user %s is a bearer user; change it first (bearer off) or delete it", ap.d.Name, u.Name)
	}
}

// validUnscoped reports whether k signs users of ap without a scope: the
// account's identity key or one of its unscoped signing keys.
func validUnscoped(ap *accountPlan, k string) bool {
	if k == ap.view.Pub {
		return true
	}
	s, ok := ap.ac.SigningKeys[k]
	return ok && s == nil
}

// buildUser works out one desired user.
func (r *reconciler) buildUser(ap *accountPlan, d *DesiredUser, cur *UserInfo) *userPlan {
	if cur != nil && cur.Claims == nil {
		if up := r.unchangedUser(ap, d, cur); up != nil {
			return up
		}
		if !r.decoded(ap, cur) {
			return &userPlan{d: d, cur: cur}
		}
	}
	up := &userPlan{d: d, cur: cur}
	label := "user " + d.Name
	q := newProblems("")
	if err := CheckName("user", d.Name); err != nil {
		q.add("%v", err)
	}
	var pub string
	switch {
	case cur != nil:
		pub = cur.Pub
		if d.PublicKey != "" && d.PublicKey != pub {
			q.add("the user's public key is %s, not %s: a user's key never changes (delete the user and add it again)", pub, d.PublicKey)
		}
	case d.PublicKey != "":
		pub = d.PublicKey
		if strings.HasPrefix(pub, "SU") {
			q.add("public-key: that is a user seed; give the public key (U...) and keep the seed where it is")
		} else if !nkeys.IsValidPublicUserKey(pub) {
			q.add("public-key %.60q is not a user public key (U...)", pub)
		}
		if ap.cur != nil {
			for _, u := range r.snap.users[ap.cur.Name] {
				if u.Pub == pub {
					q.addKind(ErrExists, "public-key %s is already the key of user %s", pub, u.Name)
				}
			}
		}
	default:
		pub, up.kp = r.newKey(nkeys.PrefixByteUser, ap.d.Name+"/"+d.Name)
	}
	var uc *jwt.UserClaims
	var have jwt.User
	if cur != nil {
		uc = &jwt.UserClaims{ClaimsData: cur.Claims.ClaimsData, User: cur.Claims.User}
		have = cur.Claims.User
	} else {
		uc = jwt.NewUserClaims(pub)
	}
	uc.Name, uc.Subject = d.Name, pub
	uc.Tags = jwt.TagList(normTags(d.Tags, have.Tags))
	for _, t := range d.Tags {
		if err := checkTag(t); err != nil {
			q.add("tag: %v", err)
		}
	}
	exp, start := unixOrZero(d.Expires), unixOrZero(d.Start)
	if cur == nil || exp != cur.Claims.Expires {
		checkNotPast(q, "expiry", d.Expires)
	}
	if exp != 0 && start != 0 && exp <= start {
		q.add("expiry %s is not after start %s", unixTime(exp), unixTime(start))
	}
	uc.Expires, uc.NotBefore = exp, start
	scoped := ""
	if d.SigningKey != "" {
		for k := range ap.ac.SigningKeys {
			if us := scopeOf(ap.ac.SigningKeys, k); us != nil && us.Role == d.SigningKey {
				scoped = k
			}
		}
		if scoped == "" {
			q.addKind(ErrNotFound, "signing-key: account %s has no scoped signing key with role %q", ap.d.Name, d.SigningKey)
		}
		if !sameJSON(d.Permissions, DefaultUserLimits()) && !sameJSON(d.Permissions, jwt.UserPermissionLimits{}) {
			q.add("the user is signed by the scoped signing key with role %q, whose template sets its permissions and limits: "+
				"give it no permissions, limits or bearer of its own", d.SigningKey)
		}
		uc.UserPermissionLimits = jwt.UserPermissionLimits{}
	} else {
		uc.UserPermissionLimits = normLimits(q, d.Permissions, &have.UserPermissionLimits)
		if uc.BearerToken && ap.ac.Limits.DisallowBearer {
			q.add("account %s does not allow bearer tokens (disallow-bearer)", ap.d.Name)
		}
	}
	up.uc = uc
	if cur != nil {
		k := cur.Claims.Issuer
		if scoped != "" {
			k = scoped
		}
		setIssuer(uc, ap.view.Pub, k)
		valid := validUnscoped(ap, k)
		if scoped != "" {
			valid = k == cur.Claims.Issuer
		}
		if valid && sameUser(cur.Claims, uc) {
			r.merge(d.Where, label, q)
			return up
		}
	}
	up.change = true
	signer := scoped
	switch {
	case scoped != "":
		if !r.hasKey(scoped) {
			q.add("the seed of the scoped signing key %s (role %q) is not in the keystore: natsauth cannot sign the user", scoped, d.SigningKey)
		}
	case cur != nil && validUnscoped(ap, cur.Claims.Issuer) && !(r.strict && cur.Claims.Issuer == ap.view.Pub) && r.hasKey(cur.Claims.Issuer):
		signer = cur.Claims.Issuer
	default:
		signer = r.defaultSigner(ap)
	}
	up.signer = signer
	setIssuer(uc, ap.view.Pub, signer)
	if cur != nil && ap.cur != nil && ap.cur.IsRevoked(cur) {
		up.note = "the user was revoked; its re-issued JWT is not"
	}
	checkUserClaims(q, uc)
	r.merge(d.Where, label, q)
	return up
}

// setIssuer names k as the signer of uc, and the account when k is a
// signing key.
func setIssuer(uc *jwt.UserClaims, account, k string) {
	uc.Issuer, uc.IssuerAccount = k, ""
	if k != account {
		uc.IssuerAccount = account
	}
}

// defaultSigner is the key that signs new (and re-issued) users of ap
// without a scope, as AddUser picks it; a problem, reported once, when
// there is none.
func (r *reconciler) defaultSigner(ap *accountPlan) string {
	if ap.signer != "" || ap.signerFailed {
		return ap.signer
	}
	var unscoped []string
	for k, s := range ap.ac.SigningKeys {
		if s == nil && r.hasKey(k) {
			unscoped = append(unscoped, k)
		}
	}
	retiring := ""
	if rot, err := r.h.readRotation(RotateAccount, ap.d.Name); err == nil && rot != nil {
		retiring = rot.Old
	}
	switch {
	case len(unscoped) > 0:
		ap.signer = preferred(unscoped, retiring)
	case r.strict:
		r.add(ap.d.Where, "account %s: operator %s requires signing keys and the account has no signing key with a seed here: "+
			"add one (signing-keys: [{}])", ap.d.Name, r.h.op)
	case !r.hasKey(ap.view.Pub):
		r.add(ap.d.Where, "account %s: no key to sign its users with: its identity seed is not in the keystore and it has "+
			"no signing key with a seed here; add one (signing-keys: [{}])", ap.d.Name)
	default:
		ap.signer = ap.view.Pub
	}
	ap.signerFailed = ap.signer == ""
	return ap.signer
}

// unchangedUser is the fast path of buildUser for a user whose claims are
// not decoded: the desired claims are built from the file and the stored
// header alone, and compared byte for byte with the stored claims. It
// returns nil when they differ (or cannot be built so): buildUser then
// decodes the user and works it out in full.
func (r *reconciler) unchangedUser(ap *accountPlan, d *DesiredUser, cur *UserInfo) *userPlan {
	stored := r.snap.payload[cur]
	payload, hdr := stored.json, stored.hdr
	if hdr.Subject != cur.Pub || d.PublicKey != "" && d.PublicKey != cur.Pub || CheckName("user", d.Name) != nil {
		return nil
	}
	q := newProblems("")
	uc := &jwt.UserClaims{}
	uc.Audience, uc.ID, uc.IssuedAt, uc.Subject, uc.Name = hdr.Aud, hdr.ID, hdr.IssuedAt, cur.Pub, d.Name
	uc.Type, uc.Version = jwt.UserClaim, 2
	uc.Tags = jwt.TagList(normTags(d.Tags, nil))
	uc.Expires, uc.NotBefore = unixOrZero(d.Expires), unixOrZero(d.Start)
	k := hdr.Issuer
	if d.SigningKey != "" {
		k = ""
		for key := range ap.ac.SigningKeys {
			if us := scopeOf(ap.ac.SigningKeys, key); us != nil && us.Role == d.SigningKey {
				k = key
			}
		}
		if k != hdr.Issuer || !sameJSON(d.Permissions, DefaultUserLimits()) && !sameJSON(d.Permissions, jwt.UserPermissionLimits{}) {
			return nil
		}
	} else {
		if !validUnscoped(ap, k) {
			return nil
		}
		uc.UserPermissionLimits = normLimits(q, d.Permissions, nil)
		if uc.BearerToken && ap.ac.Limits.DisallowBearer {
			return nil
		}
	}
	setIssuer(uc, ap.view.Pub, k)
	for _, t := range d.Tags {
		if checkTag(t) != nil {
			return nil
		}
	}
	if len(q.list) > 0 {
		return nil
	}
	got, err := json.Marshal(uc)
	if err != nil || !bytes.Equal(got, payload) {
		return nil
	}
	r.fastUsers.Add(1)
	return &userPlan{d: d, cur: cur, uc: uc}
}
