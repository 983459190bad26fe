package authority

import (
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/nats-io/jwt/v2"
)

// ConsumerGrant lets one account use a durable consumer of a stream that
// lives in another account's JetStream: the JetStream API requests that
// consumer needs, its acks, and — for a push consumer — its deliver
// subject and flow control, as private exports of the exporting account
// and imports (with activation tokens) of the importing one.
type ConsumerGrant struct {
	Stream   string // stream name in the exporting account
	Consumer string // durable consumer name on that stream
	Importer string // the account that gets access: a name of this home
	// DeliverSubject is the deliver subject of a push consumer; empty for
	// a pull consumer. It is exported as a stream and imported unchanged.
	DeliverSubject string
	// APIPrefix is the prefix the importer's clients use for these
	// JetStream API requests (nats.go: jetstream.NewWithAPIPrefix, or
	// nats.APIPrefix), so that they do not collide with the importer's own
	// JetStream. Default: JS.<exporter>.API, with the exporter's name when
	// it is one subject token, else its public key.
	APIPrefix string
}

// ConsumerShare is what GrantConsumer and RevokeConsumer changed.
type ConsumerShare struct {
	Exporter  *AccountInfo // publish it before the importer
	Importer  *AccountInfo
	APIPrefix string
	// Subjects are the exporter's subjects involved: the consumer info and
	// next-message requests (pull), acks, flow control and the deliver
	// subject (push).
	Subjects []string
}

// jsSubject is one subject of a consumer grant.
type jsSubject struct {
	name    string // export name
	remote  string // subject in the exporting account
	local   string // subject in the importing account
	service bool
	resp    jwt.ResponseType
}

// subjects returns the subjects a grant shares.
func (g ConsumerGrant) subjects(prefix string) []jsSubject {
	s, c := g.Stream, g.Consumer
	tag := fmt.Sprintf("jetstream %s/%s", s, c)
	out := []jsSubject{
		{tag + " info", "$JS.API.CONSUMER.INFO." + s + "." + c, prefix + ".CONSUMER.INFO." + s + "." + c, true, jwt.ResponseTypeSingleton},
		{tag + " acks", "$JS.ACK." + s + "." + c + ".>", "$JS.ACK." + s + "." + c + ".>", true, jwt.ResponseTypeSingleton},
	}
	if g.DeliverSubject == "" {
		// A pull request gets many messages back: a streamed response.
		out = append(out, jsSubject{tag + " next", "$JS.API.CONSUMER.MSG.NEXT." + s + "." + c,
			prefix + ".CONSUMER.MSG.NEXT." + s + "." + c, true, jwt.ResponseTypeStream})
	} else {
		out = append(out,
			jsSubject{tag + " flow control", "$JS.FC." + s + "." + c + ".>", "$JS.FC." + s + "." + c + ".>", true, jwt.ResponseTypeSingleton},
			jsSubject{tag + " delivery", g.DeliverSubject, g.DeliverSubject, false, ""})
	}
	return out
}

// checkJSName reports whether n may name a stream or consumer.
func checkJSName(p *problems, what, n string) {
	switch {
	case n == "":
		p.add("%s name is empty", what)
	case len(n) > 255:
		p.add("%s name %.20q... is too long", what, n)
	case strings.ContainsAny(n, ".*>/\\") || strings.IndexFunc(n, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }) >= 0:
		p.add("%s name %q may not contain '.', '*', '>', '/', '\\' or whitespace", what, n)
	}
}

// check adds the problems of the grant's own values and returns the API
// prefix to use.
func (g ConsumerGrant) check(p *problems, exporter *AccountInfo) string {
	checkJSName(p, "stream", g.Stream)
	checkJSName(p, "consumer", g.Consumer)
	if g.DeliverSubject != "" {
		if err := CheckSubject(g.DeliverSubject); err != nil {
			p.add("deliver subject: %v", err)
		} else if jwt.Subject(g.DeliverSubject).HasWildCards() {
			p.add("deliver subject %q has wildcards; a push consumer delivers to one subject", g.DeliverSubject)
		} else if strings.HasPrefix(g.DeliverSubject, "$JS.") {
			p.add("deliver subject %q is in JetStream's own $JS. namespace", g.DeliverSubject)
		}
	}
	prefix := g.APIPrefix
	if prefix == "" && exporter != nil {
		tok := exporter.Name
		if CheckSubject(tok) != nil || strings.ContainsAny(tok, ".*>") {
			tok = exporter.Pub
		}
		prefix = "JS." + tok + ".API"
	}
	prefix = strings.TrimSuffix(prefix, ".")
	if g.APIPrefix != "" {
		if err := CheckSubject(prefix); err != nil {
			p.add("api prefix: %v", err)
		} else if jwt.Subject(prefix).HasWildCards() {
			p.add("api prefix %q has wildcards", prefix)
		} else if prefix == "$JS.API" || strings.HasPrefix(prefix, "$JS.API.") {
			p.add("api prefix %q is the importer's own JetStream API; pick another, e.g. JS.<exporter>.API", prefix)
		}
	}
	return prefix
}

// GrantConsumer gives g.Importer access to the durable consumer
// g.Consumer of stream g.Stream of account exporter: private service
// exports of the consumer's info and next-message requests (pull) or
// flow control and a private stream export of the deliver subject (push),
// and of its acks, in the exporter; imports of each with an activation
// token in the importer, the API requests under g.APIPrefix. Exports the
// exporter already has for these subjects are reused. Both accounts are
// re-signed in one transaction; the consumer itself is created on the
// server by the exporter, as usual.
func (h *Home) GrantConsumer(exporter string, g ConsumerGrant) (*ConsumerShare, error) {
	p := newProblems("grant consumer %s/%s of account %s to %s", g.Stream, g.Consumer, exporter, g.Importer)
	if exporter == g.Importer {
		p.add("exporter and importer are the same account %s", exporter)
		return nil, p.err()
	}
	share := &ConsumerShare{}
	out, err := h.changeAccounts(p, []string{exporter, g.Importer}, func(byName map[string]*AccountInfo) map[string]func(*jwt.AccountClaims) {
		exp, imp := byName[exporter], byName[g.Importer]
		share.APIPrefix = g.check(p, exp)
		if exp.System || imp.System {
			p.add("the system account has no JetStream to share")
		}
		signer := h.activationSigner(p, exp)
		var newExports []*jwt.Export
		var clear []string
		var imports []*jwt.Import
		for _, s := range g.subjects(share.APIPrefix) {
			share.Subjects = append(share.Subjects, s.remote)
			t := exportType(s.service)
			x := coveringExport(exp.Claims, t, s.remote)
			if x == nil {
				x = &jwt.Export{Name: s.name, Subject: jwt.Subject(s.remote), Type: t, TokenReq: true, ResponseType: s.resp}
				checkExportFits(p, exp, x, nil)
				newExports = append(newExports, x)
			} else if _, ok := x.Revocations[imp.Pub]; ok {
				clear = append(clear, string(x.Subject))
			}
			if x.IsService() && s.resp == jwt.ResponseTypeStream && !x.IsStreamResponse() {
				p.add("account %s already exports %q with response type %s; pull requests need %s (edit that export)",
					exp.Name, x.Subject, firstNonEmpty(string(x.ResponseType), jwt.ResponseTypeSingleton), jwt.ResponseTypeStream)
			}
			im := &jwt.Import{Name: s.name, Subject: jwt.Subject(s.remote), Account: exp.Pub, Type: t}
			if s.local != s.remote || s.service {
				im.LocalSubject = jwt.RenamingSubject(s.local)
			}
			for _, o := range imp.Claims.Imports {
				if o != nil && o.Account == exp.Pub && o.Subject == im.Subject && o.Type == t {
					p.addKind(ErrExists, "account %s already imports %q from %s: revoke the grant first", imp.Name, o.Subject, exp.Name)
				}
			}
			if x.TokenReq && signer != nil {
				ac := jwt.NewActivationClaims(imp.Pub)
				ac.Name, ac.ImportSubject, ac.ImportType = s.remote, jwt.Subject(s.remote), t
				if pubKey(signer) != exp.Pub {
					ac.IssuerAccount = exp.Pub
				}
				tok, err := ac.Encode(signer)
				if err != nil {
					p.add("sign activation for %q: %v", s.remote, err)
				}
				im.Token = tok
			}
			imports = append(imports, im)
		}
		if err := p.err(); err != nil {
			return nil
		}
		return map[string]func(*jwt.AccountClaims){
			exporter: func(ac *jwt.AccountClaims) {
				ac.Exports.Add(newExports...)
				for _, x := range ac.Exports {
					if contains(clear, string(x.Subject)) {
						x.ClearRevocation(imp.Pub)
					}
				}
			},
			g.Importer: func(ac *jwt.AccountClaims) { ac.Imports.Add(imports...) },
		}
	})
	if err != nil {
		return nil, err
	}
	share.Exporter, share.Importer = out[0], out[1]
	return share, nil
}

// RevokeConsumer undoes GrantConsumer: it removes the importer's imports
// of the grant's subjects, deletes the exporter's exports of exactly
// those subjects that no other account of the home imports, and revokes
// the importer's activation tokens on the ones kept, so that a copied
// token no longer works.
func (h *Home) RevokeConsumer(exporter string, g ConsumerGrant) (*ConsumerShare, error) {
	p := newProblems("revoke consumer %s/%s of account %s from %s", g.Stream, g.Consumer, exporter, g.Importer)
	share := &ConsumerShare{}
	now := time.Now()
	out, err := h.changeAccounts(p, []string{exporter, g.Importer}, func(byName map[string]*AccountInfo) map[string]func(*jwt.AccountClaims) {
		exp, imp := byName[exporter], byName[g.Importer]
		share.APIPrefix = g.check(p, exp)
		var drop, revoke []string
		remove := map[string]bool{}
		for _, s := range g.subjects(share.APIPrefix) {
			share.Subjects = append(share.Subjects, s.remote)
			t := exportType(s.service)
			for _, o := range imp.Claims.Imports {
				if o != nil && o.Account == exp.Pub && string(o.Subject) == s.remote && o.Type == t {
					remove[s.remote] = true
				}
			}
			x := coveringExport(exp.Claims, t, s.remote)
			if x == nil {
				continue
			}
			used := false
			for _, a := range byName {
				if a.Pub == imp.Pub || a.Pub == exp.Pub {
					continue
				}
				for _, o := range a.Claims.Imports {
					used = used || (o != nil && o.Account == exp.Pub && o.Type == t && o.Subject.IsContainedIn(x.Subject))
				}
			}
			if string(x.Subject) == s.remote && !used {
				drop = append(drop, s.remote)
			} else if x.TokenReq {
				revoke = append(revoke, string(x.Subject))
			}
		}
		if len(remove) == 0 {
			p.addKind(ErrNotFound, "account %s imports none of the subjects of consumer %s/%s from %s",
				imp.Name, g.Stream, g.Consumer, exp.Name)
			return nil
		}
		return map[string]func(*jwt.AccountClaims){
			exporter: func(ac *jwt.AccountClaims) {
				kept := ac.Exports[:0]
				for _, x := range ac.Exports {
					if contains(drop, string(x.Subject)) {
						continue
					}
					if contains(revoke, string(x.Subject)) {
						x.RevokeAt(imp.Pub, now)
					}
					kept = append(kept, x)
				}
				ac.Exports = kept
			},
			g.Importer: func(ac *jwt.AccountClaims) {
				kept := ac.Imports[:0]
				for _, o := range ac.Imports {
					if o != nil && o.Account == exp.Pub && remove[string(o.Subject)] {
						continue
					}
					kept = append(kept, o)
				}
				ac.Imports = kept
			},
		}
	})
	if err != nil {
		return nil, err
	}
	share.Exporter, share.Importer = out[0], out[1]
	return share, nil
}
