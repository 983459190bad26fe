package callout

import (
	"fmt"
	"time"
)

// Reasons of a decision: the "reason" label of
// natsauth_callout_decisions_total and the word logged with a refusal.
const (
	ReasonOK                  = "ok"                        // allowed
	ReasonNoCredentials       = "no_credentials"            // nothing any rule's source could use
	ReasonInvalidToken        = "invalid_token"             // not a signed JWT, or a bad signature
	ReasonExpired             = "expired"                   // the token has expired
	ReasonNotYetValid         = "not_yet_valid"             // the token's nbf is in the future
	ReasonWrongAudience       = "wrong_audience"            // the token is for another client
	ReasonUnknownIssuer       = "unknown_issuer"            // no provider has the token's issuer
	ReasonProviderUnavailable = "provider_unavailable"      // the provider's discovery or keys could not be fetched
	ReasonBadPassword         = "bad_password"              // unknown user or wrong password
	ReasonDisabledUser        = "disabled_user"             // a disabled password user
	ReasonBadCertificate      = "bad_certificate"           // the verified client certificate could not be read
	ReasonNoMatch             = "no_match"                  // an identity, but no rule matched it
	ReasonTemplate            = "template"                  // the matching rule's template refused the identity
	ReasonAccountNotAllowed   = "account_not_allowed"       // the rule's account is not an allowed account of the callout
	ReasonUnknownAccount      = "unknown_account"           // the rule's account is not in the home, or its key is missing
	ReasonThrottled           = "throttled"                 // too many failures from the client's address
	ReasonBadRequest          = "bad_request"               // the server's request could not be read
	ReasonInternal            = "internal"                  // signing or encoding failed
	ReasonUnavailableDatabase = "user_database_unavailable" // the password user database failed
)

// Reasons lists every reason.
var Reasons = []string{ReasonOK, ReasonNoCredentials, ReasonInvalidToken, ReasonExpired, ReasonNotYetValid,
	ReasonWrongAudience, ReasonUnknownIssuer, ReasonProviderUnavailable, ReasonBadPassword, ReasonDisabledUser,
	ReasonBadCertificate, ReasonNoMatch, ReasonTemplate, ReasonAccountNotAllowed, ReasonUnknownAccount,
	ReasonThrottled, ReasonBadRequest, ReasonInternal, ReasonUnavailableDatabase}

// Failure says why an identity source gave no identity. Detail never
// holds a token, a password or a hash.
type Failure struct {
	Reason string
	Detail string
}

// Error says the reason and the detail.
func (f *Failure) Error() string { return f.Reason + ": " + f.Detail }

// noCredentials is the failure of a source that found nothing to check.
func noCredentials(detail string) *Failure {
	return &Failure{Reason: ReasonNoCredentials, Detail: detail}
}

// IdentityFunc proves the identity of one source for the connect being
// decided; it is called at most once per source.
type IdentityFunc func(source string) (*Identity, *Failure)

// Step is one rule tried, for explanations.
type Step struct {
	Rule    string `json:"rule"`
	Line    int    `json:"line"`
	Matched bool   `json:"matched"`
	Why     string `json:"why,omitempty"`
}

// Decision is the outcome for one connect.
type Decision struct {
	Allowed  bool
	Reason   string
	Detail   string
	Rule     string
	Identity *Identity
	Grant    *Grant
	Steps    []Step
}

// Decide tries the rules in order. Each rule's source is proven once,
// when the first rule naming it is reached; the first rule that matches
// decides. With no match the decision is a refusal whose reason is the
// first source failure met (a bad token says more than "no match").
func (rs *Rules) Decide(get IdentityFunc) *Decision {
	d := &Decision{}
	ids := map[string]*Identity{}
	fails := map[string]*Failure{}
	var firstFail *Failure
	anyIdentity := false
	for _, r := range rs.Rules {
		id, done := ids[r.Source]
		if !done {
			if _, failed := fails[r.Source]; !failed {
				var f *Failure
				id, f = get(r.Source)
				if f != nil {
					fails[r.Source] = f
					if firstFail == nil || firstFail.Reason == ReasonNoCredentials && f.Reason != ReasonNoCredentials {
						firstFail = f
					}
				} else {
					ids[r.Source] = id
				}
			}
		}
		if f := fails[r.Source]; f != nil {
			d.Steps = append(d.Steps, Step{Rule: r.Name, Line: r.Line, Why: fmt.Sprintf("no %s identity: %s (%s)", r.Source, f.Reason, f.Detail)})
			continue
		}
		anyIdentity = true
		m := r.match(id)
		if !m.ok {
			d.Steps = append(d.Steps, Step{Rule: r.Name, Line: r.Line, Why: m.why})
			continue
		}
		d.Steps = append(d.Steps, Step{Rule: r.Name, Line: r.Line, Matched: true})
		d.Rule, d.Identity = r.Name, id
		g, err := r.grant(id, rs.TTL)
		if err != nil {
			d.Reason, d.Detail = ReasonTemplate, err.Error()
			return d
		}
		d.Allowed, d.Reason, d.Grant = true, ReasonOK, g
		return d
	}
	switch {
	case firstFail != nil && (!anyIdentity || firstFail.Reason != ReasonNoCredentials):
		d.Reason, d.Detail = firstFail.Reason, firstFail.Detail
	case anyIdentity:
		d.Reason, d.Detail = ReasonNoMatch, "no rule matched the identity"
		for _, id := range ids {
			d.Identity = id
		}
	default:
		d.Reason, d.Detail = ReasonNoCredentials, "no credentials for any rule's source"
	}
	return d
}

// ttlFor is the lifetime of a user issued from a grant.
func ttlFor(g *Grant) time.Duration {
	if g.TTL <= 0 {
		return DefaultTTL
	}
	return g.TTL
}
