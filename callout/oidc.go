package callout

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// oidcVerifiers verifies tokens of the rules' providers. Each provider's
// discovery document is fetched on first use (and again after a failure,
// at most every retryAfter); its key set is go-oidc's RemoteKeySet, which
// fetches the keys again when a token names a key it does not know, so a
// provider's key rotation is followed without a restart.
type oidcVerifiers struct {
	mu      sync.Mutex
	byIss   map[string]*oidcVerifier
	timeout time.Duration
	now     func() time.Time
}

type oidcVerifier struct {
	cfg        *Provider
	mu         sync.Mutex
	verifier   *oidc.IDTokenVerifier
	client     *http.Client
	lastFail   time.Time
	lastErr    error
	retryAfter time.Duration
}

// nbfLeeway is the clock skew allowed on a token's not-before time.
const nbfLeeway = 30 * time.Second

func newOIDCVerifiers(now func() time.Time) *oidcVerifiers {
	return &oidcVerifiers{byIss: map[string]*oidcVerifier{}, timeout: 10 * time.Second, now: now}
}

// update follows the providers of new rules: unchanged providers keep
// their discovered state and cached keys.
func (o *oidcVerifiers) update(providers []*Provider) error {
	next := map[string]*oidcVerifier{}
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, p := range providers {
		if v, ok := o.byIss[p.Issuer]; ok && sameProvider(v.cfg, p) {
			next[p.Issuer] = v
			continue
		}
		client, err := httpClient(p.CAFile)
		if err != nil {
			return fmt.Errorf("provider %s: %w", p.Name, err)
		}
		next[p.Issuer] = &oidcVerifier{cfg: p, client: client, retryAfter: 5 * time.Second}
	}
	o.byIss = next
	return nil
}

func sameProvider(a, b *Provider) bool {
	return a.Name == b.Name && a.Issuer == b.Issuer && a.CAFile == b.CAFile && a.UsernameClaim == b.UsernameClaim &&
		slices.Equal(a.Audiences, b.Audiences)
}

// httpClient trusts the system roots plus caFile, if given.
func httpClient(caFile string) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("read ca_file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file %s holds no PEM certificate", caFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}, nil
}

// unverifiedIssuer reads the iss claim of a JWT without checking it, only
// to pick the provider whose keys will check it.
func unverifiedIssuer(token string) (string, bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", false
	}
	var c struct {
		Iss string `json:"iss"`
	}
	if json.Unmarshal(payload, &c) != nil {
		return "", false
	}
	return c.Iss, c.Iss != ""
}

// verify proves an OIDC identity from a bearer token.
func (o *oidcVerifiers) verify(ctx context.Context, token string) (*Identity, *Failure) {
	if token == "" {
		return nil, noCredentials("no connect token")
	}
	iss, ok := unverifiedIssuer(token)
	if !ok {
		return nil, &Failure{Reason: ReasonInvalidToken, Detail: "the connect token is not a JWT"}
	}
	o.mu.Lock()
	v := o.byIss[iss]
	o.mu.Unlock()
	if v == nil {
		return nil, &Failure{Reason: ReasonUnknownIssuer, Detail: fmt.Sprintf("no provider has the issuer %.200q", iss)}
	}
	return v.verify(ctx, token, o.now())
}

func (v *oidcVerifier) idTokenVerifier(ctx context.Context) (*oidc.IDTokenVerifier, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.verifier != nil {
		return v.verifier, nil
	}
	if !v.lastFail.IsZero() && time.Since(v.lastFail) < v.retryAfter {
		return nil, v.lastErr
	}
	// Discovery: GET <issuer>/.well-known/openid-configuration.
	dctx, cancel := context.WithTimeout(oidc.ClientContext(context.WithoutCancel(ctx), v.client), 10*time.Second)
	defer cancel()
	p, err := oidc.NewProvider(dctx, v.cfg.Issuer)
	if err != nil {
		v.lastFail, v.lastErr = time.Now(), err
		return nil, err
	}
	// The key set lives on: its fetches use the provider's client, not the
	// discovery's deadline.
	v.verifier = p.VerifierContext(oidc.ClientContext(context.Background(), v.client),
		&oidc.Config{SkipClientIDCheck: true})
	return v.verifier, nil
}

func (v *oidcVerifier) verify(ctx context.Context, token string, now time.Time) (*Identity, *Failure) {
	ver, err := v.idTokenVerifier(ctx)
	if err != nil {
		return nil, &Failure{Reason: ReasonProviderUnavailable, Detail: fmt.Sprintf("provider %s: discovery: %v", v.cfg.Name, err)}
	}
	tok, err := ver.Verify(ctx, token)
	if err != nil {
		var exp *oidc.TokenExpiredError
		switch {
		case errors.As(err, &exp):
			return nil, &Failure{Reason: ReasonExpired, Detail: fmt.Sprintf("provider %s: token expired at %s", v.cfg.Name, exp.Expiry.UTC().Format(time.RFC3339))}
		case strings.Contains(err.Error(), "before the nbf"):
			return nil, &Failure{Reason: ReasonNotYetValid, Detail: fmt.Sprintf("provider %s: token not valid yet", v.cfg.Name)}
		case strings.Contains(err.Error(), "fetching keys"):
			return nil, &Failure{Reason: ReasonProviderUnavailable, Detail: fmt.Sprintf("provider %s: %v", v.cfg.Name, err)}
		default:
			return nil, &Failure{Reason: ReasonInvalidToken, Detail: fmt.Sprintf("provider %s: %v", v.cfg.Name, err)}
		}
	}
	if !slices.ContainsFunc(tok.Audience, func(a string) bool { return slices.Contains(v.cfg.Audiences, a) }) {
		return nil, &Failure{Reason: ReasonWrongAudience, Detail: fmt.Sprintf("provider %s: audience %q is none of %q", v.cfg.Name, tok.Audience, v.cfg.Audiences)}
	}
	var claims map[string]any
	if err := tok.Claims(&claims); err != nil {
		return nil, &Failure{Reason: ReasonInvalidToken, Detail: fmt.Sprintf("provider %s: claims: %v", v.cfg.Name, err)}
	}
	if nbf, ok := claims["nbf"].(float64); ok && time.Unix(int64(nbf), 0).After(now.Add(nbfLeeway)) {
		return nil, &Failure{Reason: ReasonNotYetValid, Detail: fmt.Sprintf("provider %s: token not valid before %s", v.cfg.Name,
			time.Unix(int64(nbf), 0).UTC().Format(time.RFC3339))}
	}
	if tok.Expiry.IsZero() {
		return nil, &Failure{Reason: ReasonInvalidToken, Detail: fmt.Sprintf("provider %s: token has no expiry", v.cfg.Name)}
	}
	id := &Identity{Source: SourceOIDC, Provider: v.cfg.Name, Issuer: tok.Issuer, Subject: tok.Subject,
		Audience: tok.Audience, Claims: claims, Expires: tok.Expiry}
	if s, ok := claims[v.cfg.UsernameClaim].(string); ok && s != "" {
		id.Username = s
	} else {
		id.Username = tok.Subject
	}
	return id, nil
}
