package declare

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/jwt/v2"
	"gopkg.in/yaml.v3"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/internal/units"
)

// field is one key of a mapping: its JSON Schema, its description, and
// how its value is read into a T. The same tables drive Parse and Schema,
// so the two never disagree.
type field[T any] struct {
	name   string
	schema map[string]any
	doc    string
	set    func(d *decoder, n *yaml.Node, v *T)
}

// lift makes fields of a U into fields of a T that holds one.
func lift[T, U any](fs []field[U], get func(*T) *U) []field[T] {
	out := make([]field[T], len(fs))
	for i, f := range fs {
		set := f.set
		out[i] = field[T]{name: f.name, schema: f.schema, doc: f.doc,
			set: func(d *decoder, n *yaml.Node, v *T) { set(d, n, get(v)) }}
	}
	return out
}

// decodeMapping reads mapping n into v, refusing unknown and repeated keys.
func decodeMapping[T any](d *decoder, n *yaml.Node, fields []field[T], v *T) {
	n = resolve(n)
	if n == nil || isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.fail(n, "want a mapping (of %s), not %s", fieldNames(fields), describe(n))
		return
	}
	var few [64]bool // which fields were given, without an allocation per mapping
	seen := few[:]
	if len(fields) > len(few) {
		seen = make([]bool, len(fields))
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], resolve(n.Content[i+1])
		f := -1
		for j := range fields {
			if fields[j].name == k.Value {
				f = j
			}
		}
		switch {
		case f < 0:
			d.fail(k, "unknown field %q (known here: %s)", k.Value, fieldNames(fields))
		case seen[f]:
			d.fail(k, "%s is given twice", k.Value)
		default:
			seen[f] = true
			fields[f].set(d, val, v)
		}
	}
}

func fieldNames[T any](fs []field[T]) string {
	names := make([]string, 0, len(fs))
	for _, f := range fs {
		if f.name != "version" {
			names = append(names, f.name)
		}
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return fmt.Sprintf("%q", n.Value)
}

// scalar reports whether n is a single value, failing otherwise.
func (d *decoder) scalar(n *yaml.Node, what string) bool {
	if n.Kind != yaml.ScalarNode {
		d.fail(n, "%s: want a single value, not %s", what, describe(n))
		return false
	}
	return true
}

func (d *decoder) str(n *yaml.Node) string {
	if isNull(n) || !d.scalar(n, "value") {
		return ""
	}
	return n.Value
}

func (d *decoder) boolean(n *yaml.Node) bool {
	if !d.scalar(n, "value") {
		return false
	}
	switch strings.ToLower(n.Value) {
	case "true", "yes", "on":
		return true
	case "false", "no", "off":
		return false
	}
	d.fail(n, "%q is not true or false", n.Value)
	return false
}

// count reads a count limit: a number, -1 for unlimited.
func (d *decoder) count(n *yaml.Node) int64 {
	if !d.scalar(n, "count") {
		return 0
	}
	v, err := units.ParseCount(n.Value)
	if err != nil {
		d.fail(n, "%v (a count: a number, or -1 for unlimited)", err)
	}
	return v
}

// size reads a byte size: a number of bytes or "1MB", "512KiB"; -1 for
// unlimited.
func (d *decoder) size(n *yaml.Node) int64 {
	if !d.scalar(n, "size") {
		return 0
	}
	v, err := units.ParseSize(n.Value)
	if err != nil {
		d.fail(n, "%v (a size: bytes, or with a unit such as 512KB, 1MB, 1GiB; -1 for unlimited)", err)
	}
	return v
}

func (d *decoder) duration(n *yaml.Node) time.Duration {
	if !d.scalar(n, "duration") {
		return 0
	}
	v, err := units.ParseTTL(n.Value)
	if err != nil {
		d.fail(n, "%v", err)
	}
	return v
}

// instant reads an absolute time: yyyy-mm-dd (midnight UTC) or RFC 3339.
// A relative time ("30d") is refused: the file would mean another time at
// each apply.
func (d *decoder) instant(n *yaml.Node) time.Time {
	if isNull(n) || !d.scalar(n, "time") {
		return time.Time{}
	}
	if n.Value == "0" {
		return time.Time{}
	}
	for _, layout := range []string{"2006-01-02", time.RFC3339} {
		if t, err := time.Parse(layout, n.Value); err == nil {
			return t.UTC()
		}
	}
	d.fail(n, "time %q: give a date (2030-01-31) or an RFC 3339 time (2030-01-31T12:00:00Z); a relative time such as 30d "+
		"would change at every apply", n.Value)
	return time.Time{}
}

func (d *decoder) integer(n *yaml.Node, lo, hi int) int {
	if !d.scalar(n, "number") {
		return 0
	}
	v, err := strconv.Atoi(n.Value)
	if err != nil || v < lo || v > hi {
		d.fail(n, "%q: want a whole number from %d to %d", n.Value, lo, hi)
	}
	return v
}

// list returns the items of a sequence; a single value is a list of one.
func (d *decoder) list(n *yaml.Node) []*yaml.Node {
	switch {
	case isNull(n):
		return nil
	case n.Kind == yaml.SequenceNode:
		out := make([]*yaml.Node, len(n.Content))
		for i, c := range n.Content {
			out[i] = resolve(c)
		}
		return out
	case n.Kind == yaml.ScalarNode:
		return []*yaml.Node{n}
	}
	d.fail(n, "want a list, not %s", describe(n))
	return nil
}

func (d *decoder) strs(n *yaml.Node) []string {
	var out []string
	for _, c := range d.list(n) {
		if d.scalar(c, "list item") {
			out = append(out, c.Value)
		}
	}
	return out
}

// subject reads one subject; wildcards are allowed.
func (d *decoder) subject(n *yaml.Node) string {
	s := d.str(n)
	if err := authority.CheckSubject(s); err != nil {
		d.fail(n, "%v", err)
	}
	return s
}

// subjects reads permission subjects; queue allows "subject queue" (a
// subscription in a queue group).
func (d *decoder) subjects(n *yaml.Node, queue bool) []string {
	var out []string
	for _, c := range d.list(n) {
		if !d.scalar(c, "subject") {
			continue
		}
		s := c.Value
		subj, q, hasQueue := strings.Cut(s, " ")
		switch {
		case hasQueue && !queue:
			d.fail(c, "publish subject %q contains a space (a queue group applies to subscriptions only)", s)
		case hasQueue:
			if err := authority.CheckSubject(subj); err != nil {
				d.fail(c, "%v", err)
			} else if err := authority.CheckSubject(q); err != nil {
				d.fail(c, "queue group in %q: %v", s, err)
			}
		default:
			if err := authority.CheckSubject(s); err != nil {
				d.fail(c, "%v", err)
			}
		}
		out = append(out, s)
	}
	return out
}

// networks reads source networks: CIDRs or single addresses.
func (d *decoder) networks(n *yaml.Node) []string {
	var out []string
	for _, c := range d.list(n) {
		if !d.scalar(c, "network") {
			continue
		}
		if _, _, err := net.ParseCIDR(c.Value); err != nil && net.ParseIP(c.Value) == nil {
			d.fail(c, "%q is not a CIDR network such as 10.0.0.0/8 or an IP address", c.Value)
		}
		out = append(out, c.Value)
	}
	return out
}

var connTypes = []string{jwt.ConnectionTypeStandard, jwt.ConnectionTypeWebsocket, jwt.ConnectionTypeLeafnode,
	jwt.ConnectionTypeLeafnodeWS, jwt.ConnectionTypeMqtt, jwt.ConnectionTypeMqttWS, jwt.ConnectionTypeInProcess}

func (d *decoder) connTypes(n *yaml.Node) []string {
	var out []string
	for _, c := range d.list(n) {
		if !d.scalar(c, "connection type") {
			continue
		}
		u := strings.ToUpper(c.Value)
		ok := false
		for _, t := range connTypes {
			ok = ok || t == u
		}
		if !ok {
			d.fail(c, "unknown connection type %q (use %s)", c.Value, strings.Join(connTypes, ", "))
		}
		out = append(out, u)
	}
	return out
}

func (d *decoder) times(n *yaml.Node) []jwt.TimeRange {
	var out []jwt.TimeRange
	for _, c := range d.list(n) {
		if !d.scalar(c, "time window") {
			continue
		}
		tr, err := authority.ParseTimeRange(c.Value)
		if err != nil {
			d.fail(c, "%v", err)
		}
		out = append(out, tr)
	}
	return out
}

func (d *decoder) enum(n *yaml.Node, values ...string) string {
	s := d.str(n)
	for _, v := range values {
		if strings.EqualFold(s, v) {
			return v
		}
	}
	d.fail(n, "%q: want one of %s", s, strings.Join(values, ", "))
	return s
}

// JSON Schema fragments of the value kinds.
func sType(t, doc string) map[string]any { return map[string]any{"type": t, "description": doc} }

func sCount(doc string) map[string]any {
	return map[string]any{"type": []string{"integer", "string"}, "description": doc + " (-1: unlimited)"}
}

func sSize(doc string) map[string]any {
	return map[string]any{"type": []string{"integer", "string"},
		"description": doc + ": bytes, or with a unit (512KB, 1MB, 1GiB; -1: unlimited)"}
}

func sList(doc string) map[string]any {
	return map[string]any{"description": doc, "oneOf": []any{
		map[string]any{"type": "string"}, map[string]any{"type": "array", "items": map[string]any{"type": "string"}}}}
}

func sTime(doc string) map[string]any {
	return map[string]any{"type": "string", "description": doc + ": a date (2030-01-31) or an RFC 3339 time",
		"pattern": `^(0|[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt ][0-9:.]+([Zz]|[+-][0-9]{2}:[0-9]{2})?)?)$`}
}

func sEnum(doc string, values ...string) map[string]any {
	return map[string]any{"type": "string", "enum": values, "description": doc}
}
