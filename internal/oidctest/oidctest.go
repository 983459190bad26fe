// Package oidctest runs a real OpenID provider for tests: zitadel/oidc's
// provider implementation (package op, with its example in-memory storage)
// served over HTTPS on a loopback port, with discovery at
// /.well-known/openid-configuration, a JWKS endpoint and a token endpoint.
// Tests obtain tokens the way workloads do, with the OAuth 2.0
// client-credentials grant against the token endpoint found through
// discovery; the provider signs JWT access tokens carrying the claims a
// client was registered with. Its signing key can be rotated, and clients
// can be registered with a lifetime or a clock skew that yields expired or
// not-yet-valid tokens.
//
// Only tests import it: it keeps zitadel/oidc out of natsauth's binary.
package oidctest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"
)

// Client is a workload registered with the provider.
type Client struct {
	ID, Secret string
	// Subject is the token's sub (default: the client ID).
	Subject string
	// Audience is the token's aud (default: the client ID).
	Audience []string
	// Claims are added to the token (groups, email, ...).
	Claims map[string]any
	// Lifetime of its tokens (default 5 minutes).
	Lifetime time.Duration
	// Skew moves iat and nbf: a negative skew puts nbf in the future.
	Skew time.Duration
}

// Provider is a running OpenID provider.
type Provider struct {
	// Issuer is its issuer URL (https://127.0.0.1:PORT).
	Issuer string
	// CAFile is a PEM file with the CA of its HTTPS certificate.
	CAFile string
	// HTTPClient trusts its certificate.
	HTTPClient *http.Client

	srv     *httptest.Server
	storage *store
}

// Start runs a provider until the test ends.
func Start(t testing.TB) *Provider {
	t.Helper()
	st := &store{clients: map[string]*Client{}}
	if err := st.Rotate(false); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(nil)
	ts.StartTLS()
	issuer := ts.URL
	st.Storage = storage.NewStorage(storage.NewUserStore(issuer))
	key := sha256.Sum256([]byte("natsauth oidctest " + issuer))
	cfg := &op.Config{CryptoKey: key, CodeMethodS256: true, AuthMethodPost: true,
		SupportedUILocales: []language.Tag{language.English}}
	prov, err := op.NewProvider(cfg, st, op.StaticIssuer(issuer))
	if err != nil {
		ts.Close()
		t.Fatalf("oidctest: new provider: %v", err)
	}
	ts.Config.Handler = prov
	t.Cleanup(ts.Close)
	caFile := filepath.Join(t.TempDir(), "oidc-ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw})
	if err := os.WriteFile(caFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	return &Provider{Issuer: issuer, CAFile: caFile, HTTPClient: ts.Client(), srv: ts, storage: st}
}

// Register adds (or replaces) a workload client.
func (p *Provider) Register(c Client) {
	p.storage.mu.Lock()
	defer p.storage.mu.Unlock()
	cc := c
	p.storage.clients[c.ID] = &cc
}

// Rotate makes a new signing key current. With keepOld the previous key
// stays in the key set (a graceful rotation); without it, it is gone.
func (p *Provider) Rotate(keepOld bool) error { return p.storage.Rotate(keepOld) }

// KeyID is the id of the current signing key.
func (p *Provider) KeyID() string {
	p.storage.mu.Lock()
	defer p.storage.mu.Unlock()
	return p.storage.current.id
}

// Token obtains an access token for a registered client with the
// client-credentials grant, at the token endpoint named by the provider's
// discovery document.
func (p *Provider) Token(ctx context.Context, clientID, secret string) (string, error) {
	disc, err := p.get(ctx, p.Issuer+oidc.DiscoveryEndpoint)
	if err != nil {
		return "", err
	}
	var d struct {
		TokenEndpoint string `json:"token_endpoint"`
	}
	if err := json.Unmarshal(disc, &d); err != nil || d.TokenEndpoint == "" {
		return "", fmt.Errorf("oidctest: discovery document has no token_endpoint: %v", err)
	}
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"openid"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.TokenEndpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	resp, err := p.HTTPClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("oidctest: token request: %w", err)
	}
	defer resp.Body.Close()
	var tr struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil {
		return "", fmt.Errorf("oidctest: token response: %w", err)
	}
	if resp.StatusCode != http.StatusOK || tr.AccessToken == "" {
		return "", fmt.Errorf("oidctest: token endpoint answered %d %s", resp.StatusCode, tr.Error)
	}
	return tr.AccessToken, nil
}

// MustToken is Token failing the test on error.
func (p *Provider) MustToken(t testing.TB, clientID, secret string) string {
	t.Helper()
	tok, err := p.Token(context.Background(), clientID, secret)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (p *Provider) get(ctx context.Context, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := p.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("oidctest: GET %s: %w", u, err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("oidctest: GET %s: %d", u, resp.StatusCode)
	}
	return []byte(b.String()), nil
}

// store is the example storage with workload clients that get JWT access
// tokens, per-client claims and lifetimes, and rotatable signing keys.
type store struct {
	*storage.Storage

	mu       sync.Mutex
	clients  map[string]*Client
	current  *signingKey
	previous *signingKey
}

type signingKey struct {
	id  string
	key *rsa.PrivateKey
}

func (k *signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k *signingKey) Key() any                                    { return k.key }
func (k *signingKey) ID() string                                  { return k.id }

type publicKey struct{ k *signingKey }

func (p publicKey) ID() string                         { return p.k.id }
func (p publicKey) Algorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (p publicKey) Use() string                        { return "sig" }
func (p publicKey) Key() any                           { return &p.k.key.PublicKey }

// Rotate makes a new key current.
func (s *store) Rotate(keepOld bool) error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.previous = nil
	if keepOld {
		s.previous = s.current
	}
	s.current = &signingKey{id: fmt.Sprintf("k-%x", b), key: key}
	return nil
}

func (s *store) SigningKey(context.Context) (op.SigningKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.current, nil
}

func (s *store) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

func (s *store) KeySet(context.Context) ([]op.Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := []op.Key{publicKey{s.current}}
	if s.previous != nil {
		keys = append(keys, publicKey{s.previous})
	}
	return keys, nil
}

func (s *store) client(id string) *Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.clients[id]
}

func (s *store) ClientCredentials(_ context.Context, clientID, clientSecret string) (op.Client, error) {
	c := s.client(clientID)
	if c == nil || c.Secret != clientSecret {
		return nil, fmt.Errorf("wrong client or secret")
	}
	return workload{c}, nil
}

func (s *store) ClientCredentialsTokenRequest(_ context.Context, clientID string, scopes []string) (op.TokenRequest, error) {
	c := s.client(clientID)
	if c == nil {
		return nil, fmt.Errorf("wrong client")
	}
	sub, aud := c.Subject, c.Audience
	if sub == "" {
		sub = c.ID
	}
	if len(aud) == 0 {
		aud = []string{c.ID}
	}
	return &oidc.JWTTokenRequest{Subject: sub, Audience: aud, Scopes: scopes}, nil
}

// CreateAccessToken gives the client's lifetime to its tokens.
func (s *store) CreateAccessToken(ctx context.Context, req op.TokenRequest) (string, time.Time, error) {
	lifetime := 5 * time.Minute
	if jr, ok := req.(*oidc.JWTTokenRequest); ok {
		for _, c := range s.clientsBySubject(jr.Subject) {
			if c.Lifetime != 0 {
				lifetime = c.Lifetime
			}
		}
	}
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x", b), time.Now().Add(lifetime), nil
}

func (s *store) clientsBySubject(sub string) []*Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*Client
	for _, c := range s.clients {
		if c.Subject == sub || c.Subject == "" && c.ID == sub {
			out = append(out, c)
		}
	}
	return out
}

// GetPrivateClaimsFromRequest adds the client's claims to its tokens.
func (s *store) GetPrivateClaimsFromRequest(_ context.Context, req op.TokenRequest, _ []string) (map[string]any, error) {
	out := map[string]any{}
	for _, c := range s.clientsBySubject(req.GetSubject()) {
		for k, v := range c.Claims {
			out[k] = v
		}
	}
	return out, nil
}

// workload is a client-credentials client that gets JWT access tokens.
type workload struct{ c *Client }

func (w workload) GetID() string                       { return w.c.ID }
func (w workload) RedirectURIs() []string              { return nil }
func (w workload) PostLogoutRedirectURIs() []string    { return nil }
func (w workload) ApplicationType() op.ApplicationType { return op.ApplicationTypeWeb }
func (w workload) AuthMethod() oidc.AuthMethod         { return oidc.AuthMethodBasic }
func (w workload) ResponseTypes() []oidc.ResponseType  { return nil }
func (w workload) GrantTypes() []oidc.GrantType {
	return []oidc.GrantType{oidc.GrantTypeClientCredentials}
}
func (w workload) LoginURL(string) string              { return "" }
func (w workload) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeJWT }
func (w workload) IDTokenLifetime() time.Duration      { return 5 * time.Minute }
func (w workload) DevMode() bool                       { return false }
func (w workload) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (w workload) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (w workload) IsScopeAllowed(string) bool           { return true }
func (w workload) IDTokenUserinfoClaimsAssertion() bool { return false }
func (w workload) ClockSkew() time.Duration             { return w.c.Skew }
