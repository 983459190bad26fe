package authority

import (
	"fmt"
	"sort"
	"strings"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
)

// buildAccount works out one desired account's claims, all but its
// imports (which need every account's key) and the revocations of its
// pruned users.
func (r *reconciler) buildAccount(d *DesiredAccount) *accountPlan {
	ap := &accountPlan{d: d, cur: r.snap.byName[d.Name]}
	label := "account " + d.Name
	q := newProblems("")
	var pub string
	switch {
	case ap.cur != nil:
		pub = ap.cur.Pub
		if d.PublicKey != "" && d.PublicKey != pub {
			q.add("the account's public key is %s, not %s: an account's key never changes (delete the account and add it again)", pub, d.PublicKey)
		}
	case d.PublicKey != "":
		pub = d.PublicKey
		switch {
		case strings.HasPrefix(pub, "SA"):
			q.add("public-key: that is an account seed; give the public key (A...) and keep the seed where it is")
		case !nkeys.IsValidPublicAccountKey(pub):
			q.add("public-key %.60q is not an account public key (A...)", pub)
		case pub == r.h.opClaims.SystemAccount:
			q.addKind(ErrExists, "public-key %s is the operator's system account", pub)
		}
		if a := r.snap.byPub[pub]; a != nil {
			q.addKind(ErrExists, "public-key %s is already the key of account %s", pub, a.Name)
		}
	default:
		pub, ap.kp = r.newKey(nkeys.PrefixByteAccount, d.Name)
	}
	var ac *jwt.AccountClaims
	if ap.cur != nil {
		ac = &jwt.AccountClaims{ClaimsData: ap.cur.Claims.ClaimsData, Account: ap.cur.Claims.Account}
	} else {
		ac = jwt.NewAccountClaims(pub)
	}
	var have jwt.Account
	if ap.cur != nil {
		have = ap.cur.Claims.Account
	}
	ac.Name, ac.Subject = d.Name, pub
	ac.Description, ac.InfoURL = d.Description, d.InfoURL
	ac.Tags = jwt.TagList(normTags(d.Tags, have.Tags))
	ac.Expires, ac.NotBefore = unixOrZero(d.Expires), unixOrZero(d.Start)
	ac.Limits = d.Limits
	ac.Limits.JetStreamTieredLimits = nil
	if len(d.Limits.JetStreamTieredLimits) > 0 {
		ac.Limits.JetStreamTieredLimits = jwt.JetStreamTieredLimits{}
		for k, v := range d.Limits.JetStreamTieredLimits {
			ac.Limits.JetStreamTieredLimits[k] = v
		}
	}
	ac.DefaultPermissions = normPerms(d.DefaultPermissions, &have.DefaultPermissions)
	ac.Trace = nil
	if d.Trace != nil {
		t := *d.Trace
		ac.Trace = &t
	}
	ac.Imports = nil
	r.accountEdit(d, ap.cur).check(q)
	checkDesiredJetStream(q, ac.Limits)
	if d.Expires.Unix() > 0 && d.Start.Unix() > 0 && !d.Expires.After(d.Start) {
		q.add("expiry %s is not after start %s", unixTime(ac.Expires), unixTime(ac.NotBefore))
	}
	r.merge(d.Where, label, q)
	ap.ac = ac
	ap.view = &AccountInfo{Name: d.Name, Pub: pub, Claims: ac}
	ac.SigningKeys = r.signingKeys(ap)
	ac.Exports = r.exports(ap)
	return ap
}

// accountEdit is the edit that would set d's values, for AccountEdit's
// checks. Times are checked only when they change: an account that
// expired stays as it is.
func (r *reconciler) accountEdit(d *DesiredAccount, cur *AccountInfo) AccountEdit {
	l := d.Limits
	e := AccountEdit{Conns: &l.Conn, LeafConns: &l.LeafNodeConn, Data: &l.Data, Exports: &l.Exports,
		Imports: &l.Imports, Payload: &l.Payload, Subs: &l.Subs, Description: &d.Description,
		InfoURL: &d.InfoURL, Tags: d.Tags, DefaultPermissions: permEdit(d.DefaultPermissions)}
	if cur == nil || unixOrZero(d.Expires) != cur.Claims.Expires {
		e.Expires = &d.Expires
	}
	if cur == nil || unixOrZero(d.Start) != cur.Claims.NotBefore {
		e.Start = &d.Start
	}
	if d.Trace != nil {
		s := string(d.Trace.Destination)
		e.TraceSubject = &s
		if d.Trace.Sampling != 0 {
			e.TraceSampling = &d.Trace.Sampling
		}
	}
	return e
}

// checkDesiredJetStream adds the problems of a whole set of JetStream limits.
func checkDesiredJetStream(p *problems, l jwt.OperatorLimits) {
	check := func(tier string, js jwt.JetStreamLimits) {
		for _, f := range []struct {
			name string
			v    int64
		}{{"mem-storage", js.MemoryStorage}, {"disk-storage", js.DiskStorage}, {"streams", js.Streams},
			{"consumers", js.Consumer}, {"max-ack-pending", js.MaxAckPending},
			{"max-mem-stream", js.MemoryMaxStreamBytes}, {"max-disk-stream", js.DiskMaxStreamBytes}} {
			if f.v < -1 {
				p.add("jetstream %s %s %d is invalid: use a value of 0 or more, or -1 for unlimited", tier, f.name, f.v)
			}
		}
	}
	check("global", l.JetStreamLimits)
	for _, k := range sortedKeys(l.JetStreamTieredLimits) {
		if k != "R1" && k != "R3" {
			p.add("jetstream tier %q: nats-server has the tiers R1 and R3", k)
		}
		check(k, l.JetStreamTieredLimits[k])
	}
	if jsLimitsSet(&l.JetStreamLimits) && len(l.JetStreamTieredLimits) > 0 {
		p.add("an account has global or tiered JetStream limits, never both")
	}
}

// signingKeys works out an account's signing keys.
func (r *reconciler) signingKeys(ap *accountPlan) jwt.SigningKeys {
	out := jwt.SigningKeys{}
	var cur jwt.SigningKeys
	if ap.cur != nil {
		cur = ap.cur.Claims.SigningKeys
	}
	curKeys := sortedKeys(cur)
	used := map[string]bool{}
	roles := map[string]bool{}
	for i := range ap.d.SigningKeys {
		k := &ap.d.SigningKeys[i]
		q := newProblems("")
		pub := ""
		switch {
		case strings.HasPrefix(k.Key, "SA"):
			q.add("that is an account seed; give its public key, or no key to generate one")
		case k.Key != "" && !nkeys.IsValidPublicAccountKey(k.Key):
			q.add("%.60q is not an account public key (A...)", k.Key)
		case k.Key != "" && k.Key == ap.view.Pub:
			q.add("%s is the account's own key", k.Key)
		case k.Key != "":
			pub = k.Key
		case k.Role != "":
			for _, c := range curKeys {
				if us := scopeOf(cur, c); us != nil && us.Role == k.Role && !used[c] && r.hasKey(c) {
					pub = c
					break
				}
			}
		default:
			for _, c := range curKeys {
				if cur[c] == nil && !used[c] && r.hasKey(c) {
					pub = c
					break
				}
			}
		}
		if pub == "" && k.Key == "" && len(q.list) == 0 {
			pub, _ = r.newKey(nkeys.PrefixByteAccount, fmt.Sprintf("%s/signing-key/%d", ap.d.Name, i))
		}
		if pub != "" && used[pub] {
			q.add("signing key %s is given twice", pub)
		}
		used[pub] = true
		if k.Role == "" {
			if !sameJSON(k.Template, jwt.UserPermissionLimits{}) {
				q.add("a template applies to a scoped signing key: give it a role")
			}
			if pub != "" {
				out.Add(pub)
			}
			r.merge(k.Where, "signing key", q)
			continue
		}
		if err := checkRole(k.Role); err != nil {
			q.add("%v", err)
		}
		if roles[k.Role] {
			q.addKind(ErrExists, "role %q is given twice", k.Role)
		}
		roles[k.Role] = true
		var have *jwt.UserPermissionLimits
		if us := scopeOf(cur, pub); us != nil {
			have = &us.Template
		}
		scope := jwt.NewUserScope()
		scope.Key, scope.Role = pub, k.Role
		if us := scopeOf(cur, pub); us != nil {
			scope.Description = us.Description
		}
		scope.Template = normLimits(q, k.Template, have)
		if pub != "" {
			out.AddScopedSigner(scope)
		}
		r.merge(k.Where, "signing key role "+k.Role, q)
	}
	if ap.cur != nil && !sameJSON(cur, out) {
		if rot, err := r.h.readRotation(RotateAccount, ap.d.Name); err == nil && rot != nil {
			r.add(ap.d.Where, "account %s: a rotation of its signing key %s is in progress: finish it "+
				"(natsauth rotate account-signing-key -a %s) before the file changes its signing keys", ap.d.Name, rot.Old, shellArg(ap.d.Name))
		}
	}
	return out
}

// exports works out an account's exports: as the state gives them, with
// the activation revocations the home holds, in the home's order first.
func (r *reconciler) exports(ap *accountPlan) jwt.Exports {
	var cur jwt.Exports
	if ap.cur != nil {
		cur = ap.cur.Claims.Exports
	}
	want := make([]*jwt.Export, len(ap.d.Exports))
	tmp := &AccountInfo{Name: ap.d.Name, Claims: &jwt.AccountClaims{}}
	tmp.Claims.Limits = ap.ac.Limits
	for i := range ap.d.Exports {
		de := &ap.d.Exports[i]
		x := de.Export
		if x.Latency != nil {
			l := *x.Latency
			x.Latency = &l
		}
		if x.Name == "" {
			x.Name = string(x.Subject)
		}
		if x.IsService() && x.ResponseType == "" {
			x.ResponseType = jwt.ResponseTypeSingleton
		}
		x.Revocations = nil
		for _, c := range cur {
			if c != nil && c.Subject == x.Subject && c.Type == x.Type {
				x.Revocations, x.Advertise = c.Revocations, c.Advertise
			}
		}
		want[i] = &x
		q := newProblems("")
		sampling := ""
		if x.Latency != nil {
			sampling = samplingString(x.Latency.Sampling)
		}
		checkExport(q, &x, sampling, x.ResponseThreshold)
		checkExportFits(q, tmp, &x, nil)
		tmp.Claims.Exports = append(tmp.Claims.Exports, &x)
		r.merge(de.Where, fmt.Sprintf("export %q", x.Subject), q)
	}
	return jwt.Exports(inHomeOrder(want, cur, func(a, b *jwt.Export) bool { return a.Subject == b.Subject && a.Type == b.Type }))
}

// inHomeOrder orders want as the home has the same items (so that an
// unchanged list compares equal), then the new ones in the state's order.
func inHomeOrder[T any](want, have []*T, same func(a, b *T) bool) []*T {
	var out []*T
	taken := make([]bool, len(want))
	for _, h := range have {
		if h == nil {
			continue
		}
		for i, w := range want {
			if !taken[i] && same(w, h) {
				out, taken[i] = append(out, w), true
				break
			}
		}
	}
	for i, w := range want {
		if !taken[i] {
			out = append(out, w)
		}
	}
	return out
}

// buildImports resolves the source of every import of ap and signs the
// activation tokens they need.
func (r *reconciler) buildImports(ap *accountPlan) {
	var cur jwt.Imports
	if ap.cur != nil {
		cur = ap.cur.Claims.Imports
	}
	want := make([]*jwt.Import, 0, len(ap.d.Imports))
	ap.imports = make([]*jwt.Import, len(ap.d.Imports))
	for i := range ap.d.Imports {
		di := &ap.d.Imports[i]
		im := di.Import
		label := fmt.Sprintf("import %q", im.Subject)
		src := r.source(di.Account)
		if src == "" {
			r.addKind(ErrNotFound, di.Where, "%s: source account %q is neither an account of the file or the home (%s) nor an account public key",
				label, di.Account, nameList(r.byName))
			continue
		}
		im.Account = src
		if exp := r.byPub[src]; exp != nil {
			importerTokenIn(exp.Claims, &im, ap.view.Pub)
		}
		if im.Name == "" {
			im.Name = string(im.Subject)
		}
		if im.Token == "" {
			im.Token = r.token(ap, &im, cur, di.Where, label)
		}
		ap.imports[i] = &im
		want = append(want, &im)
	}
	ap.ac.Imports = jwt.Imports(inHomeOrder(want, cur, func(a, b *jwt.Import) bool {
		return a.Account == b.Account && a.Subject == b.Subject && a.Type == b.Type
	}))
}

// ImporterTokenOut returns the subject of im, an import from exporter,
// with the token that carries the importer's public key (an export with an
// account token position) written as '*': a file names no account key,
// and Reconcile fills the importer's key in again (in each home its own).
func ImporterTokenOut(exporter *jwt.AccountClaims, im *jwt.Import, importer string) string {
	x := coveringExport(exporter, im.Type, string(im.Subject))
	if x == nil || x.AccountTokenPosition == 0 {
		return string(im.Subject)
	}
	toks := strings.Split(string(im.Subject), ".")
	if p := int(x.AccountTokenPosition); p <= len(toks) && toks[p-1] == importer {
		toks[p-1] = "*"
	}
	return strings.Join(toks, ".")
}

// importerTokenIn puts the importer's public key in place of the '*' at
// the account token position of the export covering im.
func importerTokenIn(exporter *jwt.AccountClaims, im *jwt.Import, importer string) {
	x := coveringExport(exporter, im.Type, string(im.Subject))
	if x == nil || x.AccountTokenPosition == 0 {
		return
	}
	toks := strings.Split(string(im.Subject), ".")
	if p := int(x.AccountTokenPosition); p <= len(toks) && toks[p-1] == "*" {
		toks[p-1] = importer
		im.Subject = jwt.Subject(strings.Join(toks, "."))
	}
}

// nameList names at most 20 accounts, for messages.
func nameList(byName map[string]*AccountInfo) string {
	names := sortedKeys(byName)
	if len(names) > 20 {
		return strings.Join(names[:20], ", ") + fmt.Sprintf(", and %d more", len(names)-20)
	}
	return strings.Join(names, ", ")
}

// source resolves an import's source account: a name of the state or the
// home, or an account public key; "" when it is neither.
func (r *reconciler) source(ref string) string {
	if a := r.byName[ref]; a != nil {
		return a.Pub
	}
	if nkeys.IsValidPublicAccountKey(ref) {
		return ref
	}
	return ""
}

// token returns the activation token an import of a private export of an
// account of the home needs: the one the import has when it is still
// valid, else a new one ("" in a dry run, or when none is needed).
func (r *reconciler) token(ap *accountPlan, im *jwt.Import, cur jwt.Imports, where, label string) string {
	src := r.byPub[im.Account]
	if src == nil {
		return ""
	}
	x := coveringExport(src.Claims, im.Type, string(im.Subject))
	if x == nil || !x.TokenReq {
		return ""
	}
	for _, c := range cur {
		if c != nil && c.Account == im.Account && c.Subject == im.Subject && c.Type == im.Type && c.Token != "" {
			test := *im
			test.Token = c.Token
			if probs, _, _ := importProblemsFrom(ap.view, &test, src, r.now); len(probs) == 0 {
				return c.Token
			}
		}
	}
	if r.dryRun {
		if ap.pendingTokens == nil {
			ap.pendingTokens = map[*jwt.Import]bool{}
		}
		ap.pendingTokens[im] = true
		return ""
	}
	kp := r.activationKey(src)
	if kp == nil {
		r.add(where, "%s: no key of account %s to sign its activation token with: neither its identity seed nor an unscoped "+
			"signing key's seed is in the keystore", label, src.Name)
		return ""
	}
	act := jwt.NewActivationClaims(ap.view.Pub)
	act.Name, act.ImportSubject, act.ImportType = string(im.Subject), im.Subject, x.Type
	if pubKey(kp) != src.Pub {
		act.IssuerAccount = src.Pub
	}
	tok, err := act.Encode(kp)
	if err != nil {
		r.add(where, "%s: sign activation token: %v", label, err)
		return ""
	}
	return tok
}

// activationKey is the key that signs src's activation tokens, as
// GenerateActivation picks it.
func (r *reconciler) activationKey(src *AccountInfo) nkeys.KeyPair {
	if !r.strict {
		if kp := r.key(src.Pub); kp != nil {
			return kp
		}
	}
	for _, k := range sortedKeys(src.Claims.SigningKeys) {
		if scopeOf(src.Claims.SigningKeys, k) == nil {
			if kp := r.key(k); kp != nil {
				return kp
			}
		}
	}
	return nil
}

// pendingToken is the problem a dry run expects for an import whose token
// the apply signs.
const pendingToken = "is private: the import needs an activation token"

// checkImports checks every import of ap against the accounts as they
// will be.
func (r *reconciler) checkImports(ap *accountPlan) {
	var deletedPubs = map[string]string{}
	for _, a := range r.deleted {
		deletedPubs[a.Pub] = a.Name
	}
	for i := range ap.d.Imports {
		di := &ap.d.Imports[i]
		im := ap.imports[i]
		if im == nil {
			continue
		}
		q := newProblems("")
		if err := CheckSubject(string(im.Subject)); err != nil {
			q.add("remote subject: %v", err)
		}
		if im.LocalSubject != "" {
			vr := jwt.CreateValidationResults()
			im.LocalSubject.Validate(im.Subject, vr)
			for _, is := range vr.Issues {
				q.add("local subject %q: %s", im.LocalSubject, is.Description)
			}
		}
		if im.Share && !im.IsService() {
			q.add("share applies to service imports only")
		}
		if im.AllowTrace && im.IsService() {
			q.add("allow-trace on an import applies to stream imports only (a service export sets it instead)")
		}
		for _, o := range ap.imports[:i] {
			if o != nil && o.Account == im.Account && o.Subject == im.Subject && o.Type == im.Type {
				q.addKind(ErrExists, "the %s %q is imported twice from %s", kindName(im.Type), im.Subject, di.Account)
			}
		}
		if n, ok := deletedPubs[im.Account]; ok {
			q.add("account %s, the source, is not in the file and --prune deletes it", n)
		}
		probs, _, _ := importProblemsFrom(ap.view, im, r.byPub[im.Account], r.now)
		for _, pr := range probs {
			if !(ap.pendingTokens[im] && strings.Contains(pr, pendingToken)) {
				q.add("%s", pr)
			}
		}
		if c := importCycleIn(r.byPub, ap.view, im); c != "" {
			q.add("%s", c)
		}
		r.merge(di.Where, fmt.Sprintf("import %q", im.Subject), q)
	}
	if l := ap.ac.Limits.Imports; l >= 0 && int64(len(ap.ac.Imports)) > l {
		r.add(ap.d.Where, "account %s has %d imports and allows at most %d (max-imports)", ap.d.Name, len(ap.ac.Imports), l)
	}
}

// finishAccount revokes pruned users, decides whether the account changes
// and checks the claims that will be signed.
func (r *reconciler) finishAccount(ap *accountPlan) {
	ac := ap.ac
	if len(ap.gone) > 0 {
		revs := jwt.RevocationList{}
		for k, v := range ac.Revocations {
			revs[k] = v
		}
		ac.Revocations = revs
		for _, u := range ap.gone {
			ac.RevokeAt(u.Pub, r.now)
		}
	}
	ap.change = ap.cur == nil || !sameAccount(ap.cur.Claims, ac)
	if ap.change {
		q := newProblems("")
		checkAccountClaims(q, ac)
		r.merge(ap.d.Where, "account "+ap.d.Name, q)
	}
}

// permEdit is the edit that would set perms, for PermissionEdit's checks.
func permEdit(perms jwt.Permissions) PermissionEdit {
	e := PermissionEdit{AllowPub: perms.Pub.Allow, AllowSub: perms.Sub.Allow, DenyPub: perms.Pub.Deny, DenySub: perms.Sub.Deny}
	if perms.Resp != nil {
		if perms.Resp.MaxMsgs != 0 {
			e.RespMax = &perms.Resp.MaxMsgs
		}
		e.RespTTL = &perms.Resp.Expires
	}
	return e
}

// normList is want without duplicates: have (the home's list) when both
// hold the same entries, else sorted; nil when empty.
func normList(want, have []string) []string {
	seen := make(map[string]bool, len(want))
	var out []string
	for _, s := range want {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil
	}
	if len(have) == len(out) {
		same := true
		for _, s := range have {
			same = same && seen[s]
		}
		if same {
			return have
		}
	}
	sort.Strings(out)
	return out
}

// normTags is normList for tags, which JWTs keep in lower case.
func normTags(want, have []string) []string {
	low := make([]string, len(want))
	for i, t := range want {
		low[i] = strings.ToLower(strings.TrimSpace(t))
	}
	return normList(low, have)
}

// normPerms is want with its lists normalized against have.
func normPerms(want jwt.Permissions, have *jwt.Permissions) jwt.Permissions {
	out := jwt.Permissions{}
	out.Pub.Allow = normList(want.Pub.Allow, have.Pub.Allow)
	out.Pub.Deny = normList(want.Pub.Deny, have.Pub.Deny)
	out.Sub.Allow = normList(want.Sub.Allow, have.Sub.Allow)
	out.Sub.Deny = normList(want.Sub.Deny, have.Sub.Deny)
	if want.Resp != nil {
		rp := *want.Resp
		out.Resp = &rp
	}
	return out
}

// normLimits checks a user's (or a template's) permissions and limits as
// UserEdit does, and returns them normalized against have (the home's).
func normLimits(p *problems, want jwt.UserPermissionLimits, have *jwt.UserPermissionLimits) jwt.UserPermissionLimits {
	var h jwt.UserPermissionLimits
	if have != nil {
		h = *have
	}
	e := UserEdit{AllowPub: want.Pub.Allow, AllowSub: want.Sub.Allow, DenyPub: want.Pub.Deny, DenySub: want.Sub.Deny,
		Src: want.Src, Subs: &want.Subs, Data: &want.Data, Payload: &want.Payload,
		ConnTypes: want.AllowedConnectionTypes, Locale: &want.Locale}
	pe := permEdit(want.Permissions)
	e.RespMax, e.RespTTL = pe.RespMax, pe.RespTTL
	for _, tr := range want.Times {
		e.Times = append(e.Times, tr.Start+"-"+tr.End)
	}
	n := e.check(p, nil, false)
	out := want
	out.Permissions = normPerms(want.Permissions, &h.Permissions)
	out.Src = jwt.CIDRList(normList(n.src, h.Src))
	out.AllowedConnectionTypes = normList(n.conns, h.AllowedConnectionTypes)
	out.Times = n.times
	if sameJSON(n.times, h.Times) || len(n.times) == 0 {
		out.Times = h.Times
		if len(n.times) == 0 {
			out.Times = nil
		}
	}
	out.ProxyRequired = h.ProxyRequired
	return out
}
