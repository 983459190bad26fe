package authority

import (
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/jwt/v2"
)

// ImportSpec describes a new import (nsc's add import).
type ImportSpec struct {
	// Account is the source (exporting) account: a name of this home or
	// an account public key (an account managed elsewhere, whose exports
	// natsauth cannot check). With a Token it may be empty: the token
	// names it.
	Account string
	// Subject is the remote subject, as the source exports it (or a part
	// of it); with a Token it may be empty: the token names it. For an
	// export with an account token position, put the importing account's
	// public key in that token.
	Subject string
	// LocalSubject is the subject in the importing account: for a service,
	// what its clients send requests to; for a stream, where the messages
	// appear. Wildcards of Subject may be referenced as $1, $2, ... Empty
	// keeps Subject.
	LocalSubject string
	// Service imports a service; else a stream. With a Token the kind is
	// the token's.
	Service bool
	Name    string // defaults to the token's name or the remote subject, as nsc does
	// Share shares the importer's connection details with the exporter's
	// latency samples (services only).
	Share bool
	// AllowTrace lets message traces cross the import (streams only).
	AllowTrace bool
	// Token is an activation token for a private export: the JWT, or a
	// decorated file's content. The CLI reads it from a file or URL. It is
	// kept in the import as nsc keeps it.
	Token string
}

// AddImport adds an import to account and re-signs it. Before anything is
// written it checks that the source account (when in this home) exports a
// covering subject of the same kind, that a private export comes with a
// valid token for this account (its issuer, subject, kind, expiry,
// revocation), that an account token position names this account, that
// the import creates no import cycle nats-server would refuse, and the
// account's import limit.
func (h *Home) AddImport(account string, s ImportSpec) (*AccountInfo, error) {
	p := newProblems("add import %s to account %s", firstNonEmpty(s.Subject, "from token"), account)
	im := &jwt.Import{Name: s.Name, Subject: jwt.Subject(s.Subject), LocalSubject: jwt.RenamingSubject(s.LocalSubject),
		Type: exportType(s.Service), Share: s.Share, AllowTrace: s.AllowTrace}
	if strings.TrimSpace(s.Token) != "" {
		tok, err := jwt.ParseDecoratedJWT([]byte(s.Token))
		if err != nil {
			p.add("token: %v", err)
		}
		act, err := jwt.DecodeActivationClaims(tok)
		if err != nil {
			p.add("token is not an activation token: %v", err)
		} else {
			im.Token = tok
			src := firstNonEmpty(act.IssuerAccount, act.Issuer)
			if s.Service && act.ImportType != jwt.Service {
				p.add("token grants a stream import, not a service import")
			}
			im.Type = act.ImportType
			if s.Subject == "" {
				im.Subject = act.ImportSubject
			}
			if s.Account == "" {
				s.Account = src
			}
			if im.Name == "" {
				im.Name = act.Name
			}
			if im.IsService() && im.LocalSubject == "" {
				im.LocalSubject = jwt.RenamingSubject(im.Subject)
			}
		}
	}
	if im.Name == "" {
		im.Name = string(im.Subject)
	}
	if err := CheckSubject(string(im.Subject)); err != nil {
		p.add("remote subject: %v", err)
	}
	if im.LocalSubject != "" {
		vr := jwt.CreateValidationResults()
		im.LocalSubject.Validate(im.Subject, vr)
		for _, is := range vr.Issues {
			p.add("local subject %q: %s", im.LocalSubject, is.Description)
		}
		if len(vr.Issues) == 0 {
			if err := CheckSubject(string(im.LocalSubject)); err != nil {
				p.add("local subject: %v", err)
			}
		}
	}
	if im.Share && !im.IsService() {
		p.add("share applies to service imports only")
	}
	if im.AllowTrace && im.IsService() {
		p.add("allow-trace on an import applies to stream imports only (a service export sets it instead)")
	}
	return h.changeAccount(p, account, func(acc *AccountInfo, byName map[string]*AccountInfo) func(*jwt.AccountClaims) {
		src := resolveAccount(p, byName, "source account", s.Account)
		if src == nil {
			return nil
		}
		im.Account = src.pub
		if im.Token != "" && s.Account != "" {
			if act, err := jwt.DecodeActivationClaims(im.Token); err == nil && act.Issuer != src.pub && act.IssuerAccount != src.pub {
				p.add("the token was issued by account %s, not by the source account %s", firstNonEmpty(act.IssuerAccount, act.Issuer), src.name)
				return nil
			}
		}
		for _, o := range acc.Claims.Imports {
			if o != nil && o.Account == im.Account && o.Subject == im.Subject && o.Type == im.Type {
				p.addKind(ErrExists, "account %s already imports the %s %q from %s", acc.Name, kindName(im.Type), im.Subject, src.name)
				return nil
			}
		}
		if l := acc.Claims.Limits.Imports; l >= 0 && int64(len(acc.Claims.Imports)) >= l {
			p.add("account %s has %d imports and allows at most %d (max-imports)", acc.Name, len(acc.Claims.Imports), l)
		}
		probs, _, _ := importProblems(acc, im, byName, time.Now())
		for _, pr := range probs {
			p.add("%s", pr)
		}
		if c := importCycle(byName, acc, im); c != "" {
			p.add("%s", c)
		}
		return func(ac *jwt.AccountClaims) { ac.Imports.Add(im) }
	})
}

// DeleteImport removes account's import of the remote subject and
// re-signs it. src (a name or public key) picks among imports of the same
// subject from several accounts; it may be empty otherwise.
func (h *Home) DeleteImport(account, subject, src string) (*AccountInfo, error) {
	p := newProblems("delete import %s of account %s", subject, account)
	return h.changeAccount(p, account, func(acc *AccountInfo, byName map[string]*AccountInfo) func(*jwt.AccountClaims) {
		var srcPub string
		if src != "" {
			ref := resolveAccount(p, byName, "source account", src)
			if ref == nil {
				return nil
			}
			srcPub = ref.pub
		}
		i := findImport(p, acc, subject, srcPub)
		if i < 0 {
			return nil
		}
		return func(ac *jwt.AccountClaims) { ac.Imports = append(ac.Imports[:i:i], ac.Imports[i+1:]...) }
	})
}

// findImport returns the index of acc's import of the remote subject
// (from srcPub when given), adding a problem when there is none or more
// than one.
func findImport(p *problems, acc *AccountInfo, subject, srcPub string) int {
	idx, n := -1, 0
	var all []string
	for i, im := range acc.Claims.Imports {
		if im == nil {
			continue
		}
		all = append(all, fmt.Sprintf("%s %q from %s", kindName(im.Type), im.Subject, im.Account))
		if string(im.Subject) == subject && (srcPub == "" || im.Account == srcPub) {
			idx = i
			n++
		}
	}
	switch {
	case n == 0:
		list := "it has no imports"
		if len(all) > 0 {
			list = "its imports: " + strings.Join(all, ", ")
		}
		p.addKind(ErrNotFound, "account %s has no import of %q (%s)", acc.Name, subject, list)
		return -1
	case n > 1:
		p.add("account %s imports %q more than once: give the source account", acc.Name, subject)
		return -1
	}
	return idx
}

// edge is one import between accounts of the home, as nats-server keeps
// it: for a service, from is the local subject and to the exporter's; for
// a stream, from is the exporter's subject and to the local one.
type edge struct {
	from, to string
	acc      string // the exporting account's public key
}

// importCycle reports, in nats-server's terms, whether adding im to the
// account importer would form an import cycle among the accounts of the
// home, which nats-server refuses ("import forms a cycle"). It mirrors the
// server's checkServiceImportsForCycles and checkStreamImportsForCycles.
func importCycle(byName map[string]*AccountInfo, importer *AccountInfo, im *jwt.Import) string {
	return importCycleIn(pubIndex(byName), importer, im)
}

// pubIndex maps accounts by public key.
func pubIndex(byName map[string]*AccountInfo) map[string]*AccountInfo {
	byPub := make(map[string]*AccountInfo, len(byName))
	for _, a := range byName {
		byPub[a.Pub] = a
	}
	return byPub
}

// importCycleIn is importCycle with the accounts indexed by public key.
func importCycleIn(byPub map[string]*AccountInfo, importer *AccountInfo, im *jwt.Import) string {
	edges := func(a *AccountInfo, t jwt.ExportType) []edge {
		var out []edge
		for _, o := range a.Claims.Imports {
			if o != nil && o.Type == t {
				out = append(out, importEdge(o))
			}
		}
		return out
	}
	e := importEdge(im)
	var path []string
	var walk func(a *AccountInfo, subj string, visited map[string]bool) bool
	if im.IsService() {
		walk = func(a *AccountInfo, from string, visited map[string]bool) bool {
			if a == nil || len(visited) > 1024 {
				return false
			}
			for _, si := range edges(a, jwt.Service) {
				if !subjectsCollide(from, si.to) {
					continue
				}
				path = append(path, fmt.Sprintf("%s imports service %q from %s", a.Name, si.to, nameOf(byPub, si.acc)))
				if visited[si.acc] {
					return true
				}
				visited[a.Pub] = true
				f := from
				if jwt.Subject(si.from).IsContainedIn(jwt.Subject(f)) {
					f = si.from
				}
				if walk(byPub[si.acc], f, visited) {
					return true
				}
				path = path[:len(path)-1]
			}
			return false
		}
		from := e.from
		if jwt.Subject(e.to).HasWildCards() {
			from = untokenize(from)
		}
		if walk(byPub[e.acc], from, map[string]bool{importer.Pub: true}) {
			return cycleMessage("service", importer, im, byPub, path)
		}
		return ""
	}
	walk = func(a *AccountInfo, to string, visited map[string]bool) bool {
		if a == nil || len(visited) > 1024 {
			return false
		}
		if coveringStreamExport(a.Claims, to) == nil {
			return false
		}
		for _, si := range edges(a, jwt.Stream) {
			if !subjectsCollide(to, si.to) {
				continue
			}
			path = append(path, fmt.Sprintf("%s imports stream %q from %s", a.Name, si.from, nameOf(byPub, si.acc)))
			if visited[si.acc] {
				return true
			}
			visited[a.Pub] = true
			t := to
			if jwt.Subject(si.to).IsContainedIn(jwt.Subject(t)) {
				t = si.to
			}
			if walk(byPub[si.acc], t, visited) {
				return true
			}
			path = path[:len(path)-1]
		}
		return false
	}
	for _, s := range []string{e.to, e.from} {
		path = nil
		if walk(byPub[e.acc], s, map[string]bool{importer.Pub: true}) {
			return cycleMessage("stream", importer, im, byPub, path)
		}
	}
	return ""
}

func cycleMessage(kind string, importer *AccountInfo, im *jwt.Import, byPub map[string]*AccountInfo, path []string) string {
	return fmt.Sprintf("importing %s %q from %s would form an import cycle, which nats-server refuses: %s",
		kind, im.Subject, nameOf(byPub, im.Account), strings.Join(path, ", "))
}

// coveringStreamExport is hasStreamExportMatching of nats-server.
func coveringStreamExport(ac *jwt.AccountClaims, subject string) *jwt.Export {
	for _, x := range ac.Exports {
		if x != nil && x.IsStream() && jwt.Subject(subject).IsContainedIn(x.Subject) {
			return x
		}
	}
	return nil
}

func importEdge(im *jwt.Import) edge {
	local := string(im.LocalSubject)
	if local == "" {
		local = string(im.To)
	}
	if local == "" {
		local = string(im.Subject)
	}
	if im.IsService() {
		return edge{from: local, to: string(im.Subject), acc: im.Account}
	}
	return edge{from: string(im.Subject), to: untokenize(local), acc: im.Account}
}

func nameOf(byPub map[string]*AccountInfo, pub string) string {
	if a := byPub[pub]; a != nil {
		return a.Name
	}
	return pub
}

// untokenize turns the $1-style references of a mapped subject into '*'.
func untokenize(s string) string {
	toks := strings.Split(s, ".")
	for i, t := range toks {
		if strings.HasPrefix(t, "$") || strings.HasPrefix(t, "{{") {
			toks[i] = "*"
		}
	}
	return strings.Join(toks, ".")
}

// subjectsCollide reports whether some subject matches both a and b
// (nats-server's SubjectsCollide).
func subjectsCollide(a, b string) bool {
	ta, tb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; ; i++ {
		switch {
		case i == len(ta) && i == len(tb):
			return true
		case i == len(ta) || i == len(tb):
			return false
		case ta[i] == ">" || tb[i] == ">":
			return true
		case ta[i] != tb[i] && ta[i] != "*" && tb[i] != "*":
			return false
		}
	}
}
