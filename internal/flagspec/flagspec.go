// Package flagspec binds command-line flags that are kept as text and
// parsed only after every flag is read, so that one run reports every bad
// value at once, into the fields of an edit value (an
// authority.AccountEdit, UserEdit, ExportEdit, ...). A table of Specs, one
// line per flag, maps nsc's flag names to those fields.
package flagspec

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/natsauth/natsauth/internal/units"
)

// Setter parses a flag's value into a field and returns the value as
// shown to people (e.g. a size formatted).
type Setter func(string) (string, error)

// Spec is one flag. Name may carry a shorthand ("account,a") and aliases
// ("max-payload|payload", the alias documented as the same flag). Kind is
// 's' for a value (the last one given counts), 'l' for a list
// (comma-separated or repeated), 'b' for a bool and '1' for a count that
// defaults to 1 when given without a value.
type Spec struct {
	Name, Usage string
	Kind        byte
	Set         Setter
}

// S is a Spec, for compact tables.
func S(name, usage string, kind byte, set Setter) Spec { return Spec{name, usage, kind, set} }

type value struct {
	vals []string
	kind byte
}

func (v *value) String() string { return strings.Join(v.vals, ",") }
func (v *value) Set(s string) error {
	v.vals = append(v.vals, s)
	return nil
}
func (v *value) Type() string {
	return map[byte]string{'s': "string", 'l': "strings", 'b': "bool", '1': "int"}[v.kind]
}

// Set is a table of flags bound to a flag set.
type Set struct {
	specs []Spec
	vals  []*value
}

// Bind adds the flags of specs to fs.
func Bind(fs *pflag.FlagSet, specs ...Spec) *Set {
	s := &Set{}
	for _, sp := range specs {
		names := strings.Split(sp.Name, "|")
		for i, n := range names {
			v := &value{kind: sp.Kind}
			s.specs, s.vals = append(s.specs, Spec{n, sp.Usage, sp.Kind, sp.Set}), append(s.vals, v)
			long, short, _ := strings.Cut(n, ",")
			if fs.VarP(v, long, short, sp.Usage); i > 0 {
				fs.Lookup(long).Usage = "same as --" + names[0]
			}
			if def := map[byte]string{'b': "true", '1': "1"}[sp.Kind]; def != "" {
				fs.Lookup(long).NoOptDefVal = def
			}
		}
	}
	return s
}

// Apply parses every flag given into its field, reporting each bad value
// through problem ("--flag: what is wrong"), and returns "flag value" for
// each flag set, in the order of the table.
func (s *Set) Apply(problem func(format string, args ...any)) []string {
	var changes []string
	for i, sp := range s.specs {
		v := s.vals[i]
		if len(v.vals) == 0 {
			continue
		}
		name, _, _ := strings.Cut(sp.Name, ",")
		in := v.vals[len(v.vals)-1]
		if sp.Kind == 'l' {
			in = strings.Join(v.vals, ",")
		}
		shown, err := sp.Set(in)
		if err != nil {
			problem("--%s: %v", name, err)
			continue
		}
		changes = append(changes, strings.TrimSpace(name+" "+shown))
	}
	return changes
}

// To parses a flag into *dst, a field that is nil when not set.
func To[T any](dst **T, parse func(string) (T, error)) Setter {
	return Value(dst, func(s string) (*T, error) {
		v, err := parse(s)
		return &v, err
	})
}

// Value parses a flag into *dst.
func Value[T any](dst *T, parse func(string) (T, error)) Setter {
	return func(s string) (string, error) {
		v, err := parse(s)
		if err == nil {
			*dst = v
		}
		return s, err
	}
}

// List adds a flag's comma-separated values to *dst.
func List(dst *[]string) Setter {
	return func(s string) (string, error) {
		*dst = append(*dst, Split(s)...)
		return s, nil
	}
}

// Split splits comma-separated values, trimming spaces.
func Split(s string) []string {
	out := strings.Split(s, ",")
	for i := range out {
		out[i] = strings.TrimSpace(out[i])
	}
	return out
}

// Limit parses a count (with size, a byte size such as 1MB) into *dst;
// -1 is unlimited. A flag's aliases must agree.
func Limit(dst **int64, size bool) Setter {
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

// Val is *p, or the zero value when p is nil: an edit's field as a plain
// value.
func Val[T any](p *T) T {
	var v T
	if p != nil {
		v = *p
	}
	return v
}

// Parsers of flag values.

// Text is the value as given.
func Text(s string) (string, error) { return s, nil }

// Int is a whole number.
func Int(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	return n, wrong(err, s, "a whole number")
}

// Position is a subject token position: 1, 2, ...
func Position(s string) (uint, error) {
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 16)
	return uint(n), wrong(err, s, "a token position (1, 2, ...)")
}

// Bool is true or false.
func Bool(s string) (bool, error) {
	b, err := strconv.ParseBool(s)
	return b, wrong(err, s, "true or false")
}

// Time is a time as units.ParseExpiry reads it, relative to now.
func Time(s string) (time.Time, error) { return units.ParseExpiry(s, time.Now()) }

// Duration is a duration such as 5s (units.ParseTTL).
func Duration(s string) (time.Duration, error) { return units.ParseTTL(s) }

func wrong(err error, s, want string) error {
	if err != nil {
		return fmt.Errorf("%q is not %s", s, want)
	}
	return nil
}
