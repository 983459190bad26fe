// Package trust decides whether an account JWT may be stored: the single
// validation that every write path (CLI, HTTP POST, NATS push, store copy)
// goes through.
package trust

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
)

// MaxJWTSize is the largest account JWT accepted by any write path (1 MiB).
const MaxJWTSize = 1 << 20

// ErrInvalid is wrapped by every validation failure.
var ErrInvalid = errors.New("trust: invalid account jwt")

// ValidationError lists every problem found with one account JWT.
type ValidationError struct {
	Account  string
	Problems []string
}

func (e *ValidationError) Error() string {
	return fmt.Sprintf("account %s: %s", e.Account, strings.Join(e.Problems, "; "))
}

// Unwrap lets errors.Is(err, ErrInvalid) match.
func (e *ValidationError) Unwrap() error { return ErrInvalid }

// DefaultClockSkew is how far in the future (by its iat) an account JWT
// may have been issued and still be accepted. Stores keep the newest JWT
// by iat, so one issued in the future would block every later write of the
// account until that time: such JWTs are refused. Two minutes covers
// clocks kept by NTP; Policy.WithClockSkew changes it.
const DefaultClockSkew = 2 * time.Minute

// NoClockCheck as a clock skew turns the future-iat check off, for callers
// that re-check JWTs already stored (applying them must not depend on this
// host's clock).
const NoClockCheck time.Duration = -1

// Policy is the set of keys trusted to sign account JWTs, and the clock
// skew allowed for their iat.
type Policy struct {
	operators   map[string]bool // operator identity keys
	signingKeys map[string]bool // operator signing keys
	strict      bool            // operator requires signing keys
	system      string          // system account public key, if any
	skew        time.Duration   // 0: DefaultClockSkew; NoClockCheck: off
	now         func() time.Time
}

// WithClockSkew returns a copy of p that accepts account JWTs issued up to
// d in the future (0 for DefaultClockSkew, NoClockCheck for no limit).
func (p *Policy) WithClockSkew(d time.Duration) *Policy {
	if p == nil {
		return nil
	}
	c := *p
	c.skew = d
	return &c
}

// WithClock returns a copy of p that reads the time from now (tests).
func (p *Policy) WithClock(now func() time.Time) *Policy {
	if p == nil {
		return nil
	}
	c := *p
	c.now = now
	return &c
}

// ClockSkew returns the allowed clock skew (NoClockCheck when off).
func (p *Policy) ClockSkew() time.Duration {
	if p == nil || p.skew == 0 {
		return DefaultClockSkew
	}
	if p.skew < 0 {
		return NoClockCheck
	}
	return p.skew
}

// checkIssuedAt reports a JWT issued further in the future than the skew.
func (p *Policy) checkIssuedAt(iat int64, add func(format string, args ...any)) {
	skew := p.ClockSkew()
	if skew < 0 || iat == 0 {
		return
	}
	now := time.Now
	if p != nil && p.now != nil {
		now = p.now
	}
	t := now()
	if limit := t.Add(skew).Unix(); iat > limit {
		add("jwt is issued at %s, %s in the future, more than the %s of clock skew allowed: "+
			"check the signer's clock and sign it again (stored, it would block every later change of the account)",
			time.Unix(iat, 0).UTC().Format(time.RFC3339), ahead(iat-t.Unix()), skew)
	}
}

// ahead renders a number of seconds in the future without overflowing a
// time.Duration (a JWT may claim the year 3000).
func ahead(secs int64) string {
	if secs > 2*24*3600 {
		return fmt.Sprintf("%d days", secs/(24*3600))
	}
	return (time.Duration(secs) * time.Second).String()
}

// FromOperators builds a policy from one or more decoded operator claims.
func FromOperators(ops ...*jwt.OperatorClaims) *Policy {
	p := &Policy{operators: map[string]bool{}, signingKeys: map[string]bool{}}
	for _, op := range ops {
		if op == nil {
			continue
		}
		p.operators[op.Subject] = true
		for _, k := range op.SigningKeys {
			p.signingKeys[k] = true
		}
		if op.StrictSigningKeyUsage {
			p.strict = true
		}
		if p.system == "" {
			p.system = op.SystemAccount
		}
	}
	return p
}

// FromOperatorJWTs decodes operator JWTs and builds a policy from them.
func FromOperatorJWTs(tokens ...string) (*Policy, error) {
	var ops []*jwt.OperatorClaims
	for _, t := range tokens {
		op, err := jwt.DecodeOperatorClaims(strings.TrimSpace(t))
		if err != nil {
			return nil, fmt.Errorf("decode operator jwt: %w", err)
		}
		ops = append(ops, op)
	}
	if len(ops) == 0 {
		return nil, errors.New("no operator jwt given")
	}
	return FromOperators(ops...), nil
}

// SystemAccount returns the system account named by the (first) operator.
func (p *Policy) SystemAccount() string {
	if p == nil {
		return ""
	}
	return p.system
}

// Operators returns the trusted operator identity keys.
func (p *Policy) Operators() []string {
	var out []string
	for k := range p.operators {
		out = append(out, k)
	}
	return out
}

// Trusted reports whether key may sign account JWTs.
func (p *Policy) Trusted(key string) bool {
	if p == nil {
		return false
	}
	if p.signingKeys[key] {
		return true
	}
	return p.operators[key] && !p.strict
}

// IsOperatorKey reports whether key is an operator identity or signing key.
// Operator-signed requests (such as claim deletes) are checked with it.
func (p *Policy) IsOperatorKey(key string) bool {
	return p != nil && (p.operators[key] || p.signingKeys[key])
}

// CheckAccountKey reports whether key is a well-formed account public key.
// It is called before a key is used to build a path or a query.
func CheckAccountKey(key string) error {
	if !nkeys.IsValidPublicAccountKey(key) {
		return &ValidationError{Account: printable(key), Problems: []string{"not an account public key"}}
	}
	return nil
}

// CheckAccount validates token as the account JWT to be stored under key.
// It reports every problem at once and returns the decoded claims on success.
func (p *Policy) CheckAccount(key, token string) (*jwt.AccountClaims, error) {
	verr := &ValidationError{Account: printable(key)}
	add := func(format string, args ...any) { verr.Problems = append(verr.Problems, fmt.Sprintf(format, args...)) }
	if !nkeys.IsValidPublicAccountKey(key) {
		add("not an account public key")
	}
	if len(token) > MaxJWTSize {
		add("jwt is %d bytes, over the %d byte limit", len(token), MaxJWTSize)
		return nil, verr
	}
	token = strings.TrimSpace(token)
	if token == "" {
		add("jwt is empty")
		return nil, verr
	}
	ac, err := jwt.DecodeAccountClaims(token)
	if err != nil {
		add("jwt does not decode as account claims: %v", err)
		return nil, verr
	}
	if ac.Subject != key {
		add("jwt subject %s does not match key %s", ac.Subject, printable(key))
	}
	switch {
	case ac.Issuer == ac.Subject:
		add("jwt is self-signed by the account; it must be signed by the operator")
	case p == nil:
		add("no trusted operator is configured")
	case p.operators[ac.Issuer] && p.strict && !p.signingKeys[ac.Issuer]:
		add("operator requires signing keys but jwt is signed by the operator identity key %s", ac.Issuer)
	case !p.Trusted(ac.Issuer):
		add("issuer %s is not the trusted operator or one of its signing keys", ac.Issuer)
	}
	p.checkIssuedAt(ac.IssuedAt, add)
	vr := jwt.CreateValidationResults()
	ac.Validate(vr)
	for _, issue := range vr.Issues {
		if issue.Blocking || issue.TimeCheck {
			add("%s", issue.Description)
		}
	}
	if len(verr.Problems) > 0 {
		return nil, verr
	}
	return ac, nil
}

// printable shortens and quotes an untrusted key for use in messages, so
// control characters or huge inputs never reach a log line verbatim.
func printable(key string) string {
	const max = 64
	if len(key) > max {
		key = key[:max] + "..."
	}
	q := strconv.Quote(key)
	return q[1 : len(q)-1]
}

// LoadOperator reads an operator JWT given inline or as the path of a file
// holding one (plain or decorated, as nsc writes it), and returns it with
// the policy it makes.
func LoadOperator(spec string) (string, *Policy, error) {
	tok := strings.TrimSpace(spec)
	if !(strings.HasPrefix(tok, "eyJ") && strings.Count(tok, ".") == 2 && !strings.ContainsAny(tok, "/\\ ")) {
		raw, err := os.ReadFile(spec)
		if err != nil {
			return "", nil, fmt.Errorf("read operator jwt: %w", err)
		}
		if tok, err = jwt.ParseDecoratedJWT(raw); err != nil {
			return "", nil, fmt.Errorf("read operator jwt %s: %w", spec, err)
		}
		tok = strings.TrimSpace(tok)
	}
	p, err := FromOperatorJWTs(tok)
	if err != nil {
		return "", nil, fmt.Errorf("operator jwt: %w", err)
	}
	return tok, p, nil
}
