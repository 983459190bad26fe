package manage_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/nats-io/jwt/v2"

	"github.com/natsauth/natsauth/audit"
	"github.com/natsauth/natsauth/declare"
	"github.com/natsauth/natsauth/manage"
)

// parseFile parses a file's text with the given variables.
func parseFile(t testing.TB, name, text string, vars map[string]string) *declare.File {
	t.Helper()
	f, err := declare.Parse(name, []byte(text), declare.Options{Vars: vars, Env: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatalf("parse %s: %v", name, err)
	}
	return f
}

// apply applies f to the home of m and fails the test on an error.
func apply(t testing.TB, m *manage.Manager, f *declare.File, o manage.ApplyOptions) *manage.Applied {
	t.Helper()
	out, err := m.Apply(context.Background(), f, o)
	if err != nil {
		t.Fatalf("apply %s: %v", f.Name, err)
	}
	return out
}

// plan plans f on the home of m.
func plan(t testing.TB, m *manage.Manager, f *declare.File, o manage.PlanOptions) *declare.Plan {
	t.Helper()
	p, err := m.Plan(context.Background(), f, o)
	if err != nil {
		t.Fatalf("plan %s: %v", f.Name, err)
	}
	return p
}

// claimsWithoutKeys is a claims' JSON without what differs between two
// homes that hold the same accounts: keys, ids and times of issue.
func claimsWithoutKeys(t testing.TB, c any) map[string]any {
	t.Helper()
	raw, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"sub", "iss", "iat", "jti"} {
		delete(m, k)
	}
	if n, ok := m["nats"].(map[string]any); ok {
		delete(n, "issuer_account")
		delete(n, "signing_keys")
	}
	return m
}

func sameJSON(t testing.TB, a, b any) bool {
	t.Helper()
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// The walkthrough's home, exported and applied to an empty home of another
// operator, gives the same account and user claims (keys and times aside),
// and then a plan of no changes; applying again changes nothing.
func TestExportOfTheWalkthroughAppliedToAnEmptyHome(t *testing.T) {
	ctx := context.Background()
	srcCfg := manage.Config{Home: filepath.Join(t.TempDir(), "walkthrough"), Store: "mem://"}
	src, _, err := manage.EnsureWalkthrough(ctx, srcCfg)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	text, err := declare.Export(src.Home(), declare.ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if seedShape.Match(text) {
		t.Fatalf("the export holds something shaped like a seed:\n%s", text)
	}
	f := parseFile(t, "authority.yaml", string(text), nil)

	dst := open(t, newHome(t))
	if p := plan(t, dst, f, manage.PlanOptions{}); p.Empty() {
		t.Fatal("the plan on an empty home is empty")
	}
	out := apply(t, dst, f, manage.ApplyOptions{})
	if c, u, d := out.Plan.Counts(); c != 5 || u != 0 || d != 0 {
		t.Fatalf("apply created %d, updated %d, deleted %d; want 5 created (an account and 4 users)\n%+v", c, u, d, out.Plan.Changes)
	}
	want, _ := src.Home().Account(manage.WalkthroughAccount)
	got, err := dst.Home().Account(manage.WalkthroughAccount)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := claimsWithoutKeys(t, want.Claims), claimsWithoutKeys(t, got.Claims); !sameJSON(t, a, b) {
		t.Fatalf("account claims differ:\n%v\n%v", a, b)
	}
	for _, u := range manage.WalkthroughUsers() {
		w, _ := src.Home().User(manage.WalkthroughAccount, u.Name)
		g, err := dst.Home().User(manage.WalkthroughAccount, u.Name)
		if err != nil {
			t.Fatal(err)
		}
		if a, b := claimsWithoutKeys(t, w.Claims), claimsWithoutKeys(t, g.Claims); !sameJSON(t, a, b) {
			t.Fatalf("user %s claims differ:\n%v\n%v", u.Name, a, b)
		}
	}
	if p := plan(t, dst, f, manage.PlanOptions{}); !p.Empty() {
		var b strings.Builder
		p.WriteText(&b)
		t.Fatalf("plan after apply is not empty:\n%s", b.String())
	}
	again := apply(t, dst, f, manage.ApplyOptions{})
	if len(again.Plan.Changes) != 0 || len(again.Result.Deliveries) != 0 {
		t.Fatalf("a second apply changed %+v, delivered %+v", again.Plan.Changes, again.Result.Deliveries)
	}
	// One audit entry per object, attributed to the file and its hash.
	entries, err := dst.Audit(ctx, audit.Query{})
	if err != nil {
		t.Fatal(err)
	}
	var fromFile int
	for _, e := range entries {
		if e.Action != audit.ActionStorePut && strings.Contains(e.Command, "authority.yaml (sha256 "+f.SHA256+")") {
			fromFile++
			if e.OSUser == "" {
				t.Errorf("entry without a user: %+v", e)
			}
		}
	}
	if fromFile != 5 {
		t.Fatalf("%d audit entries name the file, want 5: %+v", fromFile, entries)
	}
	_ = jwt.All
}

// seedShape matches an nkeys seed (58 characters, S and a key kind).
var seedShape = regexp.MustCompile(`S[AOU][A-Z2-7]{56}`)
