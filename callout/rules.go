package callout

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/jwt/v2"
	"gopkg.in/yaml.v3"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/internal/units"
)

// DefaultTTL is the lifetime of an issued user when the rules file sets none.
const DefaultTTL = time.Hour

// ErrRules marks a rules file that was refused; the error is a *RulesError.
var ErrRules = errors.New("rules file refused")

// RulesError lists every problem of a rules file, each with its line and
// column. A file with any problem is refused whole.
type RulesError struct {
	Path     string
	Problems []Problem
}

// Problem is one error in a rules file.
type Problem struct {
	Line, Column int
	Msg          string
}

// Error lists every problem, one per line, as FILE:LINE:COLUMN: message.
func (e *RulesError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "rules file %s refused (%d problem", e.Path, len(e.Problems))
	if len(e.Problems) != 1 {
		b.WriteString("s")
	}
	b.WriteString("):")
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(e.Path)
		if p.Line > 0 {
			fmt.Fprintf(&b, ":%d", p.Line)
			if p.Column > 0 {
				fmt.Fprintf(&b, ":%d", p.Column)
			}
		}
		b.WriteString(": ")
		b.WriteString(p.Msg)
	}
	return b.String()
}

// Unwrap makes errors.Is(err, ErrRules) true.
func (e *RulesError) Unwrap() error { return ErrRules }

// Rules is a parsed rules file: the OpenID providers trusted and the rules
// that map identities to NATS users, tried in file order.
type Rules struct {
	// Path is the file read ("" when parsed from bytes).
	Path string
	// TTL is the default lifetime of issued users.
	TTL time.Duration
	// Providers are the trusted OpenID Connect issuers.
	Providers []*Provider
	// Rules are tried in order; the first that matches decides.
	Rules []*Rule
	// Sum is the SHA-256 of the file's bytes.
	Sum [32]byte
}

// Provider is one trusted OpenID Connect issuer. Its discovery document
// (/.well-known/openid-configuration) and key set are fetched by the
// gateway; tokens must be signed by one of its current keys, carry one of
// its audiences, and be within their exp and nbf.
type Provider struct {
	Name          string
	Issuer        string
	Audiences     []string
	CAFile        string // PEM CA bundle to trust for the issuer's HTTPS, besides the system's
	UsernameClaim string // claim naming the NATS user (default "sub")
	Line          int
}

// Rule maps matching identities to a NATS user in an account.
type Rule struct {
	Name      string
	Line, Col int

	// Match.
	Source    string
	Provider  string   // SourceOIDC: provider name
	Issuer    string   // SourceOIDC: token issuer
	Audience  []string // SourceOIDC: the token has one of these audiences
	Username  []cond
	Claims    []fieldCond
	CertConds []fieldCond

	// Grant.
	Account   string // account name or public key
	Pub, Sub  subjectLists
	Resp      *jwt.ResponsePermission
	Subs      *int64
	Data      *int64
	Payload   *int64
	Src       []string
	ConnTypes []string
	TTL       time.Duration
}

type subjectLists struct{ Allow, Deny []*subjectTemplate }

// fieldCond is the conditions on one claim or certificate field.
type fieldCond struct {
	field string
	conds []cond
}

// cond is one condition: equals, contains or glob.
type cond struct {
	op    string
	value string
	re    *regexp.Regexp // glob
}

// LoadRules reads and checks a rules file.
func LoadRules(path string) (*Rules, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read rules file: %w", err)
	}
	return ParseRules(path, raw)
}

// ParseRules checks a rules file's content; path names it in errors.
func ParseRules(path string, raw []byte) (*Rules, error) {
	p := &parser{path: path}
	rs := &Rules{Path: path, TTL: DefaultTTL, Sum: sha256.Sum256(raw)}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		p.problems = append(p.problems, yamlProblem(err))
		return nil, p.err()
	}
	if len(doc.Content) == 0 {
		p.add(&doc, "the file is empty: give at least one rule under rules:")
		return nil, p.err()
	}
	root := doc.Content[0]
	p.mapping(root, map[string]func(*yaml.Node){
		"ttl": func(n *yaml.Node) { rs.TTL = p.duration(n) },
		"providers": func(n *yaml.Node) {
			for _, item := range p.seq(n) {
				if pr := p.provider(item); pr != nil {
					rs.Providers = append(rs.Providers, pr)
				}
			}
		},
		"rules": func(n *yaml.Node) {
			for i, item := range p.seq(n) {
				if r := p.rule(item, i); r != nil {
					rs.Rules = append(rs.Rules, r)
				}
			}
		},
	}, "ttl", "providers", "rules")
	if root.Kind == yaml.MappingNode && len(rs.Rules) == 0 && len(p.problems) == 0 {
		p.add(root, "no rules: give at least one rule under rules:")
	}
	p.crossCheck(rs)
	if err := p.err(); err != nil {
		return nil, err
	}
	return rs, nil
}

// yamlProblem turns a YAML syntax error into a Problem with its line.
func yamlProblem(err error) Problem {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = strings.Join(te.Errors, "; ")
	}
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, tail, ok := strings.Cut(rest, ":"); ok {
			if line, err := strconv.Atoi(num); err == nil {
				return Problem{Line: line, Msg: strings.TrimSpace(tail)}
			}
		}
	}
	return Problem{Msg: msg}
}

// parser walks the YAML tree, collecting every problem with its position.
type parser struct {
	path     string
	problems []Problem
}

func (p *parser) add(n *yaml.Node, format string, args ...any) {
	p.problems = append(p.problems, Problem{Line: n.Line, Column: n.Column, Msg: fmt.Sprintf(format, args...)})
}

func (p *parser) err() error {
	if len(p.problems) == 0 {
		return nil
	}
	return &RulesError{Path: p.path, Problems: p.problems}
}

// mapping calls fields[key] for every key of a mapping node, refusing
// unknown and repeated keys; known lists the keys in the order a message
// names them.
func (p *parser) mapping(n *yaml.Node, fields map[string]func(*yaml.Node), known ...string) {
	if n.Kind != yaml.MappingNode {
		p.add(n, "want a mapping with keys %s", strings.Join(known, ", "))
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		f, ok := fields[k.Value]
		switch {
		case !ok:
			p.add(k, "unknown key %q (known: %s)", k.Value, strings.Join(known, ", "))
		case seen[k.Value]:
			p.add(k, "key %q is given twice", k.Value)
		default:
			seen[k.Value] = true
			f(v)
		}
	}
}

func (p *parser) seq(n *yaml.Node) []*yaml.Node {
	if n.Kind != yaml.SequenceNode {
		p.add(n, "want a list")
		return nil
	}
	return n.Content
}

func (p *parser) str(n *yaml.Node) string {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		p.add(n, "want a single value")
		return ""
	}
	return n.Value
}

// strs accepts one value or a list of values.
func (p *parser) strs(n *yaml.Node) []string {
	if n.Kind == yaml.ScalarNode {
		return []string{p.str(n)}
	}
	var out []string
	for _, item := range p.seq(n) {
		out = append(out, p.str(item))
	}
	return out
}

func (p *parser) duration(n *yaml.Node) time.Duration {
	s := p.str(n)
	if s == "" {
		return 0
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		p.add(n, "%q is not a positive duration such as 15m or 1h", s)
		return 0
	}
	if d < time.Second {
		p.add(n, "%s is shorter than one second: JWT times have a resolution of one second", d)
	}
	return d
}

func (p *parser) provider(n *yaml.Node) *Provider {
	pr := &Provider{Line: n.Line, UsernameClaim: "sub"}
	p.mapping(n, map[string]func(*yaml.Node){
		"name":           func(v *yaml.Node) { pr.Name = p.str(v) },
		"issuer":         func(v *yaml.Node) { pr.Issuer = p.str(v) },
		"audiences":      func(v *yaml.Node) { pr.Audiences = p.strs(v) },
		"ca_file":        func(v *yaml.Node) { pr.CAFile = p.str(v) },
		"username_claim": func(v *yaml.Node) { pr.UsernameClaim = p.str(v) },
	}, "name", "issuer", "audiences", "ca_file", "username_claim")
	if n.Kind != yaml.MappingNode {
		return nil
	}
	if pr.Name == "" {
		p.add(n, "provider: give a name")
	}
	switch {
	case pr.Issuer == "":
		p.add(n, "provider %s: give its issuer URL", pr.Name)
	case !strings.HasPrefix(pr.Issuer, "https://") && !strings.HasPrefix(pr.Issuer, "http://127.0.0.1") &&
		!strings.HasPrefix(pr.Issuer, "http://localhost"):
		p.add(n, "provider %s: issuer %q must be an https:// URL (plain http only on localhost)", pr.Name, pr.Issuer)
	}
	if len(pr.Audiences) == 0 {
		p.add(n, "provider %s: give the audiences its tokens must carry (the client IDs of your NATS clients)", pr.Name)
	}
	return pr
}

var (
	sources   = []string{SourceOIDC, SourcePassword, SourceTLS}
	connTypes = []string{jwt.ConnectionTypeStandard, jwt.ConnectionTypeWebsocket, jwt.ConnectionTypeLeafnode,
		jwt.ConnectionTypeLeafnodeWS, jwt.ConnectionTypeMqtt, jwt.ConnectionTypeMqttWS, jwt.ConnectionTypeInProcess}
)

func (p *parser) rule(n *yaml.Node, i int) *Rule {
	r := &Rule{Line: n.Line, Col: n.Column, Name: fmt.Sprintf("#%d", i+1)}
	p.mapping(n, map[string]func(*yaml.Node){
		"name":        func(v *yaml.Node) { r.Name = p.str(v) },
		"match":       func(v *yaml.Node) { p.match(v, r) },
		"account":     func(v *yaml.Node) { r.Account = p.str(v) },
		"permissions": func(v *yaml.Node) { p.permissions(v, r) },
		"limits":      func(v *yaml.Node) { p.limits(v, r) },
		"ttl":         func(v *yaml.Node) { r.TTL = p.duration(v) },
	}, "name", "match", "account", "permissions", "limits", "ttl")
	if n.Kind != yaml.MappingNode {
		return nil
	}
	if r.Source == "" {
		p.add(n, "rule %s: give match.source (%s)", r.Name, strings.Join(sources, ", "))
	}
	if r.Account == "" {
		p.add(n, "rule %s: give the account its users are placed in", r.Name)
	}
	return r
}

func (p *parser) match(n *yaml.Node, r *Rule) {
	var srcNode *yaml.Node
	oidcOnly := map[string]*yaml.Node{}
	p.mapping(n, map[string]func(*yaml.Node){
		"source": func(v *yaml.Node) {
			srcNode = v
			r.Source = p.str(v)
			if r.Source != "" && !contains(sources, r.Source) {
				p.add(v, "unknown source %q (known: %s)", r.Source, strings.Join(sources, ", "))
			}
		},
		"provider": func(v *yaml.Node) { oidcOnly["provider"] = v; r.Provider = p.str(v) },
		"issuer":   func(v *yaml.Node) { oidcOnly["issuer"] = v; r.Issuer = p.str(v) },
		"audience": func(v *yaml.Node) { oidcOnly["audience"] = v; r.Audience = p.strs(v) },
		"username": func(v *yaml.Node) { r.Username = p.conds(v) },
		"claims": func(v *yaml.Node) {
			if v.Kind != yaml.MappingNode {
				p.add(v, "claims: want a mapping of claim name to condition")
				return
			}
			for i := 0; i+1 < len(v.Content); i += 2 {
				r.Claims = append(r.Claims, fieldCond{field: v.Content[i].Value, conds: p.conds(v.Content[i+1])})
			}
		},
		"cert": func(v *yaml.Node) {
			if v.Kind != yaml.MappingNode {
				p.add(v, "cert: want a mapping of certificate field to condition")
				return
			}
			for i := 0; i+1 < len(v.Content); i += 2 {
				k := v.Content[i]
				if !contains(CertFields, k.Value) {
					p.add(k, "unknown certificate field %q (known: %s)", k.Value, strings.Join(CertFields, ", "))
				}
				r.CertConds = append(r.CertConds, fieldCond{field: k.Value, conds: p.conds(v.Content[i+1])})
			}
		},
	}, "source", "provider", "issuer", "audience", "username", "claims", "cert")
	if r.Source != "" && r.Source != SourceOIDC {
		for k, v := range oidcOnly {
			p.add(v, "%s applies to source oidc only, not %s", k, r.Source)
		}
	}
	if len(r.CertConds) > 0 && r.Source != SourceTLS && srcNode != nil {
		p.add(srcNode, "cert conditions apply to source tls only, not %s", r.Source)
	}
}

// conds reads a condition: a plain value means equals; a mapping holds
// equals, contains and glob, all of which must hold.
func (p *parser) conds(n *yaml.Node) []cond {
	if n.Kind == yaml.ScalarNode {
		return []cond{{op: "equals", value: p.str(n)}}
	}
	var out []cond
	p.mapping(n, map[string]func(*yaml.Node){
		"equals":   func(v *yaml.Node) { out = append(out, cond{op: "equals", value: p.str(v)}) },
		"contains": func(v *yaml.Node) { out = append(out, cond{op: "contains", value: p.str(v)}) },
		"glob": func(v *yaml.Node) {
			g := p.str(v)
			out = append(out, cond{op: "glob", value: g, re: globRegexp(g)})
		},
	}, "equals", "contains", "glob")
	if n.Kind == yaml.MappingNode && len(out) == 0 {
		p.add(n, "give a condition: equals, contains or glob")
	}
	return out
}

// globRegexp compiles a glob: * matches any run of characters (dots
// included), ? one character, everything else itself.
func globRegexp(g string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^")
	for _, r := range g {
		switch r {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

func (p *parser) permissions(n *yaml.Node, r *Rule) {
	lists := func(dst *subjectLists, queue bool) func(*yaml.Node) {
		return func(v *yaml.Node) {
			p.mapping(v, map[string]func(*yaml.Node){
				"allow": func(l *yaml.Node) { dst.Allow = p.templates(l, queue) },
				"deny":  func(l *yaml.Node) { dst.Deny = p.templates(l, queue) },
			}, "allow", "deny")
		}
	}
	p.mapping(n, map[string]func(*yaml.Node){
		"pub": lists(&r.Pub, false),
		"sub": lists(&r.Sub, true),
		"resp": func(v *yaml.Node) {
			r.Resp = &jwt.ResponsePermission{MaxMsgs: 1}
			p.mapping(v, map[string]func(*yaml.Node){
				"max": func(m *yaml.Node) {
					n, err := strconv.Atoi(p.str(m))
					if err != nil || n < -1 || n == 0 {
						p.add(m, "resp.max: want a number of responses ≥ 1, or -1 for unlimited")
					}
					r.Resp.MaxMsgs = n
				},
				"ttl": func(m *yaml.Node) { r.Resp.Expires = p.duration(m) },
			}, "max", "ttl")
		},
	}, "pub", "sub", "resp")
}

func (p *parser) templates(n *yaml.Node, queue bool) []*subjectTemplate {
	var out []*subjectTemplate
	for _, item := range p.seq(n) {
		src := p.str(item)
		if src == "" {
			continue
		}
		t, err := parseSubjectTemplate(src, queue)
		if err != nil {
			p.add(item, "%v", err)
			continue
		}
		out = append(out, t)
	}
	return out
}

func (p *parser) limits(n *yaml.Node, r *Rule) {
	size := func(dst **int64, count bool) func(*yaml.Node) {
		return func(v *yaml.Node) {
			s := p.str(v)
			parse := units.ParseSize
			if count {
				parse = units.ParseCount
			}
			x, err := parse(s)
			if err != nil {
				p.add(v, "%v", err)
				return
			}
			*dst = &x
		}
	}
	p.mapping(n, map[string]func(*yaml.Node){
		"subs":    size(&r.Subs, true),
		"data":    size(&r.Data, false),
		"payload": size(&r.Payload, false),
		"src": func(v *yaml.Node) {
			for _, s := range p.strs(v) {
				if _, _, err := net.ParseCIDR(s); err != nil {
					p.add(v, "src %q is not a CIDR network such as 10.0.0.0/8", s)
				}
				r.Src = append(r.Src, s)
			}
		},
		"conn_types": func(v *yaml.Node) {
			for _, s := range p.strs(v) {
				if !contains(connTypes, strings.ToUpper(s)) {
					p.add(v, "unknown connection type %q (known: %s)", s, strings.Join(connTypes, ", "))
				}
				r.ConnTypes = append(r.ConnTypes, strings.ToUpper(s))
			}
		},
	}, "subs", "data", "payload", "src", "conn_types")
}

// crossCheck finds problems that span sections: duplicate names, rules
// naming unknown providers, rules whose source has no provider.
func (p *parser) crossCheck(rs *Rules) {
	names := map[string]int{}
	issuers := map[string]bool{}
	for _, pr := range rs.Providers {
		if l, ok := names[pr.Name]; ok && pr.Name != "" {
			p.problems = append(p.problems, Problem{Line: pr.Line, Msg: fmt.Sprintf("provider %s is defined twice (first on line %d)", pr.Name, l)})
		}
		names[pr.Name] = pr.Line
		if issuers[pr.Issuer] && pr.Issuer != "" {
			p.problems = append(p.problems, Problem{Line: pr.Line, Msg: fmt.Sprintf("issuer %s is given by two providers", pr.Issuer)})
		}
		issuers[pr.Issuer] = true
	}
	ruleNames := map[string]int{}
	for _, r := range rs.Rules {
		if l, ok := ruleNames[r.Name]; ok {
			p.problems = append(p.problems, Problem{Line: r.Line, Column: r.Col, Msg: fmt.Sprintf("rule %s is defined twice (first on line %d)", r.Name, l)})
		}
		ruleNames[r.Name] = r.Line
		if r.Source == SourceOIDC && len(rs.Providers) == 0 {
			p.problems = append(p.problems, Problem{Line: r.Line, Column: r.Col, Msg: fmt.Sprintf("rule %s: source oidc needs a provider under providers:", r.Name)})
		}
		if _, ok := names[r.Provider]; r.Provider != "" && !ok {
			p.problems = append(p.problems, Problem{Line: r.Line, Column: r.Col, Msg: fmt.Sprintf("rule %s: no provider named %q", r.Name, r.Provider)})
		}
		if r.Issuer != "" && !issuers[r.Issuer] {
			p.problems = append(p.problems, Problem{Line: r.Line, Column: r.Col, Msg: fmt.Sprintf("rule %s: issuer %s is not one of the providers'", r.Name, r.Issuer)})
		}
		if r.Account != "" && authority.CheckName("account", r.Account) != nil {
			p.problems = append(p.problems, Problem{Line: r.Line, Column: r.Col, Msg: fmt.Sprintf("rule %s: %q is not an account name or public key", r.Name, r.Account)})
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Provider returns the provider named name, or nil.
func (rs *Rules) Provider(name string) *Provider {
	for _, p := range rs.Providers {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// ProviderByIssuer returns the provider whose issuer is iss, or nil.
func (rs *Rules) ProviderByIssuer(iss string) *Provider {
	for _, p := range rs.Providers {
		if p.Issuer == iss {
			return p
		}
	}
	return nil
}

// Sources lists the identity sources the rules name, in rule order.
func (rs *Rules) Sources() []string {
	var out []string
	for _, r := range rs.Rules {
		if !contains(out, r.Source) {
			out = append(out, r.Source)
		}
	}
	return out
}
