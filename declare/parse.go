// Package declare is natsauth's declarative authority file: the accounts
// of an operator — limits, JetStream, default permissions, signing keys,
// exports, imports — and their users, in YAML, never a seed or a creds
// file. It parses a file into the authority's desired state (reporting
// every problem at its line and column), writes a home's accounts as such
// a file (Export), publishes the file's JSON Schema (Schema) and renders
// a plan (Plan). The management core (manage.Apply) makes a home match a
// file; `natsauth export`, `schema`, `plan` and `apply` are its front door.
//
// A file looks like this (`natsauth schema` describes every field):
//
//	version: 1
//	accounts:
//	  Orders:
//	    limits:
//	      max-connections: ${ORDERS_CONNECTIONS:-1000}
//	      max-payload: 1MB
//	    jetstream:
//	      disk-storage: 1GB
//	    exports:
//	      - subject: orders.status
//	        type: service
//	    users:
//	      alice:
//	        allow-pub: [orders.>]
//	        allow-sub: [orders.alice.>, _INBOX.>]
//
// Every setting of an account or user is given in full: one left out has
// nsc's default (limits unlimited, JetStream off, no permissions), so the
// file — not a history of commands — says what an account is. Keys are
// the home's business: accounts, users and signing keys listed without a
// public key get keys generated in the home they are applied to, which is
// what lets one file set up several environments (promotion). ${NAME}
// (or ${NAME:-default}) in any key or value is replaced by a variable:
// Options.Vars, else the environment; $${ is a literal ${.
package declare

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/natsauth/natsauth/authority"
)

// Version is the schema version this natsauth reads and writes. A file of
// a newer version is refused: it may say things this version would ignore.
const Version = 1

// Problem is one thing wrong with a file, at a 1-based line and column (0
// when the problem is not at one place).
type Problem struct {
	Line int    `json:"line,omitempty"`
	Col  int    `json:"column,omitempty"`
	Msg  string `json:"message"`
}

// Error lists every problem found in a file; nothing of a file with an
// error is used.
type Error struct {
	File     string
	Problems []Problem
}

func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = Where(e.File, p.Line, p.Col) + ": " + p.Msg
	}
	if len(lines) == 1 {
		return lines[0]
	}
	return fmt.Sprintf("%s: %d problems:\n  %s", e.File, len(lines), strings.Join(lines, "\n  "))
}

// Where formats a position the way every message about a file starts:
// "file:line:col".
func Where(file string, line, col int) string {
	switch {
	case line == 0:
		return file
	case col == 0:
		return fmt.Sprintf("%s:%d", file, line)
	}
	return fmt.Sprintf("%s:%d:%d", file, line, col)
}

// Options say how to read a file.
type Options struct {
	// Vars are variables for ${NAME}; they win over the environment.
	Vars map[string]string
	// Env looks a variable up when Vars has none; nil uses os.LookupEnv.
	Env func(string) (string, bool)
	// Set overrides values by path, e.g. "accounts.Orders.limits.max-payload"
	// → "2MB" (applied after variables); a path that does not exist is
	// created.
	Set map[string]string
}

// ParseSet reads --set arguments: "NAME=value" defines a variable,
// "path.to.field=value" (a key with a dot) overrides a value.
func ParseSet(args []string) (vars, set map[string]string, err error) {
	vars, set = map[string]string{}, map[string]string{}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok || k == "" {
			return nil, nil, fmt.Errorf("--set %q: give NAME=value (a variable) or path.to.field=value (an override)", a)
		}
		if strings.Contains(k, ".") {
			set[k] = v
		} else {
			vars[k] = v
		}
	}
	return vars, set, nil
}

// LoadFile reads the file at path ("-" reads stdin) and starts parsing it
// (Load) with the --set arguments set (ParseSet).
func LoadFile(path string, stdin io.Reader, set []string) (Source, error) {
	var data []byte
	var err error
	if path == "-" {
		data, err = io.ReadAll(stdin)
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	vars, over, err := ParseSet(set)
	if err != nil {
		return nil, err
	}
	return Load(path, data, Options{Vars: vars, Set: over}), nil
}

// File is a parsed authority file.
type File struct {
	Name    string // as given to Parse, for messages
	SHA256  string // of the file's content, hex: names the file in the audit log
	Version int
	// Accounts are the file's accounts in the authority's desired form, in
	// file order, each with its position (Where).
	Accounts []authority.DesiredAccount
}

// Source is an authority file to use: a parsed *File, or one being
// parsed (Load).
type Source interface {
	// Parsed waits for the file to be parsed and returns it, or the error
	// Parse returned.
	Parsed() (*File, error)
}

// Parsed returns f: a parsed file is a Source.
func (f *File) Parsed() (*File, error) { return f, nil }

// Load parses a file in the background: a plan reads the home meanwhile
// (for a large file and home each takes about as long as the other).
func Load(name string, data []byte, o Options) Source {
	l := &loading{done: make(chan struct{})}
	go func() {
		defer close(l.done)
		l.f, l.err = Parse(name, data, o)
	}()
	return l
}

type loading struct {
	done chan struct{}
	f    *File
	err  error
}

func (l *loading) Parsed() (*File, error) {
	<-l.done
	return l.f, l.err
}

// State is the desired state the file describes. withUsers false leaves
// users out (users are then left as they are); prune deletes what the file
// does not name.
func (f *File) State(withUsers, prune bool) authority.DesiredState {
	return authority.DesiredState{Accounts: f.Accounts, SkipUsers: !withUsers, Prune: prune}
}

// Parse reads a file. name labels positions in messages. Every problem —
// syntax, an unknown field, a bad value, an undefined variable — is
// reported at once in an *Error; a file of a newer schema version is
// refused before anything else is looked at.
func Parse(name string, data []byte, o Options) (*File, error) {
	d := &decoder{file: name, opts: o}
	if d.opts.Env == nil {
		d.opts.Env = os.LookupEnv
	}
	doc, fast := fastParse(data)
	if !fast {
		doc = &yaml.Node{}
		if err := yaml.Unmarshal(data, doc); err != nil {
			return nil, &Error{File: name, Problems: []Problem{syntaxProblem(err)}}
		}
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, &Error{File: name, Problems: []Problem{{Line: 1, Col: 1, Msg: "the file is empty: it needs at least \"version: 1\""}}}
	}
	root := doc.Content[0]
	d.expand(root)
	for _, k := range sortedMapKeys(o.Set) {
		d.override(root, k, o.Set[k])
	}
	sum := sha256.Sum256(data)
	f := &File{Name: name, SHA256: hex.EncodeToString(sum[:])}
	if root.Kind != yaml.MappingNode {
		d.fail(root, "the file must be a mapping with version and accounts")
		return nil, d.err()
	}
	if v := mapValue(root, "version"); v == nil {
		d.fail(root, "version is missing: the first line of a file is \"version: %d\"", Version)
	} else if n, err := strconv.Atoi(v.Value); err != nil || v.Kind != yaml.ScalarNode || n < 1 {
		d.fail(v, "version %q is not a schema version (this natsauth reads version %d)", v.Value, Version)
	} else if n > Version {
		d.fail(v, "the file is written for schema version %d; this natsauth reads version %d and newer ones may say things it would ignore: upgrade natsauth", n, Version)
		return nil, d.err()
	} else {
		f.Version = n
	}
	decodeMapping(d, root, fileFields, f)
	if err := d.err(); err != nil {
		return nil, err
	}
	return f, nil
}

// syntaxProblem turns a YAML syntax error into a problem at its line.
func syntaxProblem(err error) Problem {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	var line int
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if n, tail, ok := strings.Cut(rest, ":"); ok {
			if v, err := strconv.Atoi(n); err == nil {
				line, msg = v, strings.TrimSpace(tail)
			}
		}
	}
	return Problem{Line: line, Col: 0, Msg: "syntax: " + msg}
}

// decoder collects the problems of one file.
type decoder struct {
	file     string
	opts     Options
	problems []Problem
}

func (d *decoder) fail(n *yaml.Node, format string, args ...any) {
	p := Problem{Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		p.Line, p.Col = n.Line, n.Column
	}
	d.problems = append(d.problems, p)
}

func (d *decoder) err() error {
	if len(d.problems) == 0 {
		return nil
	}
	sort.SliceStable(d.problems, func(i, j int) bool {
		a, b := d.problems[i], d.problems[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	return &Error{File: d.file, Problems: d.problems}
}

// where is n's position for the authority's messages.
func (d *decoder) where(n *yaml.Node) string { return Where(d.file, n.Line, n.Column) }

// expand replaces ${NAME} in every scalar, keys included.
func (d *decoder) expand(n *yaml.Node) {
	switch n.Kind {
	case yaml.ScalarNode:
		if strings.Contains(n.Value, "${") {
			n.Value = d.substitute(n, n.Value)
		}
	case yaml.DocumentNode, yaml.SequenceNode, yaml.MappingNode:
		for _, c := range n.Content {
			d.expand(c)
		}
	}
}

// substitute expands the variables of s, found in n.
func (d *decoder) substitute(n *yaml.Node, s string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		if i > 0 && s[i-1] == '$' {
			b.WriteString(s[:i-1] + "${")
			s = s[i+2:]
			continue
		}
		b.WriteString(s[:i])
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			d.fail(n, "%q: ${ without a closing }", s)
			return b.String()
		}
		expr := s[i+2 : i+end]
		name, def, hasDef := strings.Cut(expr, ":-")
		if !validVarName(name) {
			d.fail(n, "${%s}: a variable name is letters, digits and _, not starting with a digit", expr)
		} else if v, ok := d.opts.Vars[name]; ok {
			b.WriteString(v)
		} else if v, ok := d.opts.Env(name); ok {
			b.WriteString(v)
		} else if hasDef {
			b.WriteString(def)
		} else {
			d.fail(n, "variable %s is not set: set it in the environment or with --set %s=VALUE (or give a default: ${%s:-VALUE})", name, name, name)
		}
		s = s[i+end+1:]
	}
}

func validVarName(s string) bool {
	if s == "" || (s[0] >= '0' && s[0] <= '9') {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// override sets the value at a dotted path (keys of mappings, indexes of
// sequences), creating missing mappings.
func (d *decoder) override(root *yaml.Node, path, value string) {
	n := root
	parts := strings.Split(path, ".")
	for i, p := range parts {
		last := i == len(parts)-1
		switch n.Kind {
		case yaml.MappingNode:
			v := mapValue(n, p)
			if v != nil && !last && isNull(v) {
				v.Kind, v.Tag, v.Value = yaml.MappingNode, "", ""
			}
			if v == nil {
				v = &yaml.Node{Kind: yaml.MappingNode, Line: n.Line, Column: n.Column}
				if last {
					v = &yaml.Node{Kind: yaml.ScalarNode, Line: n.Line, Column: n.Column}
				}
				n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: p, Line: n.Line, Column: n.Column}, v)
			}
			n = v
		case yaml.SequenceNode:
			idx, err := strconv.Atoi(p)
			if err != nil || idx < 0 || idx >= len(n.Content) {
				d.fail(n, "--set %s: %q is not an index of this list (0-%d)", path, p, len(n.Content)-1)
				return
			}
			n = n.Content[idx]
		default:
			d.fail(n, "--set %s: %s is a value, not a mapping or list", path, strings.Join(parts[:i], "."))
			return
		}
	}
	if n.Kind != yaml.ScalarNode && n.Kind != 0 {
		d.fail(n, "--set %s: the value there is a mapping or list; --set replaces single values", path)
		return
	}
	n.Kind, n.Value, n.Tag, n.Style = yaml.ScalarNode, value, "", 0
}

// mapValue returns the value of key in mapping n, or nil.
func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func sortedMapKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// resolve follows an alias.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// isNull reports an empty value ("name:" with nothing after it).
func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && (n.Tag == "!!null" || (n.Value == "" && n.Style == 0 && n.Tag != "!!str"))
}
