package resolver

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/natsauth/natsauth/store"
	"github.com/natsauth/natsauth/trust"
)

// HTTPResolver fetches account JWTs over HTTP with GET <base>/<pubkey>,
// like nats-server's URL resolver: base is e.g.
// "http://127.0.0.1:9090/jwt/v1/accounts/" for a natsauth account server,
// or "http://localhost:8080/accounts/" for the walkthrough's JWT server.
// It is read-only; wrap it in a CachedResolver to spare the server.
type HTTPResolver struct {
	base   string
	client *http.Client
}

var _ server.AccountResolver = (*HTTPResolver)(nil)

// NewHTTPResolver returns an HTTPResolver on baseURL with a 2 s timeout
// (nats-server fetches while a client waits to connect).
func NewHTTPResolver(baseURL string) *HTTPResolver {
	if !strings.HasSuffix(baseURL, "/") {
		baseURL += "/"
	}
	return &HTTPResolver{base: baseURL, client: &http.Client{Timeout: DefaultFetchTimeout}}
}

// WithClient replaces the HTTP client (TLS settings, timeout) and returns h.
func (h *HTTPResolver) WithClient(c *http.Client) *HTTPResolver {
	h.client = c
	return h
}

// Fetch GETs the JWT of account name. A 404 yields an error wrapping
// store.ErrNotFound; other failures wrap store.ErrUnavailable.
func (h *HTTPResolver) Fetch(name string) (string, error) {
	// The key becomes part of a URL: refuse anything but an account key.
	if err := trust.CheckAccountKey(name); err != nil {
		return "", fmt.Errorf("fetch account: %w", err)
	}
	timeout := h.client.Timeout
	if timeout <= 0 {
		timeout = DefaultFetchTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.base+name, nil)
	if err != nil {
		return "", fmt.Errorf("fetch account %s: %w", name, err)
	}
	req.Header.Set("Accept", "application/jwt")
	resp, err := h.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("fetch account %s from %s: %w: %w", name, h.base, store.ErrUnavailable, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, trust.MaxJWTSize+1))
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return "", fmt.Errorf("fetch account %s: %w", name, store.ErrNotFound)
	case resp.StatusCode != http.StatusOK:
		return "", fmt.Errorf("fetch account %s from %s: %w: HTTP status %s", name, h.base, store.ErrUnavailable, resp.Status)
	case err != nil:
		return "", fmt.Errorf("fetch account %s from %s: read body: %w: %w", name, h.base, store.ErrUnavailable, err)
	case len(body) > trust.MaxJWTSize:
		return "", fmt.Errorf("fetch account %s from %s: response is over %d bytes", name, h.base, trust.MaxJWTSize)
	}
	tok := strings.TrimSpace(string(body))
	if tok == "" {
		return "", fmt.Errorf("fetch account %s from %s: empty response", name, h.base)
	}
	return tok, nil
}

// Store refuses: an HTTPResolver is read-only.
func (h *HTTPResolver) Store(name, _ string) error {
	return fmt.Errorf("store account %s: %w", name, store.ErrReadOnly)
}

// IsReadOnly reports true.
func (h *HTTPResolver) IsReadOnly() bool { return true }

// Start checks nothing and starts nothing.
func (h *HTTPResolver) Start(*server.Server) error { return nil }

// IsTrackingUpdate reports false: nats-server applies claim updates pushed
// over the system account to loaded accounts itself.
func (h *HTTPResolver) IsTrackingUpdate() bool { return false }

// Reload does nothing.
func (h *HTTPResolver) Reload() error { return nil }

// Close releases idle connections.
func (h *HTTPResolver) Close() { h.client.CloseIdleConnections() }
