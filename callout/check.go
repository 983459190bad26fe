package callout

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/natsauth/natsauth/callout/userdb"
)

// CheckInput is one would-be client for Check.
type CheckInput struct {
	// Token is an OIDC token sent as the connect token.
	Token string
	// NoVerify takes the token's claims as they are, without fetching the
	// provider's keys or checking signature, audience or times: to explain
	// rules offline. A real connect always verifies.
	NoVerify bool
	// Username and Password are a password user's; without Password the
	// user is looked up (groups) but its password not checked.
	Username, Password string
	// CertPEM is a client certificate (PEM), taken as verified.
	CertPEM []byte
}

// WriteNotes writes what a check of in leaves unchecked, for people: a
// token taken without verifying it, a password user without a password.
func (in CheckInput) WriteNotes(w io.Writer) {
	if in.NoVerify {
		fmt.Fprintln(w, "(token not verified: --no-verify)")
	}
	if in.Username != "" && in.Password == "" {
		fmt.Fprintln(w, "(password not checked: give --password-stdin to check it)")
	}
}

// Check decides for in as the gateway would, without NATS, and explains
// every rule tried. users may be nil when no rule uses passwords.
func Check(ctx context.Context, rs *Rules, in CheckInput, users *userdb.DB) (*Decision, error) {
	ov := newOIDCVerifiers(time.Now)
	if !in.NoVerify {
		if err := ov.update(rs.Providers); err != nil {
			return nil, err
		}
	}
	d := rs.Decide(func(source string) (*Identity, *Failure) {
		switch source {
		case SourceOIDC:
			if in.NoVerify && in.Token != "" {
				return unverifiedIdentity(rs, in.Token)
			}
			return ov.verify(ctx, in.Token)
		case SourcePassword:
			if in.Username == "" {
				return nil, noCredentials("no user given")
			}
			if users == nil {
				return &Identity{Source: SourcePassword, Subject: in.Username, Username: in.Username,
					Claims: map[string]any{"sub": in.Username, "name": in.Username, "groups": []any{}}}, nil
			}
			var u userdb.User
			var err error
			if in.Password != "" {
				u, err = users.Authenticate(ctx, in.Username, in.Password)
			} else {
				u, err = users.Get(ctx, in.Username)
				if err == nil && u.Disabled {
					err = userdb.ErrDisabled
				}
			}
			if err != nil {
				return nil, &Failure{Reason: ReasonBadPassword, Detail: err.Error()}
			}
			groups := make([]any, len(u.Groups))
			for i, g := range u.Groups {
				groups[i] = g
			}
			return &Identity{Source: SourcePassword, Subject: u.Name, Username: u.Name, Rev: u.Rev,
				Claims: map[string]any{"sub": u.Name, "name": u.Name, "groups": groups}}, nil
		case SourceTLS:
			if len(in.CertPEM) == 0 {
				return nil, noCredentials("no certificate given")
			}
			block, _ := pem.Decode(in.CertPEM)
			if block == nil {
				return nil, &Failure{Reason: ReasonBadCertificate, Detail: "not a PEM certificate"}
			}
			id, err := certIdentityFromDER(block.Bytes)
			if err != nil {
				return nil, &Failure{Reason: ReasonBadCertificate, Detail: err.Error()}
			}
			return id, nil
		}
		return nil, noCredentials("unknown source")
	})
	return d, nil
}

// unverifiedIdentity reads a token's claims without verifying them.
func unverifiedIdentity(rs *Rules, token string) (*Identity, *Failure) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, &Failure{Reason: ReasonInvalidToken, Detail: "not a JWT"}
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, &Failure{Reason: ReasonInvalidToken, Detail: "payload is not base64url"}
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		return nil, &Failure{Reason: ReasonInvalidToken, Detail: "payload is not JSON"}
	}
	iss, _ := claims["iss"].(string)
	p := rs.ProviderByIssuer(iss)
	if p == nil {
		return nil, &Failure{Reason: ReasonUnknownIssuer, Detail: fmt.Sprintf("no provider has the issuer %.200q", iss)}
	}
	id := &Identity{Source: SourceOIDC, Provider: p.Name, Issuer: iss, Claims: claims}
	id.Subject, _ = claims["sub"].(string)
	switch a := claims["aud"].(type) {
	case string:
		id.Audience = []string{a}
	case []any:
		for _, x := range a {
			if s, ok := x.(string); ok {
				id.Audience = append(id.Audience, s)
			}
		}
	}
	id.Username = id.Subject
	if s, ok := claims[p.UsernameClaim].(string); ok && s != "" {
		id.Username = s
	}
	return id, nil
}

// WriteText explains a decision for people: each rule tried and why it
// did or did not match, then the user that would be issued.
func (d *Decision) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, s := range d.Steps {
		res := "no"
		if s.Matched {
			res = "MATCH"
		}
		fmt.Fprintf(tw, "rule %s (line %d)\t%s\t%s\n", s.Rule, s.Line, res, s.Why)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if d.Identity != nil {
		fmt.Fprintf(w, "identity  %s (source %s, user %s)\n", d.Identity.Key(), d.Identity.Source, d.Identity.Username)
	}
	if !d.Allowed {
		_, err := fmt.Fprintf(w, "REFUSED   %s: %s\n", d.Reason, d.Detail)
		return err
	}
	g := d.Grant
	fmt.Fprintf(w, "ALLOWED   by rule %s: user %q in account %s for %s\n", g.Rule, g.Name, g.Account, g.TTL)
	p := g.Permissions
	for _, l := range []struct {
		name string
		v    []string
	}{{"pub allow", p.Pub.Allow}, {"pub deny", p.Pub.Deny}, {"sub allow", p.Sub.Allow}, {"sub deny", p.Sub.Deny}} {
		if len(l.v) > 0 {
			fmt.Fprintf(w, "  %-10s %s\n", l.name, strings.Join(l.v, ", "))
		}
	}
	if p.Resp != nil {
		fmt.Fprintf(w, "  responses  %d within %s\n", p.Resp.MaxMsgs, p.Resp.Expires)
	}
	return nil
}

// Report is the JSON form of a decision.
type Report struct {
	Allowed     bool           `json:"allowed"`
	Reason      string         `json:"reason"`
	Detail      string         `json:"detail,omitempty"`
	Rule        string         `json:"rule,omitempty"`
	Identity    string         `json:"identity,omitempty"`
	Claims      map[string]any `json:"claims,omitempty"`
	Account     string         `json:"account,omitempty"`
	User        string         `json:"user,omitempty"`
	TTL         string         `json:"ttl,omitempty"`
	Permissions any            `json:"permissions,omitempty"`
	Limits      any            `json:"limits,omitempty"`
	Steps       []Step         `json:"steps"`
}

// Report returns the decision's JSON form.
func (d *Decision) Report() Report {
	r := Report{Allowed: d.Allowed, Reason: d.Reason, Detail: d.Detail, Rule: d.Rule, Steps: d.Steps}
	if d.Identity != nil {
		r.Identity, r.Claims = d.Identity.Key(), d.Identity.Claims
	}
	if g := d.Grant; g != nil {
		r.Account, r.User, r.TTL, r.Permissions, r.Limits = g.Account, g.Name, g.TTL.String(), g.Permissions, g.Limits
	}
	return r
}
