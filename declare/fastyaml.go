package declare

import (
	"bytes"
	"strings"

	"gopkg.in/yaml.v3"
)

// fastParse reads the block-style subset of YAML that natsauth export
// writes — block mappings and sequences, one-line plain and quoted
// scalars, one-line flow lists, empty flow mappings, comments — into the
// node tree yaml.v3 builds for the same text (kinds, tags, styles, values,
// lines and columns). It reports ok false for anything outside that
// subset, valid YAML or not, and the caller then parses with yaml.v3,
// which stays the reference: FuzzFastYAML checks that whenever fastParse
// accepts a text, yaml.v3 accepts it too and builds the same tree.
//
// yaml.v3 reads about 12 MB/s here, so a file of 10,000 accounts took a
// second to parse, half of a plan's time; with this reader parsing and
// decoding it takes 0.4 s.
func fastParse(data []byte) (doc *yaml.Node, ok bool) {
	for _, c := range data {
		// ASCII only (columns are then bytes), no tabs or carriage returns.
		if c >= 0x80 || c < 0x20 && c != '\n' || c == 0x7f {
			return nil, false
		}
	}
	p := &fastParser{lines: make([]fastLine, 0, bytes.Count(data, []byte{'\n'})+1)}
	text := string(data)
	for num := 1; len(text) > 0; num++ {
		line, rest, _ := strings.Cut(text, "\n")
		text = rest
		body := strings.TrimLeft(line, " ")
		if body == "" || body[0] == '#' {
			continue // blank lines and comments do not count for structure
		}
		if num == 1 && body == line && (body[0] == '%' || strings.HasPrefix(body, "---") || strings.HasPrefix(body, "...")) ||
			body == line && (strings.HasPrefix(body, "---") || strings.HasPrefix(body, "...")) {
			return nil, false // directives and document markers
		}
		p.lines = append(p.lines, fastLine{num: num, indent: len(line) - len(body), text: body})
	}
	if len(p.lines) == 0 {
		return nil, false
	}
	defer func() {
		if r := recover(); r != nil {
			if _, is := r.(notFast); !is {
				panic(r)
			}
			doc, ok = nil, false
		}
	}()
	first := p.lines[0]
	root := p.block(first.indent)
	if p.i != len(p.lines) {
		p.bail()
	}
	return &yaml.Node{Kind: yaml.DocumentNode, Line: first.num, Column: first.indent + 1, Content: []*yaml.Node{root}}, true
}

// notFast is the panic that abandons the fast path.
type notFast struct{}

type fastLine struct {
	num, indent int
	text        string // from the first non-space character
}

type fastParser struct {
	lines []fastLine
	i     int
	slab  []yaml.Node // nodes are allocated in blocks: a large file has a million
}

// node returns a new node.
func (p *fastParser) node(kind yaml.Kind, tag string, style yaml.Style, value string, line, col int) *yaml.Node {
	if len(p.slab) == cap(p.slab) {
		p.slab = make([]yaml.Node, 0, 1024)
	}
	p.slab = append(p.slab, yaml.Node{Kind: kind, Tag: tag, Style: style, Value: value, Line: line, Column: col})
	return &p.slab[len(p.slab)-1]
}

func (p *fastParser) bail() { panic(notFast{}) }

// block reads the mapping or sequence that starts at the current line,
// whose indentation is indent.
func (p *fastParser) block(indent int) *yaml.Node {
	if isSeqEntry(p.lines[p.i].text) {
		return p.sequence(indent)
	}
	return p.mapping(indent)
}

func isSeqEntry(s string) bool { return s == "-" || strings.HasPrefix(s, "- ") }

// mapping reads "key: value" lines at indent.
func (p *fastParser) mapping(indent int) *yaml.Node {
	l := p.lines[p.i]
	n := p.node(yaml.MappingNode, "!!map", 0, "", l.num, indent+1)
	for p.i < len(p.lines) {
		l = p.lines[p.i]
		if l.indent < indent {
			break
		}
		if l.indent > indent || isSeqEntry(l.text) {
			p.bail()
		}
		colon := keyEnd(l.text)
		if colon < 0 {
			p.bail()
		}
		key := p.plainNode(l.text[:colon], l.num, indent+1)
		rest := l.text[colon+1:]
		p.i++
		var val *yaml.Node
		if v := strings.TrimLeft(rest, " "); v == "" || v[0] == '#' {
			if rest != "" && v != "" && rest[0] != ' ' {
				p.bail()
			}
			// The value is the block on the next lines: more indented, or a
			// sequence at the key's own indentation.
			if p.i == len(p.lines) {
				p.bail() // an empty value: left to yaml.v3
			}
			next := p.lines[p.i]
			switch {
			case next.indent > indent:
				val = p.block(next.indent)
			case next.indent == indent && isSeqEntry(next.text):
				val = p.sequence(indent)
			default:
				p.bail()
			}
		} else {
			val = p.inline(v, l.num, l.indent+len(l.text)-len(v)+1)
		}
		n.Content = append(n.Content, key, val)
	}
	return n
}

// sequence reads "- item" lines at indent.
func (p *fastParser) sequence(indent int) *yaml.Node {
	l := p.lines[p.i]
	n := p.node(yaml.SequenceNode, "!!seq", 0, "", l.num, indent+1)
	for p.i < len(p.lines) {
		l = p.lines[p.i]
		if l.indent < indent || l.indent == indent && !isSeqEntry(l.text) {
			break
		}
		if l.indent > indent || l.text == "-" {
			p.bail()
		}
		item := strings.TrimLeft(l.text[1:], " ")
		col := indent + len(l.text) - len(item) // 0-based column of the item
		if item == "" || item[0] == '#' || isSeqEntry(item) {
			p.bail()
		}
		if keyEnd(item) >= 0 {
			// "- key: value": a mapping whose keys line up with this one.
			p.lines[p.i] = fastLine{num: l.num, indent: col, text: item}
			n.Content = append(n.Content, p.mapping(col))
			continue
		}
		p.i++
		n.Content = append(n.Content, p.inline(item, l.num, col+1))
	}
	return n
}

// inline reads a value that is all on its line, starting at column col:
// a plain or quoted scalar, or a flow list. A line more indented than the
// value's would continue it: that is left to yaml.v3.
func (p *fastParser) inline(s string, line, col int) *yaml.Node {
	if p.i < len(p.lines) && p.lines[p.i].indent > p.lines[p.i-1].indent {
		p.bail()
	}
	var n *yaml.Node
	var rest string
	switch s[0] {
	case '[':
		n, rest = p.flowList(s, line, col)
	case '{': // only the empty mapping, as export writes a user with no settings
		rest = strings.TrimLeft(s[1:], " ")
		if !strings.HasPrefix(rest, "}") {
			p.bail()
		}
		n, rest = p.node(yaml.MappingNode, "!!map", yaml.FlowStyle, "", line, col), rest[1:]
	case '"', '\'':
		n, rest = p.quoted(s, line, col)
	default:
		v := plainEnd(s, false)
		n, rest = p.plainNode(s[:v], line, col), s[v:]
	}
	if r := strings.TrimLeft(rest, " "); r != "" && (r[0] != '#' || r == rest) {
		panic(notFast{})
	}
	return n
}

// keyEnd returns the index of the ":" that ends a plain key at the start
// of s ("key: value" or "key:"), or -1.
func keyEnd(s string) int {
	i := strings.IndexByte(s, ':')
	if i <= 0 || i > 1000 || i+1 < len(s) && s[i+1] != ' ' { // YAML limits an implicit key to 1,024 characters
		return -1
	}
	if plainEnd(s[:i], false) != i || strings.HasSuffix(s[:i], " ") {
		return -1
	}
	return i
}

// plainEnd returns how much of s is a plain scalar of the conservative
// kind read here (0 when s does not start one): no indicator first, no
// ": " or " #" inside, and in a flow list none of ",?[]{}:" (where
// yaml.v3 ends a plain scalar).
func plainEnd(s string, flow bool) int {
	if s == "" || strings.IndexByte("-?:,[]{}#&*!|>'\"%@`", s[0]) >= 0 && !(s[0] == '-' && len(s) > 1 && isPlainSafe(s[1], flow)) {
		return 0
	}
	end := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ':' && (flow || i+1 == len(s) || s[i+1] == ' '):
			return trimEnd(s, end)
		case c == '#' && i > 0 && s[i-1] == ' ':
			return trimEnd(s, end)
		case flow && strings.IndexByte(",?[]{}", c) >= 0:
			return trimEnd(s, end)
		}
		end = i + 1
	}
	return trimEnd(s, end)
}

func isPlainSafe(c byte, flow bool) bool {
	return c != ' ' && (!flow || strings.IndexByte(",?[]{}", c) < 0)
}

func trimEnd(s string, end int) int {
	for end > 0 && s[end-1] == ' ' {
		end--
	}
	return end
}

// plainNode is a plain scalar, tagged as yaml.v3 resolves it.
func (p *fastParser) plainNode(v string, line, col int) *yaml.Node {
	if v == "" || v == "<<" {
		panic(notFast{})
	}
	n := p.node(yaml.ScalarNode, "!!str", 0, v, line, col)
	if strings.IndexByte("+-0123456789yYnNtTfFoO~.", v[0]) >= 0 {
		// yaml.v3 resolves only these beginnings to anything but a string.
		n.Tag = ""
		n.Tag = n.ShortTag()
	}
	return n
}

// quoted reads a one-line quoted scalar at the start of s; the only
// escapes read are \\ and \" (and a doubled quote in single quotes).
func (p *fastParser) quoted(s string, line, col int) (*yaml.Node, string) {
	q := s[0]
	style := yaml.DoubleQuotedStyle
	if q == '\'' {
		style = yaml.SingleQuotedStyle
	}
	if end := strings.IndexByte(s[1:], q) + 1; end > 0 && strings.IndexByte(s[1:end], '\\') < 0 && (end+1 == len(s) || s[end+1] != q) {
		// No escape and no doubled quote: the value is the text between.
		return p.node(yaml.ScalarNode, "!!str", style, s[1:end], line, col), s[end+1:]
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == q && q == '\'' && i+1 < len(s) && s[i+1] == '\'':
			b.WriteByte('\'')
			i++
		case c == q:
			return p.node(yaml.ScalarNode, "!!str", style, b.String(), line, col), s[i+1:]
		case c == '\\' && q == '"':
			if i+1 == len(s) || s[i+1] != '\\' && s[i+1] != '"' {
				panic(notFast{})
			}
			b.WriteByte(s[i+1])
			i++
		default:
			b.WriteByte(c)
		}
	}
	panic(notFast{}) // a quoted scalar that goes on to the next line
}

// flowList reads a one-line flow list of scalars at the start of s.
func (p *fastParser) flowList(s string, line, col int) (*yaml.Node, string) {
	n := p.node(yaml.SequenceNode, "!!seq", yaml.FlowStyle, "", line, col)
	i := 1
	for {
		for i < len(s) && s[i] == ' ' {
			i++
		}
		if i == len(s) {
			panic(notFast{})
		}
		if s[i] == ']' && len(n.Content) == 0 {
			return n, s[i+1:]
		}
		var item *yaml.Node
		var rest string
		if s[i] == '"' || s[i] == '\'' {
			item, rest = p.quoted(s[i:], line, col+i)
		} else {
			v := plainEnd(s[i:], true)
			item, rest = p.plainNode(s[i:i+v], line, col+i), s[i+v:]
		}
		n.Content = append(n.Content, item)
		rest = strings.TrimLeft(rest, " ")
		switch {
		case strings.HasPrefix(rest, ","):
			rest = rest[1:]
			if strings.HasPrefix(strings.TrimLeft(rest, " "), "]") {
				panic(notFast{}) // a trailing comma
			}
		case strings.HasPrefix(rest, "]"):
			return n, rest[1:]
		default:
			panic(notFast{})
		}
		i = len(s) - len(rest)
	}
}
