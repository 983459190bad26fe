package main

import (
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/natsauth/natsauth/authority"
)

func init() { register("generate", newGenerateConfigCmd) }

// DefaultResolverURL is the accounts URL of `natsauth account-server` on
// its default listen address.
const DefaultResolverURL = "http://127.0.0.1:9090/jwt/v1/accounts/"

type genConfigFlags struct {
	resolver       string
	output         string
	operatorInline bool
	dir            string
	url            string
	allowDelete    bool
}

func newGenerateConfigCmd(a *app) *cobra.Command {
	var f genConfigFlags
	cmd := &cobra.Command{
		Use:   "config --resolver full|url|memory",
		Short: "Print a nats-server.conf for a stock nats-server that trusts the home's operator",
		Long: `Print (or write with -o) the operator-mode part of a nats-server.conf for a stock
nats-server: the operator JWT (by path, or inline with --operator-inline), the system
account, and a resolver:

  full    the server keeps account JWTs in --dir; the system account is preloaded, push
          the others with: natsauth push -A --server nats://HOST:4222
  url     the server fetches account JWTs from an account server (--url; natsauth
          account-server, or natsauth serve --account-server)
  memory  every account of the home is preloaded; regenerate and reload after a change

Add listen, cluster, TLS and the rest of the server's configuration as usual.`,
		Example: `  natsauth generate config --resolver full --dir /var/lib/nats/jwt -o nats-server.conf
  natsauth generate config --resolver url --url http://accounts:9090/jwt/v1/accounts/
  natsauth generate config --resolver memory --operator-inline`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.generateConfig(f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.resolver, "resolver", "", "resolver type: full, url or memory (required)")
	fl.StringVarP(&f.output, "output-file", "o", "", "write the configuration to this file instead of stdout")
	fl.BoolVar(&f.operatorInline, "operator-inline", false, "put the operator JWT in the file instead of its path in the home")
	fl.StringVar(&f.dir, "dir", "./jwt", "full resolver: directory of the server's account JWTs")
	fl.StringVar(&f.url, "url", DefaultResolverURL, "url resolver: the account server's accounts URL")
	fl.BoolVar(&f.allowDelete, "allow-delete", false, "full resolver: accept operator-signed deletes (natsauth push --prune)")
	return cmd
}

func (a *app) generateConfig(f genConfigFlags) error {
	p := authority.NewProblems("generate config")
	kind := strings.ToLower(f.resolver)
	switch kind {
	case "full", "url", "memory":
	case "":
		p.Add("--resolver is required: full, url or memory")
	default:
		p.Add("--resolver %q: want full, url or memory", f.resolver)
	}
	if kind == "full" {
		if f.dir == "" {
			p.Add("--dir must not be empty")
		} else if err := checkConfString("--dir", f.dir); err != nil {
			p.AddErr(err)
		}
	}
	if kind == "url" {
		if err := checkResolverURL(f.url); err != nil {
			p.AddErr(err)
		}
	}
	if f.allowDelete && kind != "full" {
		p.Add("--allow-delete applies to the full resolver only")
	}
	h, err := a.openHome()
	if err != nil {
		return err
	}
	if !f.operatorInline {
		p.AddErr(checkConfString("the operator JWT path", h.OperatorJWTPath()))
	}
	if err := p.Err(); err != nil {
		return err
	}
	conf, err := renderConfig(h, kind, f)
	if err != nil {
		return err
	}
	if f.output == "" {
		_, err := a.out.Write([]byte(conf))
		return err
	}
	if err := writePrivateFile(f.output, []byte(conf)); err != nil {
		return fmt.Errorf("generate config: %w", err)
	}
	// Not a secret (no seeds), and the server may run as another user.
	if err := os.Chmod(f.output, 0o644); err != nil {
		return fmt.Errorf("generate config: %w", err)
	}
	fmt.Fprintf(a.errOut, "wrote the %s resolver configuration to %s\n", kind, f.output)
	return nil
}

// renderConfig builds the configuration text.
func renderConfig(h *authority.Home, kind string, f genConfigFlags) (string, error) {
	accs, err := h.Accounts()
	if err != nil {
		return "", fmt.Errorf("generate config: %w", err)
	}
	var sys *authority.AccountInfo
	for i := range accs {
		if accs[i].System {
			sys = &accs[i]
		}
	}
	if sys == nil {
		return "", fmt.Errorf("generate config: the home has no system account %s", h.SystemAccount())
	}
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("# nats-server configuration for operator %q, written by natsauth generate config.\n", h.OperatorName())
	w("# Add listen, cluster, TLS and the rest of the server's configuration as usual.\n\n")
	w("# Operator %q\n", h.OperatorName())
	if f.operatorInline {
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
			confQuote(f.dir), f.allowDelete)
		w("# The system account, so that the server starts and accepts pushes.\n")
	case "url":
		w("# Account JWTs come from an account server (natsauth account-server or\n")
		w("# natsauth serve --account-server).\n")
		w("resolver: URL(%s)\n", f.url)
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
