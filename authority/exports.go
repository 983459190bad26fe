package authority

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/jwt/v2"
)

// ExportSpec describes a new export (nsc's add export).
type ExportSpec struct {
	Subject string // what is exported; wildcards allowed unless the account forbids them
	Name    string // defaults to Subject, as nsc does
	Service bool   // a service (requests answered by the account); else a stream
	// Private requires importers to present an activation token signed by
	// the exporting account (GenerateActivation).
	Private bool
	// ResponseType (services): Singleton (default), Stream or Chunked —
	// how many responses a request may get through the import.
	ResponseType string
	// ResponseThreshold (services) is how long the importer's response
	// mapping waits for responses; 0 is the server default.
	ResponseThreshold time.Duration
	// LatencySubject (services) turns on latency tracking: samples are
	// published to this subject in the exporting account.
	LatencySubject string
	// LatencySampling is a percentage "1".."100", or "header" to trace
	// only requests that carry a tracing header. Required with
	// LatencySubject (nsc silently makes a missing one "header").
	LatencySampling string
	// AccountTokenPosition (public exports with a '*' token) makes the
	// token at that 1-based position carry the importing account's public
	// key, so each account can import only its own subjects.
	AccountTokenPosition uint
	AllowTrace           bool // (services) let message traces cross the export
	Description          string
	InfoURL              string
}

// ExportEdit changes an export (nsc's edit export). A nil field leaves the
// setting as it is.
type ExportEdit struct {
	Name                 *string
	Service              *bool // change the kind: breaks existing importers
	Private              *bool // making a public export private breaks importers without a token
	ResponseType         *string
	ResponseThreshold    *time.Duration
	LatencySubject       *string
	LatencySampling      *string
	RemoveLatency        bool // nsc's --rm-latency-sampling
	AccountTokenPosition *uint
	AllowTrace           *bool
	Description          *string
	InfoURL              *string
}

// IsZero reports whether the edit changes nothing.
func (e ExportEdit) IsZero() bool {
	return e.Name == nil && e.Service == nil && e.Private == nil && e.ResponseType == nil &&
		e.ResponseThreshold == nil && e.LatencySubject == nil && e.LatencySampling == nil && !e.RemoveLatency &&
		e.AccountTokenPosition == nil && e.AllowTrace == nil && e.Description == nil && e.InfoURL == nil
}

// Uint returns a pointer to v, for ExportEdit.AccountTokenPosition.
func Uint(v uint) *uint { return &v }

// Duration returns a pointer to v, for the duration fields of the edits.
func Duration(v time.Duration) *time.Duration { return &v }

// ParseSampling reads a latency sampling rate: a percentage 1-100, or
// "header" (any case) for header-triggered sampling.
func ParseSampling(s string) (jwt.SamplingRate, error) {
	v := strings.TrimSpace(s)
	if strings.EqualFold(v, "header") || strings.EqualFold(v, "headers") {
		return jwt.Headers, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 100 {
		return 0, fmt.Errorf("sampling %q: give a percentage 1-100 or \"header\"", s)
	}
	return jwt.SamplingRate(n), nil
}

// build returns the export the spec describes, adding a problem for every
// invalid value.
func (s ExportSpec) build(p *problems) *jwt.Export {
	x := &jwt.Export{Name: s.Name, Subject: jwt.Subject(s.Subject), Type: exportType(s.Service), TokenReq: s.Private,
		AccountTokenPosition: s.AccountTokenPosition, AllowTrace: s.AllowTrace}
	x.Description, x.InfoURL = s.Description, s.InfoURL
	if x.Name == "" {
		x.Name = s.Subject
	}
	if s.Service {
		x.ResponseType = jwt.ResponseTypeSingleton
		if s.ResponseType != "" {
			x.ResponseType = jwt.ResponseType(s.ResponseType)
		}
		x.ResponseThreshold = s.ResponseThreshold
	} else if s.ResponseType != "" {
		x.ResponseType = jwt.ResponseType(s.ResponseType)
	}
	if s.LatencySubject != "" || s.LatencySampling != "" {
		x.Latency = &jwt.ServiceLatency{Results: jwt.Subject(s.LatencySubject)}
	}
	checkExport(p, x, s.LatencySampling, s.ResponseThreshold)
	return x
}

// checkExport adds a problem for every invalid value of x. sampling is
// the latency sampling as given (parsed into x.Latency); threshold the
// response threshold as given.
func checkExport(p *problems, x *jwt.Export, sampling string, threshold time.Duration) {
	if err := CheckSubject(string(x.Subject)); err != nil {
		p.add("subject: %v", err)
	}
	if strings.TrimSpace(x.Name) == "" {
		p.add("export name is empty")
	}
	svc := x.IsService()
	switch x.ResponseType {
	case "", jwt.ResponseTypeSingleton, jwt.ResponseTypeStream, jwt.ResponseTypeChunked:
		if !svc && x.ResponseType != "" {
			p.add("response-type applies to services only")
		}
	default:
		p.add("response-type %q: use %s, %s or %s", x.ResponseType,
			jwt.ResponseTypeSingleton, jwt.ResponseTypeStream, jwt.ResponseTypeChunked)
	}
	if threshold < 0 {
		p.add("response-threshold %v is negative", threshold)
	} else if threshold > 0 && !svc {
		p.add("response-threshold applies to services only")
	}
	if x.AllowTrace && !svc {
		p.add("allow-trace on an export applies to services only (a stream import sets it instead)")
	}
	if l := x.Latency; l != nil {
		if !svc {
			p.add("latency tracking applies to services only")
		}
		switch {
		case l.Results == "":
			p.add("sampling needs a latency subject")
		case CheckSubject(string(l.Results)) != nil:
			p.add("latency: %v", CheckSubject(string(l.Results)))
		case l.Results.HasWildCards():
			p.add("latency subject %q has wildcards; samples are published to it", l.Results)
		}
		if sampling == "" {
			p.add("latency needs a sampling rate: a percentage 1-100, or \"header\"")
		} else if r, err := ParseSampling(sampling); err != nil {
			p.add("%v", err)
		} else {
			l.Sampling = r
		}
	}
	if pos := x.AccountTokenPosition; pos > 0 {
		toks := strings.Split(string(x.Subject), ".")
		switch {
		case x.TokenReq:
			p.add("account-token-position applies to public exports only (nsc); a private export is guarded by activation tokens")
		case int(pos) > len(toks):
			p.add("account-token-position %d is past the last token of %q (%d tokens)", pos, x.Subject, len(toks))
		case toks[pos-1] != "*":
			p.add("account-token-position %d points at %q in %q; it must point at a '*' token, which importers fill with their account's public key",
				pos, toks[pos-1], x.Subject)
		}
	}
	if len(x.Description) > jwt.MaxInfoLength {
		p.add("description is %d bytes, over the %d byte limit", len(x.Description), jwt.MaxInfoLength)
	}
	if x.InfoURL != "" {
		if u, err := url.Parse(x.InfoURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p.add("info-url %.80q is not an http or https URL", x.InfoURL)
		}
	}
}

// checkExportFits adds the problems of adding x (or replacing old with x)
// among acc's exports: the same subject already exported, overlapping
// exports of the same kind, the account's export limits.
func checkExportFits(p *problems, acc *AccountInfo, x, old *jwt.Export) {
	ac := acc.Claims
	for _, o := range ac.Exports {
		if o == nil || o == old || o.Type != x.Type {
			continue
		}
		switch {
		case o.Subject == x.Subject:
			p.addKind(ErrExists, "account %s already exports the %s %q", acc.Name, kindName(x.Type), x.Subject)
		case x.Subject.IsContainedIn(o.Subject):
			p.add("%s export %q overlaps the existing export %q of account %s, which already covers it",
				kindName(x.Type), x.Subject, o.Subject, acc.Name)
		case o.Subject.IsContainedIn(x.Subject):
			p.add("%s export %q overlaps the existing export %q of account %s, which it would cover; delete or narrow one",
				kindName(x.Type), x.Subject, o.Subject, acc.Name)
		}
	}
	if old == nil && ac.Limits.Exports >= 0 && int64(len(ac.Exports)) >= ac.Limits.Exports {
		p.add("account %s has %d exports and allows at most %d (max-exports)", acc.Name, len(ac.Exports), ac.Limits.Exports)
	}
	if !ac.Limits.WildcardExports && x.Subject.HasWildCards() {
		p.add("account %s does not allow wildcard exports (wildcard-exports false): %q", acc.Name, x.Subject)
	}
}

// AddExport adds an export to an account and re-signs it.
func (h *Home) AddExport(account string, s ExportSpec) (*AccountInfo, error) {
	p := newProblems("add export %s to account %s", s.Subject, account)
	x := s.build(p)
	return h.changeAccount(p, account, func(acc *AccountInfo, _ map[string]*AccountInfo) func(*jwt.AccountClaims) {
		checkExportFits(p, acc, x, nil)
		return func(ac *jwt.AccountClaims) { ac.Exports.Add(x) }
	})
}

// findExport returns the index of acc's export of subject, adding a
// problem when there is none or when both a stream and a service export
// it (give service to pick one, nil when there is one).
func findExport(p *problems, acc *AccountInfo, subject string, service *bool) int {
	idx := -1
	n := 0
	for i, x := range acc.Claims.Exports {
		if x == nil || string(x.Subject) != subject || (service != nil && x.IsService() != *service) {
			continue
		}
		idx = i
		n++
	}
	switch {
	case n == 0:
		var subs []string
		for _, x := range acc.Claims.Exports {
			if x != nil {
				subs = append(subs, fmt.Sprintf("%s %q", kindName(x.Type), x.Subject))
			}
		}
		list := "it has no exports"
		if len(subs) > 0 {
			list = "its exports: " + strings.Join(subs, ", ")
		}
		p.addKind(ErrNotFound, "account %s has no export %q (%s)", acc.Name, subject, list)
		return -1
	case n > 1:
		p.add("account %s exports %q both as a stream and as a service: say which", acc.Name, subject)
		return -1
	}
	return idx
}

// EditExport changes the export of subject in account and re-signs it.
// Changes that break importers (kind, private, subject) are allowed, as
// in nsc; Imports and doctor then report the broken imports.
func (h *Home) EditExport(account, subject string, e ExportEdit) (*AccountInfo, error) {
	p := newProblems("edit export %s of account %s", subject, account)
	if e.IsZero() {
		p.add("nothing to change: give at least one setting of the export")
	}
	if e.RemoveLatency && (e.LatencySubject != nil || e.LatencySampling != nil) {
		p.add("rm-latency-sampling conflicts with setting latency or sampling")
	}
	return h.changeAccount(p, account, func(acc *AccountInfo, _ map[string]*AccountInfo) func(*jwt.AccountClaims) {
		i := findExport(p, acc, subject, nil)
		if i < 0 || e.IsZero() {
			return nil
		}
		old := acc.Claims.Exports[i]
		x := e.applyTo(old)
		sampling := ""
		if x.Latency != nil {
			sampling = samplingString(x.Latency.Sampling)
			if e.LatencySampling != nil {
				sampling = *e.LatencySampling
			}
		}
		checkExport(p, x, sampling, x.ResponseThreshold)
		checkExportFits(p, acc, x, old)
		return func(ac *jwt.AccountClaims) { ac.Exports[i] = x }
	})
}

// applyTo returns a copy of old with the edit applied. Unlike nsc's edit
// export it keeps the export's revocations and account token position.
func (e ExportEdit) applyTo(old *jwt.Export) *jwt.Export {
	x := *old
	if old.Latency != nil {
		l := *old.Latency
		x.Latency = &l
	}
	x.Revocations = jwt.RevocationList{}
	for k, v := range old.Revocations {
		x.Revocations[k] = v
	}
	if len(x.Revocations) == 0 {
		x.Revocations = nil
	}
	if e.Name != nil {
		x.Name = *e.Name
	}
	if e.Service != nil {
		x.Type = exportType(*e.Service)
		if *e.Service && x.ResponseType == "" {
			x.ResponseType = jwt.ResponseTypeSingleton
		}
		if !*e.Service && e.ResponseType == nil {
			x.ResponseType, x.ResponseThreshold, x.Latency, x.AllowTrace = "", 0, nil, false
		}
	}
	if e.Private != nil {
		x.TokenReq = *e.Private
	}
	if e.ResponseType != nil {
		x.ResponseType = jwt.ResponseType(*e.ResponseType)
	}
	if e.ResponseThreshold != nil {
		x.ResponseThreshold = *e.ResponseThreshold
	}
	if e.RemoveLatency {
		x.Latency = nil
	}
	if e.LatencySubject != nil || e.LatencySampling != nil {
		if x.Latency == nil {
			x.Latency = &jwt.ServiceLatency{}
		}
		if e.LatencySubject != nil {
			x.Latency.Results = jwt.Subject(*e.LatencySubject)
		}
	}
	if e.AccountTokenPosition != nil {
		x.AccountTokenPosition = *e.AccountTokenPosition
	}
	if e.AllowTrace != nil {
		x.AllowTrace = *e.AllowTrace
	}
	if e.Description != nil {
		x.Description = *e.Description
	}
	if e.InfoURL != nil {
		x.InfoURL = *e.InfoURL
	}
	return &x
}

func samplingString(r jwt.SamplingRate) string {
	if r == jwt.Headers {
		return "header"
	}
	return strconv.Itoa(int(r))
}

// DeleteExport removes the export of subject from account and re-signs
// it. Accounts that import it lose it once servers have the new JWT; the
// returned importers (names of accounts of the home that import it) let
// callers say so.
func (h *Home) DeleteExport(account, subject string) (*AccountInfo, []string, error) {
	p := newProblems("delete export %s of account %s", subject, account)
	var importers []string
	info, err := h.changeAccount(p, account, func(acc *AccountInfo, byName map[string]*AccountInfo) func(*jwt.AccountClaims) {
		i := findExport(p, acc, subject, nil)
		if i < 0 {
			return nil
		}
		x := acc.Claims.Exports[i]
		for _, name := range sortedKeys(byName) {
			for _, im := range byName[name].Claims.Imports {
				if im != nil && im.Account == acc.Pub && im.Type == x.Type && im.Subject.IsContainedIn(x.Subject) {
					importers = append(importers, name)
					break
				}
			}
		}
		return func(ac *jwt.AccountClaims) {
			ac.Exports = append(ac.Exports[:i:i], ac.Exports[i+1:]...)
		}
	})
	if err != nil {
		return nil, nil, err
	}
	return info, importers, nil
}
