package callout

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"text/template/parse"
	"time"
	"unicode"

	"github.com/nats-io/jwt/v2"

	"github.com/natsauth/natsauth/authority"
)

// subjectTemplate is one permission subject, possibly with template
// actions over the identity: orders.{{ .Claims.sub }}.>. Every value an
// action inserts must be one subject token: a value with '.', '*', '>' or
// whitespace is refused (fail closed), so an identity cannot widen its
// own permissions; use replace to map such characters.
type subjectTemplate struct {
	src   string
	queue bool // a subscribe subject that may name a queue group
	t     *template.Template
}

// templateFuncs are the functions templates may use besides text/template's
// builtins (index, len, printf, ...).
var templateFuncs = template.FuncMap{
	"lower":      strings.ToLower,
	"upper":      strings.ToUpper,
	"replace":    func(old, new, s string) string { return strings.ReplaceAll(s, old, new) },
	"trimPrefix": func(prefix, s string) string { return strings.TrimPrefix(s, prefix) },
	"trimSuffix": func(suffix, s string) string { return strings.TrimSuffix(s, suffix) },
	tokenFunc:    subjectToken,
}

const tokenFunc = "natsauthSubjectToken"

var actionRE = regexp.MustCompile(`\{\{.*?\}\}`)

func parseSubjectTemplate(src string, queue bool) (*subjectTemplate, error) {
	st := &subjectTemplate{src: src, queue: queue}
	if !strings.Contains(src, "{{") {
		if err := checkPermSubject(src, queue); err != nil {
			return nil, err
		}
		return st, nil
	}
	t, err := template.New(src).Funcs(templateFuncs).Option("missingkey=error").Parse(src)
	if err != nil {
		return nil, fmt.Errorf("template %q: %v", src, strings.TrimPrefix(err.Error(), "template: "+src+":"))
	}
	for _, n := range t.Tree.Root.Nodes {
		if err := guardActions(n); err != nil {
			return nil, fmt.Errorf("template %q: %v", src, err)
		}
	}
	// The text around the actions must form a valid subject.
	if err := checkPermSubject(actionRE.ReplaceAllString(src, "x"), queue); err != nil {
		return nil, fmt.Errorf("template %q: %v", src, err)
	}
	st.t = t
	return st, nil
}

// guardActions makes every action that prints pass its value through the
// subject-token check, the way html/template adds its escapers.
func guardActions(n parse.Node) error {
	switch n := n.(type) {
	case *parse.ActionNode:
		if len(n.Pipe.Decl) == 0 {
			n.Pipe.Cmds = append(n.Pipe.Cmds, &parse.CommandNode{NodeType: parse.NodeCommand,
				Args: []parse.Node{&parse.IdentifierNode{NodeType: parse.NodeIdentifier, Ident: tokenFunc}}})
		}
	case *parse.IfNode:
		return guardBranch(&n.BranchNode)
	case *parse.WithNode:
		return guardBranch(&n.BranchNode)
	case *parse.RangeNode:
		return errors.New("range is not allowed in a subject")
	case *parse.TemplateNode:
		return errors.New("template calls are not allowed in a subject")
	case *parse.ListNode:
		for _, c := range n.Nodes {
			if err := guardActions(c); err != nil {
				return err
			}
		}
	}
	return nil
}

func guardBranch(b *parse.BranchNode) error {
	for _, l := range []*parse.ListNode{b.List, b.ElseList} {
		if l != nil {
			if err := guardActions(l); err != nil {
				return err
			}
		}
	}
	return nil
}

// errBadToken is the refusal of a value that is not one subject token.
var errBadToken = errors.New("a value inserted by a template is not one subject token (it is empty, or has '.', '*', '>', whitespace or a control character; map it with replace)")

// subjectToken renders one inserted value, refusing anything that is not
// a single literal subject token.
func subjectToken(v any) (string, error) {
	var s string
	switch v := v.(type) {
	case string:
		s = v
	case bool:
		s = strconv.FormatBool(v)
	case float64:
		s = strconv.FormatFloat(v, 'f', -1, 64)
	case json.Number:
		s = v.String()
	case int, int64:
		s = fmt.Sprint(v)
	default:
		return "", fmt.Errorf("a template inserted a %T where a subject token goes (pick one element with index)", v)
	}
	if s == "" || len(s) > 256 || strings.ContainsAny(s, ".*>") {
		return "", errBadToken
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == unicode.ReplacementChar {
			return "", errBadToken
		}
	}
	return s, nil
}

func checkPermSubject(s string, queue bool) error {
	if subj, q, ok := strings.Cut(s, " "); ok && queue {
		if err := authority.CheckSubject(subj); err != nil {
			return err
		}
		return authority.CheckSubject(q)
	}
	return authority.CheckSubject(s)
}

// render executes the template over the identity.
func (st *subjectTemplate) render(id *Identity) (string, error) {
	if st.t == nil {
		return st.src, nil
	}
	var b strings.Builder
	if err := st.t.Execute(&b, id); err != nil {
		msg := err.Error()
		if i := strings.LastIndex(msg, ": "); i >= 0 && strings.Contains(msg, "executing") {
			msg = msg[i+2:]
		}
		return "", fmt.Errorf("permission %q: %s", st.src, msg)
	}
	out := b.String()
	if err := checkPermSubject(out, st.queue); err != nil {
		return "", fmt.Errorf("permission %q: %v", st.src, err)
	}
	return out, nil
}

// matchResult says whether a rule matched an identity and, if not, why.
type matchResult struct {
	ok  bool
	why string
}

// match checks the rule's conditions against an identity of its source.
func (r *Rule) match(id *Identity) matchResult {
	no := func(format string, args ...any) matchResult { return matchResult{why: fmt.Sprintf(format, args...)} }
	if r.Provider != "" && id.Provider != r.Provider {
		return no("provider is %s, the rule wants %s", id.Provider, r.Provider)
	}
	if r.Issuer != "" && id.Issuer != r.Issuer {
		return no("issuer is %s, the rule wants %s", id.Issuer, r.Issuer)
	}
	if len(r.Audience) > 0 && !slices.ContainsFunc(r.Audience, func(a string) bool { return slices.Contains(id.Audience, a) }) {
		return no("audience %v has none of %v", id.Audience, r.Audience)
	}
	for _, c := range r.Username {
		if !c.holds([]string{id.Username}) {
			return no("username does not %s %q", c.op, c.value)
		}
	}
	for _, fc := range r.Claims {
		vals, ok := claimValues(id.Claims, fc.field)
		if !ok {
			return no("claim %s is missing", fc.field)
		}
		for _, c := range fc.conds {
			if !c.holds(vals) {
				return no("claim %s does not %s %q", fc.field, c.op, c.value)
			}
		}
	}
	if len(r.CertConds) > 0 {
		if id.Cert == nil {
			return no("no client certificate")
		}
		fields := id.Cert.fields()
		for _, fc := range r.CertConds {
			for _, c := range fc.conds {
				if !c.holds(fields[fc.field]) {
					return no("certificate %s does not %s %q", fc.field, c.op, c.value)
				}
			}
		}
	}
	return matchResult{ok: true}
}

// holds applies the condition to a field's values: equals and glob hold
// when one value does; contains holds when a list has the value as an
// element, or a single string has it as a substring.
func (c cond) holds(vals []string) bool {
	for _, v := range vals {
		switch c.op {
		case "equals":
			if v == c.value {
				return true
			}
		case "glob":
			if c.re.MatchString(v) {
				return true
			}
		case "contains":
			if len(vals) == 1 && strings.Contains(v, c.value) || v == c.value {
				return true
			}
		}
	}
	return false
}

// claimValues returns a claim's values as strings: a list's elements, or
// the one scalar. A name with dots that is not a claim itself walks into
// nested objects (realm_access.roles).
func claimValues(claims map[string]any, name string) ([]string, bool) {
	v, ok := claims[name]
	if !ok && strings.Contains(name, ".") {
		var cur any = claims
		for _, part := range strings.Split(name, ".") {
			m, isMap := cur.(map[string]any)
			if !isMap {
				return nil, false
			}
			if cur, ok = m[part]; !ok {
				return nil, false
			}
		}
		v = cur
	}
	if !ok {
		return nil, false
	}
	switch v := v.(type) {
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			if s, ok := scalarString(e); ok {
				out = append(out, s)
			}
		}
		return out, true
	default:
		s, ok := scalarString(v)
		if !ok {
			return nil, false
		}
		return []string{s}, true
	}
}

func scalarString(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case bool:
		return strconv.FormatBool(v), true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	case json.Number:
		return v.String(), true
	}
	return "", false
}

// Grant is what a rule issues to an identity.
type Grant struct {
	Rule        string
	Account     string // as the rule names it: a name or a public key
	Name        string // the NATS user name
	Permissions jwt.Permissions
	Limits      jwt.Limits
	ConnTypes   []string
	TTL         time.Duration
}

// grant renders the rule's permissions for id. A template that fails
// (a missing claim, a bad value) refuses the identity.
func (r *Rule) grant(id *Identity, defTTL time.Duration) (*Grant, error) {
	g := &Grant{Rule: r.Name, Account: r.Account, Name: id.Username, TTL: r.TTL, ConnTypes: r.ConnTypes}
	if g.TTL == 0 {
		g.TTL = defTTL
	}
	// An issued user lives no longer than the proof it was issued on: a
	// token's exp, a certificate's NotAfter.
	if !id.Expires.IsZero() {
		left := time.Until(id.Expires).Truncate(time.Second)
		if left <= 0 {
			return nil, fmt.Errorf("rule %s: the %s identity expired at %s", r.Name, id.Source, id.Expires.UTC().Format(time.RFC3339))
		}
		g.TTL = min(g.TTL, left)
	}
	if g.Name == "" {
		g.Name = id.Subject
	}
	lists := []struct {
		src []*subjectTemplate
		dst *jwt.StringList
	}{
		{r.Pub.Allow, &g.Permissions.Pub.Allow}, {r.Pub.Deny, &g.Permissions.Pub.Deny},
		{r.Sub.Allow, &g.Permissions.Sub.Allow}, {r.Sub.Deny, &g.Permissions.Sub.Deny},
	}
	for _, l := range lists {
		for _, st := range l.src {
			s, err := st.render(id)
			if err != nil {
				return nil, fmt.Errorf("rule %s: %w", r.Name, err)
			}
			l.dst.Add(s)
		}
	}
	if r.Resp != nil {
		resp := *r.Resp
		g.Permissions.Resp = &resp
	}
	g.Limits = jwt.Limits{NatsLimits: jwt.NatsLimits{Subs: jwt.NoLimit, Data: jwt.NoLimit, Payload: jwt.NoLimit}}
	for _, l := range []struct {
		v   *int64
		dst *int64
	}{{r.Subs, &g.Limits.Subs}, {r.Data, &g.Limits.Data}, {r.Payload, &g.Limits.Payload}} {
		if l.v != nil {
			*l.dst = *l.v
		}
	}
	if len(r.Src) > 0 {
		g.Limits.Src = jwt.CIDRList(r.Src)
	}
	return g, nil
}
