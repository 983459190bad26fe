package declare

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"gopkg.in/yaml.v3"

	"github.com/natsauth/natsauth/authority"
)

// sameTree says where two node trees differ in what the decoder reads
// (kind, tag, style, value, position, children), or "" when they do not.
func sameTree(path string, a, b *yaml.Node) string {
	switch {
	case a == nil || b == nil:
		if a != b {
			return fmt.Sprintf("%s: one tree has no node (%v, %v)", path, a, b)
		}
		return ""
	case a.Kind != b.Kind || a.Tag != b.Tag || a.Style != b.Style || a.Value != b.Value ||
		a.Line != b.Line || a.Column != b.Column || a.Anchor != b.Anchor || len(a.Content) != len(b.Content):
		return fmt.Sprintf("%s: fast {kind %d tag %s style %d value %q at %d:%d, %d children}, yaml.v3 {kind %d tag %s style %d value %q at %d:%d, %d children}",
			path, a.Kind, a.Tag, a.Style, a.Value, a.Line, a.Column, len(a.Content),
			b.Kind, b.Tag, b.Style, b.Value, b.Line, b.Column, len(b.Content))
	}
	for i := range a.Content {
		if d := sameTree(fmt.Sprintf("%s/%d", path, i), a.Content[i], b.Content[i]); d != "" {
			return d
		}
	}
	return ""
}

// checkFast parses data both ways; when the fast path takes it, the trees
// must be the same. It returns whether the fast path took it.
func checkFast(t *testing.T, name string, data []byte) bool {
	t.Helper()
	fast, ok := fastParse(data)
	if !ok {
		return false
	}
	var ref yaml.Node
	if err := yaml.Unmarshal(data, &ref); err != nil {
		t.Fatalf("%s: the fast path read a text yaml.v3 refuses (%v):\n%s", name, err, data)
	}
	if d := sameTree("", fast, &ref); d != "" {
		t.Fatalf("%s: %s\n%s", name, d, data)
	}
	return true
}

// The fast path reads what natsauth export writes — here of a home with
// most of the vocabulary — exactly as yaml.v3 does.
func TestFastParseReadsExports(t *testing.T) {
	h, err := authority.Init(filepath.Join(t.TempDir(), "home"), "Op")
	if err != nil {
		t.Fatal(err)
	}
	future := time.Now().AddDate(1, 0, 0).UTC().Truncate(24 * time.Hour)
	steps := []func() error{
		func() error {
			_, err := h.AddAccount("Orders", authority.AccountEdit{Conns: authority.Int64(100), Payload: authority.Int64(1 << 20),
				JSMemStorage: authority.Int64(1 << 20), JSDiskStorage: authority.Int64(1 << 30), JSStreams: authority.Int64(5),
				Description: authority.String("orders: the intake #1"), Tags: []string{"team-a", "*.prod", "yes"}, Expires: &future,
				DefaultPermissions: authority.PermissionEdit{AllowSub: []string{"_INBOX.>"}}, AddSigningKeys: []string{"", ""}})
			return err
		},
		func() error {
			_, err := h.AddExport("Orders", authority.ExportSpec{Subject: "orders.status.*", Service: true,
				ResponseType: jwt.ResponseTypeStream, ResponseThreshold: 2 * time.Second, Description: `say "hi" \ bye`})
			return err
		},
		func() error {
			_, err := h.AddExport("Orders", authority.ExportSpec{Subject: "orders.events.>", Private: true, Name: "it's events"})
			return err
		},
		func() error { _, err := h.AddAccount("Shipping", authority.AccountEdit{}); return err },
		func() error {
			_, err := h.AddImport("Shipping", authority.ImportSpec{Account: "Orders", Subject: "orders.status.*", LocalSubject: "ord.status.*", Service: true})
			return err
		},
		func() error {
			_, err := h.AddUser("Orders", "alice", authority.UserEdit{AllowPub: []string{"orders.>", "*"}, AllowSub: []string{"orders.q workers", "_INBOX.>"},
				DenyPub: []string{"orders.secret"}, Expires: &future})
			return err
		},
		func() error { _, err := h.AddUser("Shipping", "bob", authority.UserEdit{}); return err },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	data, err := Export(h, ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !checkFast(t, "export", data) {
		t.Fatalf("the fast path did not read an export:\n%s", data)
	}
	for _, want := range []string{"{}", "[", "'*'", `"`} { // the styles the export used, read above
		if !strings.Contains(string(data), want) {
			t.Errorf("the export has no %s: this test no longer covers it\n%s", want, data)
		}
	}
}

// Hand-written files in the subset are read the same both ways; anything
// outside it is left to yaml.v3.
func TestFastParseSubset(t *testing.T) {
	for _, tc := range []struct {
		text string
		fast bool
	}{
		{"version: 1\naccounts:\n  A:\n    limits:\n      max-payload: 1MB\n", true},
		{"# c\n\nversion: 1   # the schema\naccounts:\n- a\n- 'b''c'\n- \"d\\\"e\"\n- -1\n- 0x10\n- 2030-01-01\n- ~\n- true\n", true},
		{"a:\n  - x: 1\n    y: [p, \"q r\", 's']\n  -   z: []\n  - {}\n  - [ ]\nb: c:d\n", true},
		{"  a: 1\n  b:\n  - 2\n", true},
		{"a: b # c\nd: e#f\n", true},
		{"a: [x,y]\n", true},
		{"a: { }\n", true},
		{"a:\n", false},                         // empty value
		{"a: |\n  text\n", false},               // block scalar
		{"a: &x 1\nb: *x\n", false},             // anchors
		{"a: b\n  c\n", false},                  // multi-line plain scalar
		{"a: \"b\n  c\"\n", false},              // multi-line quoted
		{"a: \"\\n\"\n", false},                 // other escapes
		{"a: {b: c}\n", false},                  // flow mapping
		{"a: [b, [c]]\n", false},                // nested flow
		{"a: [b, ]\n", false},                   // trailing comma
		{"\"a\": 1\n", false},                   // quoted key
		{"--- \na: 1\n", false},                 // document marker
		{"a: 1\n---\nb: 2\n", false},            // second document
		{"a: é\n", false},                       // beyond ASCII
		{"a:\n\t- b\n", false},                  // tab
		{"a: 1\n b: 2\n", false},                // bad indentation
		{"a: b: c\n", false},                    // yaml.v3 refuses it
		{"- a\nb: 1\n", false},                  // mixed
		{"a:\n  - b\n  c: 1\n", false},          // mixed
		{"<<: 1\n", false},                      // merge key
		{"a: !!str 1\n", false},                 // tag
		{"? a\n: b\n", false},                   // complex key
		{"a: -\n", false},                       // a dash alone
		{"a:\n- \n", false},                     // empty item
		{"a: b #c\n  d: e\n", false},            // continuation after a comment
		{"a: 'x'y\n", false},                    // text after a quoted scalar
		{"a: [x] y\n", false},                   // text after a flow list
		{"a: 1\n#\n  b: 1\n", false},            // indentation after a comment
		{"key : v\n", false},                    // space before the colon
		{"a:\n  -\n    b: 1\n", false},          // an entry on the next line
		{"a:\n  - - b\n", false},                // a nested sequence on one line
		{"%YAML 1.2\n---\na: 1\n", false},       // directive
		{"a: 1\n...\n", false},                  // document end
		{"a: x\r\n", false},                     // CR
		{"", false},                             // empty
		{"# only a comment\n", false},           // nothing
		{"a: '\n", false},                       // unterminated
		{"a: [b\n", false},                      // unterminated flow
		{"a: b\n  - c\n", false},                // yaml.v3 refuses it
		{"a:\n  b: 1\n c: 2\n", false},          // between two indentations
		{"a: @b\n", false},                      // reserved indicator
		{"a: %b\n", false},                      // directive indicator
		{"a: ,b\n", false},                      // flow indicator first
		{"a: b\nb\n", false},                    // a scalar where a key should be
		{"a: [b: c]\n", false},                  // a mapping in a flow list
		{"a: [b c, 'd' e]\n", false},            // text after a quoted item
		{"a: ['\\n']\n", true},                  // backslash in single quotes
		{"a: \"it's\"\nb: 'say \"x\"'\n", true}, // the other quote inside
		{"a: x:y\nb: -x\nc: x - y\nd: [-1, -x]\n", true},
		{"a: b]c\nd: {e\n", false}, // a flow indicator in a block plain scalar is fine for YAML, not a lone {
	} {
		got := checkFast(t, fmt.Sprintf("%q", tc.text), []byte(tc.text))
		if got != tc.fast {
			t.Errorf("%q: fast path %v, want %v", tc.text, got, tc.fast)
		}
	}
}

// The shipped authority files parse to the same File either way.
func TestFastParseShippedFiles(t *testing.T) {
	files, _ := filepath.Glob("../examples/authority/*.yaml")
	if len(files) == 0 {
		t.Fatal("no shipped authority files")
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		checkFast(t, f, data)
	}
}

// Whenever the fast path reads a text, yaml.v3 reads it too and builds
// the same tree.
func FuzzFastYAML(f *testing.F) {
	for _, s := range []string{
		"version: 1\naccounts:\n  A:\n    limits:\n      max-payload: 1MB\n    users:\n      u:\n        allow-pub: [a.>, \"b c\"]\n",
		"a:\n  - x: 1\n    y: [p, 'q']\n  - {}\nb: -1\n",
		"# c\nversion: 1   # v\naccounts:\n- a\n- 'b''c'\n- \"d\\\"e\"\n",
		"a: b]c\nd: e,f\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkFast(t, "input", data)
	})
}
