package authority

import (
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
)

// Sharing between accounts, as nsc keeps it in account JWTs: an account
// exports a stream (messages it publishes) or a service (requests it
// answers) on a subject; another account imports it, optionally under a
// local subject. A private export is imported only with an activation
// token that the exporting account signs for the importing one; the token
// is kept verbatim in the import, as nsc keeps it.

// changeAccounts runs one change of some accounts of the home under the
// home lock. plan sees every account (by name) and adds its problems to
// p; it returns, by account name, the change to make to a copy of each
// account's claims. When p holds no problem the changed claims are
// validated, signed by the operator signing key and written in one
// transaction; nothing is written otherwise. It returns the changed
// accounts in the order of names.
func (h *Home) changeAccounts(p *problems, names []string,
	plan func(byName map[string]*AccountInfo) map[string]func(*jwt.AccountClaims)) ([]*AccountInfo, error) {
	unlock, err := h.lock(true)
	if err != nil {
		return nil, err
	}
	defer unlock()
	accs, err := h.listAccounts()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.op, err)
	}
	byName := map[string]*AccountInfo{}
	for i := range accs {
		byName[accs[i].Name] = &accs[i]
	}
	found := true
	for _, n := range names {
		if byName[n] == nil {
			p.addErr(h.missingAccount(n))
			found = false
		}
	}
	var mods map[string]func(*jwt.AccountClaims)
	if found {
		mods = plan(byName)
	}
	signer, err := h.OperatorSigner()
	p.addErr(err)
	if err := p.err(); err != nil {
		return nil, err
	}
	claims := map[string]*jwt.AccountClaims{}
	for _, n := range names {
		ac, err := jwt.DecodeAccountClaims(byName[n].JWT)
		if err != nil {
			return nil, fmt.Errorf("%s: account %s: %w", p.op, n, err)
		}
		if mod := mods[n]; mod != nil {
			mod(ac)
		}
		checkAccountClaims(p, ac)
		claims[n] = ac
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	var t txn
	var out []*AccountInfo
	for _, n := range names {
		info, err := h.stageAccountClaims(&t, byName[n], claims[n], signer)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.op, err)
		}
		out = append(out, info)
	}
	if err := t.commit(); err != nil {
		return nil, fmt.Errorf("%s: %w", p.op, err)
	}
	return out, nil
}

// changeAccount is changeAccounts for one account.
func (h *Home) changeAccount(p *problems, name string,
	plan func(acc *AccountInfo, byName map[string]*AccountInfo) func(*jwt.AccountClaims)) (*AccountInfo, error) {
	out, err := h.changeAccounts(p, []string{name}, func(byName map[string]*AccountInfo) map[string]func(*jwt.AccountClaims) {
		return map[string]func(*jwt.AccountClaims){name: plan(byName[name], byName)}
	})
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// missingAccount is the not-found error of readAccount, for a name the
// listing did not find.
func (h *Home) missingAccount(name string) error {
	if err := CheckName("account", name); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return h.accountNotFound(name)
}

// accountRef is an account named by a user: one of the home, or only a
// public key (an account managed elsewhere).
type accountRef struct {
	pub  string
	acc  *AccountInfo // nil when the account is not in the home
	name string       // the home's name, else the public key
}

// resolveAccount turns an account name of the home or an account public
// key into a reference, adding a problem when it is neither. what names
// the role in messages ("source account").
func resolveAccount(p *problems, byName map[string]*AccountInfo, what, ref string) *accountRef {
	if a := byName[ref]; a != nil {
		return &accountRef{pub: a.Pub, acc: a, name: a.Name}
	}
	if nkeys.IsValidPublicAccountKey(ref) {
		for _, a := range byName {
			if a.Pub == ref {
				return &accountRef{pub: a.Pub, acc: a, name: a.Name}
			}
		}
		return &accountRef{pub: ref, name: ref}
	}
	switch {
	case ref == "":
		p.add("%s is empty: give an account name or public key", what)
	case strings.HasPrefix(ref, "SA"):
		p.add("%s: that is an account seed; give the account's name or public key", what)
	default:
		p.addKind(ErrNotFound, "%s %q is neither an account of this home (%s) nor an account public key",
			what, ref, strings.Join(sortedKeys(byName), ", "))
	}
	return nil
}

// kindName is "stream" or "service".
func kindName(t jwt.ExportType) string {
	if t == jwt.Service {
		return "service"
	}
	return "stream"
}

func exportType(service bool) jwt.ExportType {
	if service {
		return jwt.Service
	}
	return jwt.Stream
}

// coveringExport returns the export of acc of kind t whose subject covers
// subject (an import's remote subject), preferring an exact match.
func coveringExport(ac *jwt.AccountClaims, t jwt.ExportType, subject string) *jwt.Export {
	var best *jwt.Export
	for _, x := range ac.Exports {
		if x == nil || x.Type != t {
			continue
		}
		if string(x.Subject) == subject {
			return x
		}
		if best == nil && jwt.Subject(subject).IsContainedIn(x.Subject) {
			best = x
		}
	}
	return best
}

// exportList names an account's exports of one kind for messages.
func exportList(ac *jwt.AccountClaims, t jwt.ExportType) string {
	var subs []string
	for _, x := range ac.Exports {
		if x != nil && x.Type == t {
			subs = append(subs, fmt.Sprintf("%q", x.Subject))
		}
	}
	if len(subs) == 0 {
		return "it exports no " + kindName(t)
	}
	return "its " + kindName(t) + " exports: " + strings.Join(subs, ", ")
}

// importProblems reports why servers would refuse the import im of the
// account importer at time now: its source account does not export the
// subject, a private export without a valid token, a token for another
// account, expired, not yet valid, revoked or of another issuer, an
// account token position that does not name the importer. The source is
// checked only when it is an account of the home (byName). It returns the
// export that covers the import, if found, and the decoded token.
func importProblems(importer *AccountInfo, im *jwt.Import, byName map[string]*AccountInfo, now time.Time) (
	[]string, *jwt.Export, *jwt.ActivationClaims) {
	var src *AccountInfo
	for _, a := range byName {
		if a.Pub == im.Account {
			src = a
		}
	}
	return importProblemsFrom(importer, im, src, now)
}

// importProblemsFrom is importProblems with the source account found (nil
// when it is not in the home).
func importProblemsFrom(importer *AccountInfo, im *jwt.Import, src *AccountInfo, now time.Time) (
	[]string, *jwt.Export, *jwt.ActivationClaims) {
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	kind := kindName(im.Type)
	srcName := im.Account
	if src != nil {
		srcName = src.Name
	}
	if im.Account == importer.Pub {
		add("account %s imports from itself", importer.Name)
	}
	var act *jwt.ActivationClaims
	if im.Token != "" {
		var err error
		act, err = jwt.DecodeActivationClaims(im.Token)
		if err != nil {
			add("activation token does not decode: %v", err)
		}
	}
	if act != nil {
		switch {
		case act.Subject != importer.Pub && act.Subject != "public":
			add("activation token is for account %s, not for %s (%s)", act.Subject, importer.Name, importer.Pub)
		}
		if act.Issuer != im.Account && act.IssuerAccount != im.Account {
			add("activation token was issued by %s, not by the source account %s", firstNonEmpty(act.IssuerAccount, act.Issuer), srcName)
		} else if src != nil && act.Issuer != src.Pub && !src.Claims.SigningKeys.Contains(act.Issuer) {
			add("activation token was signed by %s, which is not a signing key of account %s", act.Issuer, src.Name)
		}
		if act.ImportType != im.Type {
			add("activation token is for a %s import, not a %s import", kindName(act.ImportType), kind)
		}
		if !im.Subject.IsContainedIn(act.ImportSubject) {
			add("activation token grants %q, which does not cover %q", act.ImportSubject, im.Subject)
		}
		if act.Expires != 0 && act.Expires <= now.Unix() {
			add("activation token expired at %s", unixTime(act.Expires))
		}
		if act.NotBefore != 0 && act.NotBefore > now.Unix() {
			add("activation token is valid only from %s; servers refuse the import until then", unixTime(act.NotBefore))
		}
	}
	if src == nil {
		return out, nil, act
	}
	x := coveringExport(src.Claims, im.Type, string(im.Subject))
	if x == nil {
		add("account %s has no %s export covering %q (%s)", src.Name, kind, im.Subject, exportList(src.Claims, im.Type))
		return out, nil, act
	}
	if x.TokenReq && im.Token == "" {
		add("%s export %q of account %s is private: the import needs an activation token "+
			"(natsauth generate activation -a %s -t %s -s %s)", kind, x.Subject, src.Name, shellArg(src.Name), shellArg(importer.Name), shellArg(string(im.Subject)))
	}
	if x.TokenReq && act != nil && x.IsClaimRevoked(act) {
		add("activation token (issued %s) is revoked by account %s's %s export %q",
			unixTime(act.IssuedAt), src.Name, kind, x.Subject)
	}
	if pos := x.AccountTokenPosition; pos > 0 {
		toks := strings.Split(string(im.Subject), ".")
		if uint(len(toks)) < pos || toks[pos-1] != importer.Pub {
			add("%s export %q of account %s wants the importing account's public key in token %d of the subject: import %s",
				kind, x.Subject, src.Name, pos, withToken(string(x.Subject), pos, importer.Pub))
		}
	}
	return out, x, act
}

// withToken returns subject with token pos (1-based) replaced by v.
func withToken(subject string, pos uint, v string) string {
	toks := strings.Split(subject, ".")
	if pos >= 1 && int(pos) <= len(toks) {
		toks[pos-1] = v
	}
	return strings.Join(toks, ".")
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// shellArg quotes s for a command shown in a message when it needs it.
func shellArg(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t'\"$`\\*>;&|()<") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// ExportInfo is one export of an account of the home and the accounts of
// the home that import it.
type ExportInfo struct {
	Account    string // exporting account
	AccountPub string
	Export     jwt.Export
	Importers  []string // names of the accounts of the home that import it
}

// ImportInfo is one import of an account of the home, with what natsauth
// can tell about it.
type ImportInfo struct {
	Account    string // importing account
	AccountPub string
	Import     jwt.Import
	// Source is the exporting account's name when it is in the home, else
	// its public key; InHome says which.
	Source string
	InHome bool
	// Export is the export that covers the import (source in the home).
	Export *jwt.Export
	// Activation is the decoded activation token, if the import has one.
	Activation *jwt.ActivationClaims
	// Problems say why servers refuse the import now; empty when it works
	// (as far as the home can tell).
	Problems []string
}

// Exports lists every export of every account of the home, by account
// then subject, with the accounts that import each.
func (h *Home) Exports() ([]ExportInfo, error) {
	imps, err := h.Imports(time.Now())
	if err != nil {
		return nil, err
	}
	accs, err := h.Accounts()
	if err != nil {
		return nil, err
	}
	var out []ExportInfo
	for _, a := range accs {
		for _, x := range a.Claims.Exports {
			if x == nil {
				continue
			}
			e := ExportInfo{Account: a.Name, AccountPub: a.Pub, Export: *x}
			for _, im := range imps {
				if im.Export != nil && im.InHome && im.Source == a.Name && im.Export.Subject == x.Subject && im.Export.Type == x.Type {
					e.Importers = append(e.Importers, im.Account)
				}
			}
			out = append(out, e)
		}
	}
	return out, nil
}

// Imports lists every import of every account of the home, by account,
// with the problems that make servers refuse it at time now (see
// importProblems). doctor uses it to report imports that broke.
func (h *Home) Imports(now time.Time) ([]ImportInfo, error) {
	accs, err := h.Accounts()
	if err != nil {
		return nil, err
	}
	byName := map[string]*AccountInfo{}
	for i := range accs {
		byName[accs[i].Name] = &accs[i]
	}
	var out []ImportInfo
	for i := range accs {
		a := &accs[i]
		for _, im := range a.Claims.Imports {
			if im == nil {
				continue
			}
			probs, x, act := importProblems(a, im, byName, now)
			info := ImportInfo{Account: a.Name, AccountPub: a.Pub, Import: *im, Source: im.Account,
				Export: x, Activation: act, Problems: probs}
			for _, s := range accs {
				if s.Pub == im.Account {
					info.Source, info.InHome = s.Name, true
				}
			}
			out = append(out, info)
		}
	}
	return out, nil
}
