package node

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/nats-io/nats-server/v2/conf"
)

// fileSettings is what natsauth needs to know about a nats-server.conf
// beyond what server.Options exposes: whether it names an operator, a
// resolver or a system account itself, and how its resolver maps onto a
// natsauth store.
type fileSettings struct {
	HasOperator      bool
	HasSystemAccount bool
	SystemAccount    string // as written: a public key or an account name
	Resolver         string // natsauth store URL for the file's resolver, "" if none
	ResolverKind     string // full, cache, memory, url
	AllowDelete      bool
}

var urlResolverRe = regexp.MustCompile(`(?i)^\s*URL\s*\(\s*"?([^\s"]*)"?\s*\)\s*$`)

// inspectConfig reads the raw keys of a nats-server.conf.
func inspectConfig(path string) (fileSettings, error) {
	var fsx fileSettings
	if path == "" {
		return fsx, nil
	}
	m, err := conf.ParseFile(path)
	if err != nil {
		return fsx, fmt.Errorf("parse %s: %w", path, err)
	}
	for k, v := range m {
		switch strings.ToLower(k) {
		case "operator", "operators", "roots", "root", "root_operators", "root_operator":
			fsx.HasOperator = true
		case "system_account", "system":
			fsx.HasSystemAccount = true
			if s, ok := v.(string); ok {
				fsx.SystemAccount = s
			}
		case "resolver", "account_resolver", "accounts_resolver":
			if err := fsx.mapResolver(path, v); err != nil {
				return fsx, err
			}
		}
	}
	return fsx, nil
}

func (fsx *fileSettings) mapResolver(path string, v any) error {
	switch r := v.(type) {
	case string:
		switch up := strings.ToUpper(strings.TrimSpace(r)); {
		case up == "MEM" || up == "MEMORY":
			fsx.Resolver, fsx.ResolverKind = "mem://", "memory"
		case urlResolverRe.MatchString(r):
			u := urlResolverRe.FindStringSubmatch(r)[1]
			if !strings.HasSuffix(u, "/") {
				u += "/"
			}
			fsx.Resolver, fsx.ResolverKind = u, "url"
		default:
			return fmt.Errorf("%s: resolver %q: want MEMORY, URL(...) or {type: full, dir: ...}", path, r)
		}
	case map[string]any:
		typ, _ := r["type"].(string)
		dir, _ := r["dir"].(string)
		del, _ := r["allow_delete"].(bool)
		switch strings.ToUpper(typ) {
		case "FULL", "CACHE":
			if dir == "" {
				return fmt.Errorf("%s: resolver type %s needs dir", path, typ)
			}
			abs, err := filepath.Abs(dir)
			if err != nil {
				return fmt.Errorf("%s: resolver dir %q: %w", path, dir, err)
			}
			fsx.Resolver = "dir://" + filepath.ToSlash(abs)
			fsx.ResolverKind, fsx.AllowDelete = strings.ToLower(typ), del
		case "MEM", "MEMORY":
			fsx.Resolver, fsx.ResolverKind = "mem://", "memory"
		default:
			return fmt.Errorf("%s: resolver type %q: want full, cache or memory", path, typ)
		}
	default:
		return fmt.Errorf("%s: resolver has unsupported form %T", path, v)
	}
	return nil
}
