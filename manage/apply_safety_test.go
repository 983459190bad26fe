package manage_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsauth/natsauth/audit"
	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/declare"
	"github.com/natsauth/natsauth/internal/testkit"
	"github.com/natsauth/natsauth/manage"
	"github.com/natsauth/natsauth/store"
)

// A file with a problem is refused whole with the line and column of each
// problem, and nothing is written: not the home, not the store, not the
// audit log.
func TestBadFilesChangeNothing(t *testing.T) {
	cfg := newHome(t)
	storeDir := t.TempDir()
	cfg.Store = "dir://" + storeDir
	m := open(t, cfg)
	good := "version: 1\naccounts:\n  A:\n    users:\n      alice: {allow-pub: [a.>]}\n"
	apply(t, m, parseFile(t, "good.yaml", good, nil), manage.ApplyOptions{})
	before := testkit.TreeHash(t, cfg.Home) + testkit.TreeHash(t, storeDir)
	entries, _ := m.Audit(context.Background(), audit.Query{})
	for _, tc := range []struct {
		name, text string
		want       []string
		kind       error
	}{
		{"syntax", "version: 1\naccounts:\n  A: {users: [\n", []string{"bad.yaml:3: syntax:"}, nil},
		{"unknown field", "version: 1\naccounts:\n  A:\n    limits: {max-conections: 5}\n", []string{`bad.yaml:4:14: unknown field "max-conections"`}, nil},
		{"bad subject", "version: 1\naccounts:\n  A:\n    users:\n      alice: {allow-pub: [\"a.>.b\"]}\n", []string{"bad.yaml:5:27: subject \"a.>.b\" has '>' before its last token"}, nil},
		{"newer version", "version: 2\naccounts: {}\n", []string{"bad.yaml:1:10: the file is written for schema version 2"}, nil},
		{"unknown account in an import", "version: 1\naccounts:\n  A:\n    imports:\n      - {account: Nowhere, subject: x.>}\n  B:\n    users: {bob: {}}\n",
			[]string{`bad.yaml:5:9: import "x.>": source account "Nowhere" is neither an account of the file or the home`}, authority.ErrNotFound},
		{"import nobody exports", "version: 1\naccounts:\n  A:\n    imports:\n      - {account: B, subject: x.>, type: service}\n  B: {}\n",
			[]string{`bad.yaml:5:9: import "x.>": account B has no service export covering "x.>"`}, nil},
		{"role that does not exist", "version: 1\naccounts:\n  A:\n    users:\n      alice: {signing-key: admins}\n",
			[]string{`bad.yaml:5:7: user alice: signing-key: account A has no scoped signing key with role "admins"`}, authority.ErrNotFound},
		{"several at once", "version: 1\naccounts:\n  A:\n    imports:\n      - {account: B, subject: y, type: service}\n    users:\n      alice: {signing-key: admins}\n      bob: {public-key: SUAKEY}\n  B: {}\n",
			[]string{`bad.yaml:5:9: import "y": account B has no service export covering "y"`,
				`bad.yaml:7:7: user alice: signing-key: account A has no scoped signing key with role "admins"`,
				"bad.yaml:8:7: user bob: public-key: that is a user seed"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := declare.Parse("bad.yaml", []byte(tc.text), declare.Options{Env: func(string) (string, bool) { return "", false }})
			if err == nil {
				_, err = m.Apply(context.Background(), f, manage.ApplyOptions{Prune: true})
			}
			if err == nil {
				t.Fatal("the file was applied")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if tc.kind != nil && !errors.Is(err, tc.kind) {
				t.Errorf("error %v is not %v", err, tc.kind)
			}
			if after := testkit.TreeHash(t, cfg.Home) + testkit.TreeHash(t, storeDir); after != before {
				t.Fatal("the home or the store changed")
			}
			now, _ := m.Audit(context.Background(), audit.Query{})
			if len(now) != len(entries) {
				t.Fatalf("the audit log grew from %d to %d entries", len(entries), len(now))
			}
		})
	}
}

// Two applies at once on one home never interleave: each runs alone, and
// both end up applied. One that cannot get the home in time says so.
func TestParallelAppliesDoNotInterleave(t *testing.T) {
	cfg := newHome(t)
	ctx := context.Background()
	files := []*declare.File{
		parseFile(t, "x.yaml", "version: 1\naccounts:\n  X:\n    users: {x1: {}, x2: {}}\n", nil),
		parseFile(t, "y.yaml", "version: 1\naccounts:\n  Y:\n    users: {y1: {}, y2: {}}\n", nil),
	}
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() {
			m, err := manage.Open(cfg)
			if err != nil {
				errs[i] = err
				return
			}
			defer m.Close()
			_, errs[i] = m.Apply(ctx, files[i%2], manage.ApplyOptions{})
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	m := open(t, cfg)
	for _, f := range files {
		if p := plan(t, m, f, manage.PlanOptions{}); !p.Empty() {
			t.Fatalf("after the parallel applies the home does not match %s: %+v", f.Name, p.Changes)
		}
	}
	entries, _ := m.Audit(ctx, audit.Query{})
	created := 0
	for _, e := range entries {
		if e.Action == audit.ActionAddAccount || e.Action == audit.ActionAddUser {
			created++
		}
	}
	if created != 6 {
		t.Fatalf("%d objects created, want 6 (each file applied once, the others no-ops)", created)
	}

	// A change in progress elsewhere: an apply that may not wait long
	// fails clearly, and one that waits goes through once it is done.
	unlock, err := m.Home().LockChanges(ctx)
	if err != nil {
		t.Fatal(err)
	}
	short := cfg
	short.LockTimeout = 200 * time.Millisecond
	ms, err := manage.Open(short)
	if err != nil {
		t.Fatal(err)
	}
	defer ms.Close()
	z := parseFile(t, "z.yaml", "version: 1\naccounts:\n  Z: {}\n", nil)
	if _, err := ms.Apply(ctx, z, manage.ApplyOptions{}); err == nil || !strings.Contains(err.Error(), "another change is in progress") {
		t.Fatalf("err = %v, want another change in progress", err)
	}
	done := make(chan error, 1)
	go func() { _, err := m.Apply(ctx, z, manage.ApplyOptions{}); done <- err }()
	select {
	case err := <-done:
		t.Fatalf("the apply did not wait for the change in progress: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	unlock()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// The same file applied to the home of another operator creates the same
// accounts and users there, with keys of that home; variables and --set
// select what differs, and users can be left out.
func TestPromotionToASecondOperator(t *testing.T) {
	data, err := os.ReadFile("../examples/authority/orders.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	staging := open(t, newHome(t))
	f := parseFile(t, "orders.yaml", string(data), nil)
	apply(t, staging, f, manage.ApplyOptions{})

	prodCfg := manage.Config{Home: filepath.Join(t.TempDir(), "prod")}
	prod, _, err := manage.Init(ctx, prodCfg, "Prod")
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	vars, set, err := declare.ParseSet([]string{"ENV=prod", "ORDERS_CONNECTIONS=5000", "accounts.shipping-prod.limits.max-connections=500"})
	if err != nil {
		t.Fatal(err)
	}
	pf, err := declare.Parse("orders.yaml", data, declare.Options{Vars: vars, Set: set, Env: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	credsDir := t.TempDir()
	out := apply(t, prod, pf, manage.ApplyOptions{CredsDir: credsDir})
	if c, _, _ := out.Plan.Counts(); c != 5 {
		t.Fatalf("%d created in prod, want 2 accounts and 3 users", c)
	}
	for _, pair := range [][2]string{{"orders-staging", "orders-prod"}, {"shipping-staging", "shipping-prod"}} {
		s, err1 := staging.Home().Account(pair[0])
		p, err2 := prod.Home().Account(pair[1])
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if s.Pub == p.Pub || s.Claims.Issuer == p.Claims.Issuer {
			t.Fatalf("%s has the same keys in both homes", pair[1])
		}
		if len(s.Claims.Exports) != len(p.Claims.Exports) || len(s.Claims.Imports) != len(p.Claims.Imports) ||
			len(s.Claims.SigningKeys) != len(p.Claims.SigningKeys) {
			t.Fatalf("%s differs: %+v / %+v", pair[1], s.Claims.Account, p.Claims.Account)
		}
	}
	if a, _ := prod.Home().Account("orders-prod"); a.Claims.Limits.Conn != 5000 {
		t.Fatalf("orders-prod max-connections %d, want 5000", a.Claims.Limits.Conn)
	}
	if a, _ := prod.Home().Account("shipping-prod"); a.Claims.Limits.Conn != 500 {
		t.Fatalf("shipping-prod max-connections %d, want 500 (--set)", a.Claims.Limits.Conn)
	}
	// Every import works in prod: its token was signed by prod's exporter.
	imps, err := prod.Home().Imports(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, im := range imps {
		if len(im.Problems) > 0 || !im.InHome {
			t.Fatalf("import %s of %s: %v", im.Import.Subject, im.Account, im.Problems)
		}
	}
	if p := plan(t, prod, pf, manage.PlanOptions{}); !p.Empty() {
		t.Fatalf("plan after promotion: %+v", p.Changes)
	}

	// Live in prod: the scoped status service answers the dispatcher of
	// the other account through the import.
	n := serve(t, prodCfg.Home, "sqlite://"+filepath.Join(t.TempDir(), "node.db"))
	svc, _ := connect(t, n.ClientURL(), filepath.Join(credsDir, "orders-prod", "status-service.creds"))
	if _, err := svc.Subscribe("orders.status.*", func(m *nats.Msg) { _ = m.Respond([]byte("shipped")) }); err != nil {
		t.Fatal(err)
	}
	if err := svc.Flush(); err != nil {
		t.Fatal(err)
	}
	disp, _ := connect(t, n.ClientURL(), filepath.Join(credsDir, "shipping-prod", "dispatcher.creds"))
	if msg, err := disp.Request("orders.status.42", nil, 5*time.Second); err != nil || string(msg.Data) != "shipped" {
		t.Fatalf("request through the promoted import: %v %v", msg, err)
	}

	// Without users: the accounts only.
	bare := open(t, newHome(t))
	out = apply(t, bare, f, manage.ApplyOptions{NoUsers: true})
	if c, _, _ := out.Plan.Counts(); c != 2 {
		t.Fatalf("--no-users created %d objects, want the 2 accounts", c)
	}
	if us, _ := bare.Home().Users("orders-staging"); len(us) != 0 {
		t.Fatalf("--no-users created users %v", us)
	}
}

// A plan names the accounts whose JWT where the servers read differs from
// the home's — in the store, and on a server given with --server — and
// apply publishes the home's again.
func TestPlanNamesDrift(t *testing.T) {
	cfg := newHome(t)
	m := open(t, cfg)
	ctx := context.Background()
	text := "version: 1\naccounts:\n  A:\n    limits:\n      max-payload: ${PAYLOAD}\n    users: {u: {}}\n  B: {}\n"
	apply(t, m, parseFile(t, "a.yaml", text, map[string]string{"PAYLOAD": "1MB"}), manage.ApplyOptions{})
	// A server of a copy of the home: not registered here, so it keeps
	// the accounts as they are now.
	other := filepath.Join(t.TempDir(), "copy")
	if err := os.CopyFS(other, os.DirFS(cfg.Home)); err != nil {
		t.Fatal(err)
	}
	n := serve(t, other, "mem://")
	f := parseFile(t, "a.yaml", text, map[string]string{"PAYLOAD": "2MB"})
	apply(t, m, f, manage.ApplyOptions{})
	a, _ := m.Home().Account("A")
	st, err := store.Open(ctx, m.StoreURL(), store.Options{Policy: m.Home().Policy()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Delete(ctx, a.Pub); err != nil {
		t.Fatal(err)
	}
	p := plan(t, m, f, manage.PlanOptions{Remote: manage.Remote{Servers: []string{n.ClientURL()}, Wait: 500 * time.Millisecond}})
	var inStore, onServer bool
	for _, d := range p.Drift {
		if d.Account != "A" {
			t.Fatalf("drift of %s: %+v", d.Account, d)
		}
		inStore = inStore || (strings.HasPrefix(d.Target, "sqlite://") && strings.Contains(d.Problem, "missing"))
		onServer = onServer || (d.Target == n.ClientURL() && strings.Contains(d.Problem, "another JWT"))
	}
	if !inStore || !onServer || len(p.Changes) != 0 || p.Empty() {
		t.Fatalf("drift = %+v (changes %+v)", p.Drift, p.Changes)
	}
	out := apply(t, m, f, manage.ApplyOptions{})
	if len(out.Plan.Drift) != 1 || len(out.Plan.Changes) != 0 {
		t.Fatalf("apply: %+v", out.Plan)
	}
	if p := plan(t, m, f, manage.PlanOptions{}); !p.Empty() {
		t.Fatalf("after apply: %+v", p.Drift)
	}
	if _, err := st.Get(ctx, a.Pub); err != nil {
		t.Fatalf("the store still lacks A: %v", err)
	}
}

// The walkthrough as a shipped file gives the walkthrough's home.
func TestWalkthroughFile(t *testing.T) {
	data, err := os.ReadFile("../examples/authority/walkthrough.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	src, _, err := manage.EnsureWalkthrough(ctx, manage.Config{Home: filepath.Join(t.TempDir(), "w"), Store: "mem://"})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	f := parseFile(t, "walkthrough.yaml", string(data), nil)
	if p := plan(t, src, f, manage.PlanOptions{}); !p.Empty() {
		var b strings.Builder
		p.WriteText(&b)
		t.Fatalf("the walkthrough's home does not match the shipped file:\n%s", b.String())
	}
}

// Every authority file the project ships — examples and the docs' YAML —
// applies to an empty home, which then matches it.
func TestShippedFilesApply(t *testing.T) {
	files, _ := filepath.Glob("../examples/authority/*.yaml")
	doc, err := os.ReadFile("../docs/gitops.md")
	if err != nil {
		t.Fatal(err)
	}
	texts := map[string]string{}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		texts[filepath.Base(p)] = string(b)
	}
	for i, block := range strings.Split(string(doc), "```yaml\n")[1:] {
		texts["gitops.md#"+string(rune('a'+i))] = block[:strings.Index(block, "```")]
	}
	if len(texts) < 4 {
		t.Fatalf("only %d files", len(texts))
	}
	for name, text := range texts {
		t.Run(name, func(t *testing.T) {
			m := open(t, newHome(t))
			f := parseFile(t, name, text, nil)
			apply(t, m, f, manage.ApplyOptions{})
			if p := plan(t, m, f, manage.PlanOptions{}); !p.Empty() {
				t.Fatalf("after apply: %+v", p.Changes)
			}
		})
	}
}

// With many accounts the store is read in one pass (store.Scan): drift
// is still named account by account.
func TestPlanNamesStoreDriftOfManyAccounts(t *testing.T) {
	cfg := newHome(t)
	m := open(t, cfg)
	ctx := context.Background()
	var b strings.Builder
	b.WriteString("version: 1\naccounts:\n")
	for i := range 70 {
		fmt.Fprintf(&b, "  A%02d: {}\n", i)
	}
	f := parseFile(t, "many.yaml", b.String(), nil)
	apply(t, m, f, manage.ApplyOptions{})
	st, err := store.Open(ctx, m.StoreURL(), store.Options{Policy: m.Home().Policy()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, n := range []string{"A07", "A63"} {
		a, _ := m.Home().Account(n)
		if err := st.Delete(ctx, a.Pub); err != nil {
			t.Fatal(err)
		}
	}
	p := plan(t, m, f, manage.PlanOptions{})
	var got []string
	for _, d := range p.Drift {
		if !strings.Contains(d.Problem, "missing") {
			t.Errorf("drift of %s: %s", d.Account, d.Problem)
		}
		got = append(got, d.Account)
	}
	if strings.Join(got, ",") != "A07,A63" {
		t.Fatalf("drift named %v, want A07 and A63", got)
	}
}
