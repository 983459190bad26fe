package callout

import (
	"errors"
	"strings"
	"testing"
	"time"
)

const goodRules = `
ttl: 30m
providers:
  - name: corp
    issuer: https://idp.example.com
    audiences: [nats]
    username_claim: preferred_username
rules:
  - name: admins
    match:
      source: oidc
      provider: corp
      claims:
        groups: {contains: admins}
    account: APP
    permissions:
      pub: {allow: [">"]}
      sub: {allow: [">"]}
  - name: orders
    match:
      source: oidc
      audience: nats
      claims:
        email: {glob: "*@example.com"}
        email_verified: true
    account: APP
    permissions:
      pub:
        allow: ["orders.{{ .Claims.sub }}.>", "teams.{{ index .Claims.groups 0 }}.>"]
        deny: ["orders.{{ .Claims.sub }}.delete"]
      sub:
        allow: ["_INBOX.>", "orders.{{ .Claims.sub }}.> workers"]
      resp: {max: 1, ttl: 5s}
    limits: {subs: 100, payload: 1MB, src: [127.0.0.0/8]}
    ttl: 10m
  - name: services
    match:
      source: password
      username: {glob: "svc-*"}
      claims: {groups: {contains: services}}
    account: APP
    permissions:
      pub: {allow: ["svc.{{ .Username }}.>"]}
  - name: devices
    match:
      source: tls
      cert: {ou: devices, cn: {glob: "dev-*"}}
    account: DEVICES
    permissions:
      pub: {allow: ["telemetry.{{ .Cert.CommonName }}"]}
`

func mustRules(t *testing.T, src string) *Rules {
	t.Helper()
	rs, err := ParseRules("rules.yaml", []byte(src))
	if err != nil {
		t.Fatalf("ParseRules: %v", err)
	}
	return rs
}

func oidcIdentity(claims map[string]any) *Identity {
	sub, _ := claims["sub"].(string)
	return &Identity{Source: SourceOIDC, Provider: "corp", Issuer: "https://idp.example.com", Subject: sub,
		Audience: []string{"nats"}, Username: sub, Claims: claims}
}

func only(source string, id *Identity) IdentityFunc {
	return func(s string) (*Identity, *Failure) {
		if s == source {
			return id, nil
		}
		return nil, noCredentials("none given")
	}
}

func TestRulesDecide(t *testing.T) {
	rs := mustRules(t, goodRules)
	if rs.TTL != 30*time.Minute || len(rs.Rules) != 4 || rs.Providers[0].UsernameClaim != "preferred_username" {
		t.Fatalf("parsed %+v", rs)
	}
	cases := []struct {
		name     string
		get      IdentityFunc
		rule     string
		reason   string
		pubAllow string
		subAllow string
		pubDeny  string
	}{
		{name: "admin", get: only(SourceOIDC, oidcIdentity(map[string]any{"sub": "ann", "groups": []any{"admins"}})),
			rule: "admins", reason: ReasonOK, pubAllow: ">", subAllow: ">"},
		{name: "orders templates", get: only(SourceOIDC, oidcIdentity(map[string]any{"sub": "u42", "email": "u42@example.com",
			"email_verified": true, "groups": []any{"blue", "red"}})),
			rule: "orders", reason: ReasonOK, pubAllow: "orders.u42.>,teams.blue.>", subAllow: "_INBOX.>,orders.u42.> workers",
			pubDeny: "orders.u42.delete"},
		{name: "email unverified", get: only(SourceOIDC, oidcIdentity(map[string]any{"sub": "u42", "email": "u42@example.com",
			"email_verified": false, "groups": []any{"blue"}})), reason: ReasonNoMatch},
		{name: "wildcard in claim refused", get: only(SourceOIDC, oidcIdentity(map[string]any{"sub": "*", "email": "x@example.com",
			"email_verified": true, "groups": []any{"blue"}})), rule: "orders", reason: ReasonTemplate},
		{name: "dot in claim refused", get: only(SourceOIDC, oidcIdentity(map[string]any{"sub": "a.b", "email": "x@example.com",
			"email_verified": true, "groups": []any{"blue"}})), rule: "orders", reason: ReasonTemplate},
		{name: "no groups: index fails closed", get: only(SourceOIDC, oidcIdentity(map[string]any{"sub": "u1", "email": "x@example.com",
			"email_verified": true, "groups": []any{}})), rule: "orders", reason: ReasonTemplate},
		{name: "password service", get: only(SourcePassword, &Identity{Source: SourcePassword, Subject: "svc-a", Username: "svc-a",
			Claims: map[string]any{"sub": "svc-a", "groups": []any{"services"}}}), rule: "services", reason: ReasonOK, pubAllow: "svc.svc-a.>"},
		{name: "password not a service", get: only(SourcePassword, &Identity{Source: SourcePassword, Subject: "bob", Username: "bob",
			Claims: map[string]any{"sub": "bob", "groups": []any{"services"}}}), reason: ReasonNoMatch},
		{name: "bad token wins over no match", get: func(s string) (*Identity, *Failure) {
			if s == SourceOIDC {
				return nil, &Failure{Reason: ReasonExpired, Detail: "token expired"}
			}
			return nil, noCredentials("none")
		}, reason: ReasonExpired},
		{name: "nothing", get: only("none", nil), reason: ReasonNoCredentials},
	}
	for _, c := range cases {
		d := rs.Decide(c.get)
		if d.Reason != c.reason || d.Rule != c.rule {
			t.Errorf("%s: reason %s rule %q (%s), want %s rule %q", c.name, d.Reason, d.Rule, d.Detail, c.reason, c.rule)
			continue
		}
		if d.Allowed != (c.reason == ReasonOK) {
			t.Errorf("%s: allowed = %v", c.name, d.Allowed)
		}
		if !d.Allowed {
			continue
		}
		p := d.Grant.Permissions
		for _, l := range []struct {
			got  []string
			want string
		}{
			{p.Pub.Allow, c.pubAllow}, {p.Sub.Allow, c.subAllow}, {p.Pub.Deny, c.pubDeny},
		} {
			if g := strings.Join(l.got, ","); g != l.want {
				t.Errorf("%s: permission %q, want %q", c.name, g, l.want)
			}
		}
	}
	d := rs.Decide(only(SourceOIDC, oidcIdentity(map[string]any{"sub": "u42", "email": "u42@example.com",
		"email_verified": true, "groups": []any{"blue"}})))
	if g := d.Grant; g.TTL != 10*time.Minute || g.Limits.Subs != 100 || g.Limits.Payload != 1000000 || g.Limits.Data != -1 ||
		g.Permissions.Resp == nil || g.Permissions.Resp.Expires != 5*time.Second || len(g.Limits.Src) != 1 {
		t.Errorf("grant limits %+v resp %+v", g.Limits, g.Permissions.Resp)
	}
	if len(d.Steps) != 2 || d.Steps[0].Matched || !strings.Contains(d.Steps[0].Why, "groups") || !d.Steps[1].Matched {
		t.Errorf("steps %+v", d.Steps)
	}
}

// An issued user expires with the token or certificate it was issued on
// when that comes before the rule's TTL; an expired one gets nothing.
func TestGrantTTLCappedAtIdentityExpiry(t *testing.T) {
	rs := mustRules(t, goodRules)
	claims := map[string]any{"sub": "u42", "email": "u42@example.com", "email_verified": true, "groups": []any{"blue"}}
	for _, tc := range []struct {
		name    string
		expires time.Time
		lo, hi  time.Duration // the grant's TTL, or 0, 0 for a refusal
	}{
		{"no expiry", time.Time{}, 10 * time.Minute, 10 * time.Minute},
		{"expires after the TTL", time.Now().Add(time.Hour), 10 * time.Minute, 10 * time.Minute},
		{"expires before the TTL", time.Now().Add(5 * time.Minute), 4*time.Minute + 50*time.Second, 5 * time.Minute},
		{"expired", time.Now().Add(-time.Second), 0, 0},
	} {
		id := oidcIdentity(claims)
		id.Expires = tc.expires
		d := rs.Decide(only(SourceOIDC, id))
		switch {
		case tc.hi == 0 && (d.Allowed || !strings.Contains(d.Detail, "expired")):
			t.Errorf("%s: allowed %v (%s %s), want a refusal", tc.name, d.Allowed, d.Reason, d.Detail)
		case tc.hi != 0 && (!d.Allowed || d.Grant.TTL < tc.lo || d.Grant.TTL > tc.hi):
			t.Errorf("%s: allowed %v, %+v, want a TTL in [%s, %s]", tc.name, d.Allowed, d.Grant, tc.lo, tc.hi)
		}
	}
}

func TestRulesTLS(t *testing.T) {
	rs := mustRules(t, goodRules)
	id := &Identity{Source: SourceTLS, Subject: "CN=dev-7,OU=devices,O=Acme", Username: "dev-7",
		Cert: &Cert{Subject: "CN=dev-7,OU=devices,O=Acme", CommonName: "dev-7", OrganizationalUnit: []string{"devices"}}}
	d := rs.Decide(only(SourceTLS, id))
	if !d.Allowed || d.Rule != "devices" || d.Grant.Account != "DEVICES" || d.Grant.Permissions.Pub.Allow[0] != "telemetry.dev-7" {
		t.Fatalf("decision %+v", d)
	}
	id.Cert.OrganizationalUnit = []string{"laptops"}
	if d := rs.Decide(only(SourceTLS, id)); d.Allowed || d.Reason != ReasonNoMatch {
		t.Errorf("laptop cert: %+v", d)
	}
}

func TestRulesRefusedWholeWithLineAndColumn(t *testing.T) {
	cases := []struct {
		name string
		src  string
		want []string // "line:col: text"
	}{
		{"syntax", "rules:\n  - name: a\n    match: {source: [x\n", []string{"rules.yaml:2: did not find expected"}},
		{"unknown key", "rules:\n  - name: a\n    mach: {source: oidc}\n", []string{"rules.yaml:3:5: unknown key \"mach\""}},
		{"many problems", `providers:
  - name: corp
    issuer: http://idp.example.com
rules:
  - name: a
    match: {source: ldap}
    account: APP
  - name: b
    match: {source: password, provider: corp}
    account: APP
    permissions:
      pub: {allow: ["orders.{{ .Claims.sub ", "orders..x", "a.>.b"]}
    limits: {payload: 1XB, src: [nonsense]}
    ttl: soon
`, []string{
			"rules.yaml:2:5: provider corp: issuer", "rules.yaml:2:5: provider corp: give the audiences",
			"rules.yaml:6:21: unknown source \"ldap\"",
			"rules.yaml:9:41: provider applies to source oidc only",
			"rules.yaml:12:21: template \"orders.{{ .Claims.sub \"",
			"rules.yaml:12:47: subject \"orders..x\" has an empty token",
			"rules.yaml:12:60: subject \"a.>.b\"",
			"rules.yaml:13:23: invalid value: size \"1XB\"", "rules.yaml:13:33: src \"nonsense\"",
			"rules.yaml:14:10: \"soon\" is not a positive duration",
		}},
		{"no rules", "ttl: 1h\n", []string{"no rules"}},
		{"empty", "", []string{"empty"}},
		{"unknown provider", "rules:\n  - match: {source: oidc, provider: x}\n    account: A\n", []string{"source oidc needs a provider", "no provider named \"x\""}},
		{"range refused", "rules:\n  - match: {source: password}\n    account: A\n    permissions: {pub: {allow: [\"a.{{ range .Claims.groups }}x{{ end }}\"]}}\n",
			[]string{"range is not allowed"}},
	}
	for _, c := range cases {
		_, err := ParseRules("rules.yaml", []byte(c.src))
		if !errors.Is(err, ErrRules) {
			t.Errorf("%s: err = %v, want ErrRules", c.name, err)
			continue
		}
		var re *RulesError
		if !errors.As(err, &re) {
			t.Fatalf("%s: not a *RulesError", c.name)
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error does not contain %q:\n%v", c.name, w, err)
			}
		}
	}
}

func TestSubjectTokenGuard(t *testing.T) {
	st, err := parseSubjectTemplate(`x.{{ .Claims.email | replace "." "_" | lower }}.>`, false)
	if err != nil {
		t.Fatal(err)
	}
	got, err := st.render(&Identity{Claims: map[string]any{"email": "Ann.Lee@Example.COM"}})
	if err != nil || got != "x.ann_lee@example_com.>" {
		t.Errorf("render = %q, %v", got, err)
	}
	for _, bad := range []any{"", "a b", ">", "a*", "a_b\n", []any{"x"}, map[string]any{}} {
		if _, err := st.render(&Identity{Claims: map[string]any{"email": bad}}); err == nil {
			t.Errorf("value %#v accepted", bad)
		}
	}
	if _, err := st.render(&Identity{Claims: map[string]any{}}); err == nil || !strings.Contains(err.Error(), "email") {
		t.Errorf("missing claim: %v", err)
	}
	// A conditional still passes its output through the guard.
	st, err = parseSubjectTemplate(`x.{{ if .Claims.admin }}{{ .Claims.sub }}{{ else }}guest{{ end }}`, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.render(&Identity{Claims: map[string]any{"admin": true, "sub": ">"}}); err == nil {
		t.Error("wildcard through if accepted")
	}
	if got, _ := st.render(&Identity{Claims: map[string]any{"admin": false}}); got != "x.guest" {
		t.Errorf("else branch = %q", got)
	}
}

func FuzzParseRules(f *testing.F) {
	f.Add([]byte(goodRules))
	f.Add([]byte("rules: [{match: {source: oidc}}]"))
	f.Fuzz(func(t *testing.T, b []byte) {
		rs, err := ParseRules("f.yaml", b)
		if err == nil && len(rs.Rules) == 0 {
			t.Fatal("accepted a file without rules")
		}
		if err != nil && !errors.Is(err, ErrRules) {
			t.Fatalf("error %v is not ErrRules", err)
		}
	})
}
