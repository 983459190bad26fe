package serving

import (
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/internal/fsx"
)

// DefaultResolverURL is the accounts URL of `natsauth account-server` on
// its default listen address.
const DefaultResolverURL = "http://127.0.0.1:9090/jwt/v1/accounts/"

// StockConfig describes the operator-mode part of a nats-server.conf for
// a stock nats-server that trusts a home's operator: its resolver (full,
// url or memory) and where it reads account JWTs.
type StockConfig struct {
	Resolver       string // full, url or memory
	Dir            string // full: the server's account JWT directory
	URL            string // url: the account server's accounts URL
	AllowDelete    bool   // full: accept operator-signed deletes
	OperatorInline bool   // the operator JWT in the file, not its path
}

// Check reports every problem with c (and the home's operator path) at once.
func (c StockConfig) Check(h *authority.Home) error {
	p := authority.NewProblems("generate config")
	kind := strings.ToLower(c.Resolver)
	switch kind {
	case "full", "url", "memory":
	case "":
		p.Add("--resolver is required: full, url or memory")
	default:
		p.Add("--resolver %q: want full, url or memory", c.Resolver)
	}
	if kind == "full" {
		if c.Dir == "" {
			p.Add("--dir must not be empty")
		} else {
			p.AddErr(checkConfString("--dir", c.Dir))
		}
	}
	if kind == "url" {
		p.AddErr(checkResolverURL(c.URL))
	}
	if c.AllowDelete && kind != "full" {
		p.Add("--allow-delete applies to the full resolver only")
	}
	if !c.OperatorInline && h != nil {
		p.AddErr(checkConfString("the operator JWT path", h.OperatorJWTPath()))
	}
	return p.Err()
}

// Render writes the operator-mode part of a nats-server.conf for a stock
// nats-server that trusts h's operator, with c's resolver.
func (c StockConfig) Render(h *authority.Home) (string, error) {
	if err := c.Check(h); err != nil {
		return "", err
	}
	kind, f := strings.ToLower(c.Resolver), c
	accs, err := h.Accounts()
	if err != nil {
		return "", fmt.Errorf("stock config: %w", err)
	}
	var sys *authority.AccountInfo
	for i := range accs {
		if accs[i].System {
			sys = &accs[i]
		}
	}
	if sys == nil {
		return "", fmt.Errorf("stock config: the home has no system account %s", h.SystemAccount())
	}
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("# nats-server configuration for operator %q, written by natsauth generate config.\n", h.OperatorName())
	w("# Add listen, cluster, TLS and the rest of the server's configuration as usual.\n\n")
	w("# Operator %q\n", h.OperatorName())
	if f.OperatorInline {
		w("operator: %s\n", confQuote(h.OperatorJWT()))
	} else {
		w("operator: %s\n", confQuote(h.OperatorJWTPath()))
	}
	w("# System account %q\n", sys.Name)
	w("system_account: %s\n\n", sys.Pub)
	preload := []authority.AccountInfo{*sys}
	switch kind {
	case "full":
		w("# The full resolver keeps account JWTs in dir and syncs them with the other servers.\n")
		w("# Send accounts with: natsauth push -A --server nats://HOST:PORT\n")
		w("resolver: {\n    type: full\n    dir: %s\n    allow_delete: %t\n    interval: \"2m\"\n    timeout: \"1.9s\"\n}\n\n",
			confQuote(f.Dir), f.AllowDelete)
		w("# The system account, so that the server starts and accepts pushes.\n")
	case "url":
		w("# Account JWTs come from an account server (natsauth account-server or\n")
		w("# natsauth serve --account-server).\n")
		w("resolver: URL(%s)\n", f.URL)
		return b.String(), nil
	case "memory":
		w("# Every account is preloaded; regenerate this file and reload the server after a change.\n")
		w("resolver: MEMORY\n\n")
		preload = accs
	}
	w("resolver_preload: {\n")
	for _, acc := range preload {
		w("    # %s\n    %s: %s\n", acc.Name, acc.Pub, confQuote(acc.JWT))
	}
	w("}\n")
	return b.String(), nil
}

// confQuote quotes s for a nats-server.conf string.
func confQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(s) + `"`
}

// checkConfString refuses what cannot be written into a quoted conf string.
func checkConfString(what, s string) error {
	if strings.ContainsAny(s, "\n\r\x00") {
		return fmt.Errorf("%s %q: contains a line break or NUL", what, s)
	}
	return nil
}

// checkResolverURL checks a URL for `resolver: URL(...)`, which is written
// unquoted.
func checkResolverURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("--url: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("--url %q: want http(s)://HOST:PORT/jwt/v1/accounts/", s)
	}
	if strings.ContainsAny(s, " \t\r\n\"'()#;,{}[]") {
		return fmt.Errorf("--url %q: contains a character a nats-server.conf URL(...) cannot hold", s)
	}
	return nil
}

// WriteFile renders the configuration for h into path, mode 0644: it holds
// no seed, and the server may run as another user.
func (c StockConfig) WriteFile(h *authority.Home, path string) error {
	conf, err := c.Render(h)
	if err != nil {
		return err
	}
	if err := fsx.WriteFile(path, []byte(conf), 0o600); err != nil {
		return fmt.Errorf("generate config: %w", err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		return fmt.Errorf("generate config: %w", err)
	}
	return nil
}
