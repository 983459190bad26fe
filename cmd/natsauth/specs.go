package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/internal/units"
	"github.com/natsauth/natsauth/manage"
)

// spec is a flag kept as text and parsed after every flag is read, so that
// one run reports every bad value: set parses the value into a field of an
// edit and returns it as shown in the output. name may carry a shorthand
// ("account,a") and aliases ("max-payload|payload"). kind is 's' for a value, 'l' for a list (comma-separated
// or repeated), 'b' for a bool, '1' for a count that defaults to 1.
type spec struct {
	name, usage string
	kind        byte
	set         func(string) (string, error)
}

type specValue struct {
	vals []string
	kind byte
}

func (v *specValue) String() string { return strings.Join(v.vals, ",") }
func (v *specValue) Set(s string) error {
	v.vals = append(v.vals, s)
	return nil
}
func (v *specValue) Type() string {
	return map[byte]string{'s': "string", 'l': "strings", 'b': "bool", '1': "int"}[v.kind]
}

// specs are bound spec flags.
type specs struct {
	list []spec
	vals []*specValue
}

func bindSpecs(fs *pflag.FlagSet, list ...spec) *specs {
	s := &specs{}
	for _, sp := range list {
		names := strings.Split(sp.name, "|")
		for i, n := range names {
			v := &specValue{kind: sp.kind}
			s.list, s.vals = append(s.list, spec{n, sp.usage, sp.kind, sp.set}), append(s.vals, v)
			long, short, _ := strings.Cut(n, ",")
			if fs.VarP(v, long, short, sp.usage); i > 0 {
				fs.Lookup(long).Usage = "same as --" + names[0]
			}
			if def := map[byte]string{'b': "true", '1': "1"}[sp.kind]; def != "" {
				fs.Lookup(long).NoOptDefVal = def
			}
		}
	}
	return s
}

// apply parses every flag given, recording bad values in p, and returns
// "flag value" for each.
func (s *specs) apply(p *authority.Problems) []string {
	var changes []string
	for i, sp := range s.list {
		v := s.vals[i]
		if len(v.vals) == 0 {
			continue
		}
		name, _, _ := strings.Cut(sp.name, ",")
		in := v.vals[len(v.vals)-1]
		if sp.kind == 'l' {
			in = strings.Join(v.vals, ",")
		}
		shown, err := sp.set(in)
		if err != nil {
			p.Add("--%s: %v", name, err)
			continue
		}
		changes = append(changes, strings.TrimSpace(name+" "+shown))
	}
	return changes
}

// to parses a flag into *dst.
func to[T any](dst **T, parse func(string) (T, error)) func(string) (string, error) {
	return func(s string) (string, error) {
		v, err := parse(s)
		if err == nil {
			*dst = &v
		}
		return s, err
	}
}

// Parsers of flag values.
func text(s string) (string, error) { return s, nil }
func whole(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("%q is not a whole number", s)
	}
	return n, nil
}
func position(s string) (uint, error) {
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 16)
	if err != nil {
		return 0, fmt.Errorf("%q is not a token position (1, 2, ...)", s)
	}
	return uint(n), nil
}
func truth(s string) (bool, error) {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, fmt.Errorf("%q is not true or false", s)
	}
	return b, nil
}
func when(s string) (time.Time, error) { return units.ParseExpiry(s, time.Now()) }

// value parses a flag into a plain field.
func value[T any](dst *T, parse func(string) (T, error)) func(string) (string, error) {
	return func(s string) (string, error) {
		v, err := parse(s)
		if err == nil {
			*dst = v
		}
		return s, err
	}
}

// list adds a flag's comma-separated values to *dst.
func list(dst *[]string) func(string) (string, error) {
	return func(s string) (string, error) {
		*dst = append(*dst, splitList([]string{s})...)
		return s, nil
	}
}

// limit parses a count (or, with size, a byte size) into *dst; a second
// spelling of the same flag must agree.
func limit(dst **int64, size bool) func(string) (string, error) {
	return func(s string) (string, error) {
		parse, format := units.ParseCount, units.FormatCount
		if size {
			parse, format = units.ParseSize, units.FormatSize
		}
		v, err := parse(s)
		switch {
		case err != nil:
			return "", err
		case *dst != nil && **dst != v:
			return "", fmt.Errorf("%s and %s, given with its other spelling, disagree", s, format(**dst))
		}
		*dst = &v
		return format(v), nil
	}
}

// Usages shared by several commands.
const (
	expiryUsage = "valid until: 0 (never), yyyy-mm-dd, or a number with m(inutes) h(ours) d(ays) w(eeks) M(onths) y(ears), e.g. 30d"
	startUsage  = "valid from: 0 (now), yyyy-mm-dd, or a number with m h d w M y, e.g. 1h"
	acctUsage   = "account (optional when there is one account besides SYS)"
)

// permSpecs are the permission flags of a user, a signing key's template
// or an account's default permissions, named as nsc's; who says whose.
func permSpecs(e *authority.PermissionEdit, who string, edit bool) []spec {
	s := []spec{
		{"allow-pub", "add subjects " + who + " may publish to", 'l', list(&e.AllowPub)},
		{"allow-sub", "add subjects " + who + ` may subscribe to; "subject queue" for a queue group`, 'l', list(&e.AllowSub)},
		{"allow-pubsub", "add subjects " + who + " may publish and subscribe to", 'l', list(&e.AllowPubSub)},
		{"deny-pub", "add subjects " + who + " may not publish to", 'l', list(&e.DenyPub)},
		{"deny-sub", "add subjects " + who + " may not subscribe to", 'l', list(&e.DenySub)},
		{"deny-pubsub", "add subjects " + who + " may neither publish nor subscribe to", 'l', list(&e.DenyPubSub)},
		{"allow-pub-response", "allow " + who + " to publish responses to received requests [=N per request, -1 unlimited]", '1', to(&e.RespMax, whole)},
		{"response-ttl", "how long a response may be sent after the request, e.g. 5s", 's', to(&e.RespTTL, units.ParseTTL)},
	}
	if edit {
		s = append(s, spec{"rm", "remove subjects from every allow and deny list", 'l', list(&e.Remove)},
			spec{"rm-response-perms", "remove the response permission", 'b', value(&e.RemoveResp, truth)})
	}
	return s
}

// change runs one change through the core: it reports every problem in p
// (and a missing or ambiguous -a account), else calls fn with the account
// -a names, writes where the change went, and returns fn's error (a
// *manage.PublishError exits 1). fn prints what changed.
func (a *app) change(p *authority.Problems, account string, fn func(m *manage.Manager, account string) (*manage.Result, error)) error {
	m, err := a.manager()
	if err != nil {
		return err
	}
	defer m.Close()
	account, err = pickAccount(m.Home(), account)
	p.AddErr(err)
	if err := p.Err(); err != nil {
		return err
	}
	res, err := fn(m, account)
	a.writeResult(res)
	return err
}

// runE adapts a RunE that needs neither the command nor arguments.
func runE(fn func(cmd *cobra.Command) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error { return fn(cmd) }
}
