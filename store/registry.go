package store

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"sort"
	"strings"
	"sync"

	"github.com/natsauth/natsauth/trust"
)

// Options configure a store opened by URL.
type Options struct {
	// Policy decides which JWTs may be written. A store opened without one
	// refuses every write.
	Policy *trust.Policy
	// Logger receives backend diagnostics; nil discards them.
	Logger *slog.Logger
}

// OpenFunc opens a backend for a parsed URL.
type OpenFunc func(ctx context.Context, u *url.URL, opts Options) (Backend, error)

var (
	regMu    sync.RWMutex
	registry = map[string]OpenFunc{}
)

// Register makes a backend available under a URL scheme. Backends call it
// from init; registering a scheme twice panics.
func Register(scheme string, open OpenFunc) {
	regMu.Lock()
	defer regMu.Unlock()
	scheme = strings.ToLower(scheme)
	if _, dup := registry[scheme]; dup {
		panic("store: scheme registered twice: " + scheme)
	}
	registry[scheme] = open
}

// Schemes lists the registered URL schemes.
func Schemes() []string {
	regMu.RLock()
	defer regMu.RUnlock()
	out := make([]string, 0, len(registry))
	for s := range registry {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// CheckURL reports, without opening it, a store URL that is no URL or
// whose scheme no registered backend knows.
func CheckURL(rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme == "" {
		return fmt.Errorf("%q is not a store URL (e.g. sqlite:///path/accounts.db, postgres://host/db)", Redact(rawURL))
	}
	regMu.RLock()
	_, ok := registry[strings.ToLower(u.Scheme)]
	regMu.RUnlock()
	if !ok {
		return fmt.Errorf("%s: unknown scheme %q (known: %s)", Redact(rawURL), u.Scheme, strings.Join(Schemes(), ", "))
	}
	return nil
}

// Open opens the store named by rawURL, e.g. "sqlite:///var/lib/natsauth/accounts.db".
func Open(ctx context.Context, rawURL string, opts Options) (Store, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("open store: bad url %q: %w", Redact(rawURL), err)
	}
	regMu.RLock()
	open, ok := registry[strings.ToLower(u.Scheme)]
	regMu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("open store %s: unknown scheme %q (known: %s)",
			Redact(rawURL), u.Scheme, strings.Join(Schemes(), ", "))
	}
	b, err := open(ctx, u, opts)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", Redact(rawURL), err)
	}
	return Wrap(b, opts), nil
}

// Redact hides a password in a store URL so it can be logged.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "<unparseable url>"
	}
	return u.Redacted()
}
