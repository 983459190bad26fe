package manage_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/natsauth/natsauth/audit"
	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/internal/testkit"
)

// Each sharing change is one audited change through the core: the audit
// names the action and the account, activation tokens appear by id only,
// a consumer grant publishes the exporter before the importer, and a
// refused change writes nothing, not even an audit entry.
func TestSharingChangesAreAuditedAndPublished(t *testing.T) {
	cfg := newHome(t)
	m := open(t, cfg)
	ctx := context.Background()
	for _, n := range []string{"A", "B"} {
		if _, _, err := m.AddAccount(ctx, n, authority.AccountEdit{JSDiskStorage: authority.Int64(-1)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := m.AddExport(ctx, "A", authority.ExportSpec{Subject: "feed.>", Private: true}); err != nil {
		t.Fatal(err)
	}
	act, err := m.GenerateActivation(ctx, "A", authority.ActivationSpec{Target: "B", Subject: "feed.>"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.AddImport(ctx, "B", authority.ImportSpec{Token: act.Token}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.RevokeActivation(ctx, "A", "feed.>", "B", time.Time{}); err != nil {
		t.Fatal(err)
	}
	share, res, err := m.GrantConsumer(ctx, "A", authority.ConsumerGrant{Stream: "S", Consumer: "c", Importer: "B"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Deliveries) < 2 || res.Deliveries[0].Account != "A" || res.Deliveries[1].Account != "B" || share.APIPrefix != "JS.A.API" {
		t.Errorf("grant deliveries %+v, prefix %q: want A published before B", res.Deliveries, share.APIPrefix)
	}
	if _, _, err := m.RevokeConsumer(ctx, "A", authority.ConsumerGrant{Stream: "S", Consumer: "c", Importer: "B"}); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := m.DeleteExport(ctx, "A", "feed.>"); err != nil {
		t.Fatal(err)
	}

	before := testkit.TreeHash(t, cfg.Home)
	if _, _, err := m.AddImport(ctx, "B", authority.ImportSpec{Account: "A", Subject: "nothing"}); !errors.Is(err, authority.ErrInvalid) {
		t.Fatalf("import of nothing: %v", err)
	}
	if _, err := m.GenerateActivation(ctx, "A", authority.ActivationSpec{Target: "B", Subject: "feed.>"}); err == nil {
		t.Fatal("activation of a deleted export")
	}
	if testkit.TreeHash(t, cfg.Home) != before {
		t.Error("a refused change wrote to the home")
	}

	entries, err := m.Audit(ctx, audit.Query{})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range entries {
		if e.Action == audit.ActionStorePut || e.Action == audit.ActionInit || e.Action == audit.ActionAddAccount {
			continue
		}
		actions = append(actions, e.Action+" "+e.AccountName)
		for _, c := range e.Changes {
			if strings.Contains(c.Old+c.New, "eyJ") {
				t.Errorf("%s: change %s carries a JWT", e.Action, c.Path)
			}
		}
	}
	want := "add export A,generate activation A,add import B,revoke activation A,grant consumer A,grant consumer B," +
		"revoke consumer A,revoke consumer B,delete export A"
	if got := strings.Join(actions, ","); got != want {
		t.Errorf("audited:\n  %s\nwant\n  %s", got, want)
	}
}
