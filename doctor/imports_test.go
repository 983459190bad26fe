package doctor

import (
	"strings"
	"testing"
	"time"

	"github.com/natsauth/natsauth/authority"
)

// Imports that worked when added and broke later are reported, and so is a
// token about to expire.
func TestImportsThatBrokeLater(t *testing.T) {
	h := initHome(t)
	for _, n := range []string{"A", "B", "C"} {
		if _, err := h.AddAccount(n, authority.AccountEdit{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []authority.ExportSpec{
		{Subject: "feed.>"}, {Subject: "api.>", Service: true, Private: true}, {Subject: "keep.>"},
	} {
		if _, err := h.AddExport("A", s); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	act, err := h.GenerateActivation("A", authority.ActivationSpec{Target: "C", Subject: "api.>", Expires: now.Add(10 * 24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		acc string
		s   authority.ImportSpec
	}{
		{"B", authority.ImportSpec{Account: "A", Subject: "feed.>"}},
		{"B", authority.ImportSpec{Account: "A", Subject: "keep.>"}},
		{"C", authority.ImportSpec{Token: act.Token, LocalSubject: "a.api.>"}},
	} {
		if _, err := h.AddImport(step.acc, step.s); err != nil {
			t.Fatal(err)
		}
	}
	fs, err := CheckImports(h, Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 1 {
		t.Fatalf("healthy imports: %+v, want only the expiring token", fs)
	}
	want(t, fs, Medium, CheckActivationExpiring, "import C/api.> from A", "generate activation -a A -t C -s 'api.>'", "add import -a C -u token.jwt")

	// The export is removed: B's import breaks.
	if _, _, err := h.DeleteExport("A", "feed.>"); err != nil {
		t.Fatal(err)
	}
	// Past the token's expiry, C's import is broken too, not expiring.
	later := now.Add(11 * 24 * time.Hour)
	fs, err = CheckHome(h, Options{Now: func() time.Time { return later }})
	if err != nil {
		t.Fatal(err)
	}
	want(t, fs, High, CheckImportBroken, "import B/feed.> from A", "add export -a A -s 'feed.>'")
	want(t, fs, High, CheckImportBroken, "import C/api.> from A", "generate activation")
	if got := find(fs, CheckActivationExpiring, "import C/api.> from A"); len(got) != 0 {
		t.Errorf("an expired token is also reported as expiring: %+v", got)
	}
	if got := find(fs, CheckImportBroken, "import B/keep.> from A"); len(got) != 0 {
		t.Errorf("a working import is reported: %+v", got)
	}
	for _, f := range find(fs, CheckImportBroken, "import C/api.> from A") {
		if !contains(f.Why, "expired") {
			t.Errorf("why = %q, want the expiry named", f.Why)
		}
	}
	// A revoked token breaks the import as well.
	if _, err := h.RevokeActivation("A", "api.>", "C", time.Time{}); err != nil {
		t.Fatal(err)
	}
	fs, _ = CheckImports(h, Options{Now: func() time.Time { return now }})
	for _, f := range find(fs, CheckImportBroken, "import C/api.> from A") {
		if !contains(f.Why, "revoked") {
			t.Errorf("why = %q, want the revocation named", f.Why)
		}
	}
	if len(find(fs, CheckImportBroken, "import C/api.> from A")) != 1 {
		t.Errorf("revoked import not reported: %+v", fs)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
