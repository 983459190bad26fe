package declare

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

func noEnv(string) (string, bool) { return "", false }

func parse(t *testing.T, text string, o Options) (*File, error) {
	t.Helper()
	if o.Env == nil {
		o.Env = noEnv
	}
	return Parse("authority.yaml", []byte(text), o)
}

// Every kind of mistake is reported at its line and column, all at once.
func TestProblemsHaveLineAndColumn(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       []string // each a substring of one problem, with its position
	}{
		{"syntax", "version: 1\naccounts:\n  A:\n    limits: [\n", []string{"authority.yaml:4: syntax:"}},
		{"tab indentation", "version: 1\naccounts:\n\tA: {}\n", []string{"authority.yaml:3: syntax:"}},
		{"unknown field", "version: 1\naccounts:\n  A:\n    limts: {}\n", []string{`authority.yaml:4:5: unknown field "limts"`}},
		{"unknown user field", "version: 1\naccounts:\n  A:\n    users:\n      bob:\n        allow-publish: [x]\n",
			[]string{`authority.yaml:6:9: unknown field "allow-publish"`}},
		{"bad subject", "version: 1\naccounts:\n  A:\n    users:\n      bob:\n        allow-pub: [orders..new, \"a b\"]\n",
			[]string{"authority.yaml:6:21: subject \"orders..new\" has an empty token", "authority.yaml:6:34: publish subject \"a b\" contains a space"}},
		{"bad size", "version: 1\naccounts:\n  A:\n    limits:\n      max-payload: 1XB\n", []string{"authority.yaml:5:20:"}},
		{"two problems", "version: 1\naccounts:\n  A:\n    limits:\n      max-connections: lots\n    jetstream: {streams: 1}\n",
			[]string{"authority.yaml:5:24:", "authority.yaml:6:16: jetstream: give mem-storage and/or disk-storage"}},
		{"relative time", "version: 1\naccounts:\n  A:\n    expiry: 30d\n", []string{"authority.yaml:4:13: time \"30d\""}},
		{"variable not set", "version: 1\naccounts:\n  ${TEAM}: {}\n", []string{"authority.yaml:3:3: variable TEAM is not set"}},
		{"twice", "version: 1\naccounts:\n  A:\n    limits: {}\n    limits: {}\n", []string{"authority.yaml:5:5: limits is given twice"}},
		{"no version", "accounts: {}\n", []string{"authority.yaml:1:1: version is missing"}},
		{"newer version", "version: 2\naccounts:\n  A:\n    a-field-of-version-2: true\n",
			[]string{"authority.yaml:1:10: the file is written for schema version 2; this natsauth reads version 1"}},
		{"export without subject", "version: 1\naccounts:\n  A:\n    exports:\n      - type: service\n",
			[]string{"authority.yaml:5:9: export: give its subject"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse(t, tc.text, Options{})
			var perr *Error
			if !errors.As(err, &perr) {
				t.Fatalf("err = %v, want an *Error", err)
			}
			msg := err.Error()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
			if len(perr.Problems) != len(tc.want) {
				t.Errorf("%d problems, want %d: %v", len(perr.Problems), len(tc.want), msg)
			}
		})
	}
}

// A newer schema version is refused before its fields are looked at.
func TestNewerVersionRefusedAlone(t *testing.T) {
	_, err := parse(t, "version: 7\nwhatever: [\n", Options{})
	if err == nil || !strings.Contains(err.Error(), "syntax") {
		// A syntax error is still a syntax error.
		t.Fatalf("err = %v", err)
	}
	_, err = parse(t, "version: 7\nwhatever: {}\n", Options{})
	var perr *Error
	if !errors.As(err, &perr) || len(perr.Problems) != 1 || !strings.Contains(err.Error(), "upgrade natsauth") {
		t.Fatalf("err = %v", err)
	}
}

// ${NAME} comes from --set, else the environment, else the default; $${
// is a literal; --set with a path overrides a value, creating it.
func TestVariablesAndOverrides(t *testing.T) {
	env := map[string]string{"TEAM": "orders", "CONNS": "10"}
	text := "version: 1\naccounts:\n  ${TEAM}-${ENV:-staging}:\n    description: costs $${PRICE}\n    limits:\n      max-connections: ${CONNS}\n"
	f, err := parse(t, text, Options{Vars: map[string]string{"CONNS": "20"},
		Env: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		Set: map[string]string{"accounts.orders-staging.limits.max-payload": "2MB"}})
	if err != nil {
		t.Fatal(err)
	}
	a := f.Accounts[0]
	if a.Name != "orders-staging" || a.Description != "costs ${PRICE}" || a.Limits.Conn != 20 || a.Limits.Payload != 2_000_000 {
		t.Fatalf("account = %s %q conn %d payload %d", a.Name, a.Description, a.Limits.Conn, a.Limits.Payload)
	}
	if a.Where != "authority.yaml:3:3" {
		t.Fatalf("where = %s", a.Where)
	}
	vars, set, err := ParseSet([]string{"ENV=prod", "accounts.A.limits.max-payload=1KB"})
	if err != nil || vars["ENV"] != "prod" || set["accounts.A.limits.max-payload"] != "1KB" {
		t.Fatalf("ParseSet = %v %v %v", vars, set, err)
	}
	if _, _, err := ParseSet([]string{"novalue"}); err == nil {
		t.Fatal("--set without = accepted")
	}
}

// shippedFiles are the authority files the project ships: examples and
// the YAML blocks of the docs that are authority files.
func shippedFiles(t *testing.T) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	examples, _ := filepath.Glob("../examples/authority/*.yaml")
	for _, p := range examples {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[p] = b
	}
	block := regexp.MustCompile("(?s)```yaml\n(version: .*?)```")
	docs, _ := filepath.Glob("../docs/*.md")
	docs = append(docs, "../README.md")
	for _, p := range docs {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for i, m := range block.FindAllSubmatch(b, -1) {
			out[p+"#"+string(rune('a'+i))] = m[1]
		}
	}
	if len(examples) < 2 {
		t.Fatalf("only %d example files found", len(examples))
	}
	return out
}

// The published schema accepts every file the project ships (after its
// variables take their defaults), and so does Parse; it refuses what
// Parse refuses for its shape.
func TestSchemaAcceptsEveryShippedFile(t *testing.T) {
	var doc any
	if err := json.Unmarshal(Schema(), &doc); err != nil {
		t.Fatalf("the schema is not JSON: %v", err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(SchemaID, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(SchemaID)
	if err != nil {
		t.Fatalf("the schema does not compile: %v", err)
	}
	files := shippedFiles(t)
	for name, data := range files {
		if _, err := Parse(name, data, Options{Env: noEnv}); err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if err := sch.Validate(asJSON(t, data)); err != nil {
			t.Errorf("%s does not match the schema: %v", name, err)
		}
	}
	bad := "version: 1\naccounts:\n  A:\n    limts: {}\n"
	if err := sch.Validate(asJSON(t, []byte(bad))); err == nil {
		t.Error("the schema accepts an unknown field")
	}
	if err := sch.Validate(asJSON(t, []byte("version: 2\n"))); err == nil {
		t.Error("the schema accepts version 2")
	}
}

// asJSON is a file's content as the JSON value a schema validator takes,
// with its variables expanded.
func asJSON(t *testing.T, data []byte) any {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal(data, &n); err != nil {
		t.Fatal(err)
	}
	d := &decoder{opts: Options{Env: noEnv}}
	d.expand(&n)
	if len(d.problems) > 0 {
		t.Fatalf("variables: %v", d.problems)
	}
	var v any
	if err := n.Decode(&v); err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Every field the parser knows is in the schema with a description.
func TestSchemaDescribesEveryField(t *testing.T) {
	s := string(Schema())
	for _, names := range []string{fieldNames(accountFields), fieldNames(userFields), fieldNames(exportFields),
		fieldNames(importFields), fieldNames(signingKeyFields), fieldNames(limitFields), fieldNames(jsFields)} {
		for _, n := range strings.Split(names, ", ") {
			if !strings.Contains(s, `"`+n+`": {`) {
				t.Errorf("field %s is not in the schema", n)
			}
		}
	}
	if strings.Count(s, `"description"`) < 60 {
		t.Errorf("the schema describes only %d things", strings.Count(s, `"description"`))
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"version: 1\naccounts:\n  A:\n    limits: {max-payload: 1MB}\n",
		"version: 1\naccounts:\n  A:\n    users:\n      u: {allow-pub: [a.>], times: [\"08:00:00-17:00:00\"]}\n",
		"version: 1\naccounts:\n  ${X:-a}:\n    exports: [{subject: x.*, type: service, latency: {subject: l, sampling: header}}]\n",
		"version: 2\n", "{", "version: 1\naccounts: &a {B: *a}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse("f.yaml", data, Options{Env: noEnv})
		if err == nil && file == nil {
			t.Fatal("no file and no error")
		}
		var perr *Error
		if err != nil && !errors.As(err, &perr) {
			t.Fatalf("error of another type: %T %v", err, err)
		}
	})
}
