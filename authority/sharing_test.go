package authority

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"

	"github.com/natsauth/natsauth/internal/testkit"
)

// sharingHome has accounts A (exporter) and B, C (importers) with a
// public service, a private service, a public stream, a private stream
// and a public stream with an account token position.
func sharingHome(t *testing.T) (*Home, *AccountInfo, *AccountInfo, *AccountInfo) {
	t.Helper()
	h := newHome(t)
	mustAccount(t, h, "A", AccountEdit{})
	b := mustAccount(t, h, "B", AccountEdit{})
	c := mustAccount(t, h, "C", AccountEdit{})
	for _, s := range []ExportSpec{
		{Subject: "svc.pub.>", Service: true},
		{Subject: "svc.priv.>", Service: true, Private: true, ResponseType: jwt.ResponseTypeStream,
			ResponseThreshold: 2 * time.Second, LatencySubject: "lat.svc", LatencySampling: "100"},
		{Subject: "feed.pub.>"},
		{Subject: "feed.priv.>", Private: true},
		{Subject: "per.*.events", AccountTokenPosition: 2},
	} {
		if _, err := h.AddExport("A", s); err != nil {
			t.Fatalf("AddExport(%s): %v", s.Subject, err)
		}
	}
	a, err := h.Account("A")
	if err != nil {
		t.Fatal(err)
	}
	return h, a, b, c
}

func mustActivation(t *testing.T, h *Home, account string, s ActivationSpec) *Activation {
	t.Helper()
	act, err := h.GenerateActivation(account, s)
	if err != nil {
		t.Fatalf("GenerateActivation: %v", err)
	}
	return act
}

func TestExportsAsNscWritesThem(t *testing.T) {
	h, a, _, _ := sharingHome(t)
	raw, err := os.ReadFile(h.accountJWTPath("A"))
	if err != nil {
		t.Fatal(err)
	}
	ac, err := jwt.DecodeAccountClaims(string(raw))
	if err != nil {
		t.Fatal(err)
	}
	if len(ac.Exports) != 5 || ac.ID != a.Claims.ID {
		t.Fatalf("%d exports on disk", len(ac.Exports))
	}
	byS := map[string]*jwt.Export{}
	for _, x := range ac.Exports {
		byS[string(x.Subject)] = x
	}
	pub := byS["svc.pub.>"]
	if pub.Name != "svc.pub.>" || pub.Type != jwt.Service || pub.TokenReq || pub.ResponseType != jwt.ResponseTypeSingleton {
		t.Errorf("public service export = %+v, want nsc's defaults (name = subject, Singleton)", pub)
	}
	priv := byS["svc.priv.>"]
	if !priv.TokenReq || priv.ResponseType != jwt.ResponseTypeStream || priv.ResponseThreshold != 2*time.Second ||
		priv.Latency == nil || priv.Latency.Results != "lat.svc" || priv.Latency.Sampling != 100 {
		t.Errorf("private service export = %+v", priv)
	}
	if s := byS["feed.pub.>"]; s.Type != jwt.Stream || s.ResponseType != "" {
		t.Errorf("stream export = %+v", s)
	}
	if p := byS["per.*.events"]; p.AccountTokenPosition != 2 {
		t.Errorf("token position export = %+v", p)
	}

	// Edit keeps what it does not name (nsc's edit export drops the
	// revocations and token position; natsauth keeps them).
	if _, err := h.RevokeActivation("A", "svc.priv.>", "B", time.Time{}); err != nil {
		t.Fatal(err)
	}
	info, err := h.EditExport("A", "svc.priv.>", ExportEdit{Description: String("orders API"),
		InfoURL: String("https://example.com/orders"), LatencySampling: String("header")})
	if err != nil {
		t.Fatal(err)
	}
	x := exportOf(info, "svc.priv.>")
	if x.Description != "orders API" || x.InfoURL != "https://example.com/orders" || x.Latency.Sampling != jwt.Headers ||
		x.Latency.Results != "lat.svc" || x.ResponseType != jwt.ResponseTypeStream || len(x.Revocations) != 1 {
		t.Errorf("edited export = %+v", x)
	}
	info, err = h.EditExport("A", "svc.priv.>", ExportEdit{RemoveLatency: true})
	if err != nil || exportOf(info, "svc.priv.>").Latency != nil {
		t.Errorf("rm latency: %v", err)
	}
	info, importers, err := h.DeleteExport("A", "feed.pub.>")
	if err != nil || len(info.Claims.Exports) != 4 || len(importers) != 0 {
		t.Errorf("DeleteExport = %v, %d exports, importers %v", err, len(info.Claims.Exports), importers)
	}
}

func TestExportValidation(t *testing.T) {
	h, _, _, _ := sharingHome(t)
	if _, err := h.EditAccount("B", AccountEdit{Exports: Int64(0)}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.EditAccount("C", AccountEdit{WildcardExports: Bool(false)}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		run     func() error
		kind    error
		phrases []string
	}{
		{"duplicate", func() error { _, err := h.AddExport("A", ExportSpec{Subject: "feed.pub.>"}); return err },
			ErrExists, []string{`already exports the stream "feed.pub.>"`}},
		{"covered by existing", func() error { _, err := h.AddExport("A", ExportSpec{Subject: "feed.pub.x"}); return err },
			ErrInvalid, []string{"overlaps the existing export", "already covers it"}},
		{"covers existing", func() error { _, err := h.AddExport("A", ExportSpec{Subject: "feed.>"}); return err },
			ErrInvalid, []string{"overlaps", "which it would cover"}},
		{"token position on literal", func() error {
			_, err := h.AddExport("A", ExportSpec{Subject: "lit.a.b", AccountTokenPosition: 2})
			return err
		}, ErrInvalid, []string{`account-token-position 2 points at "a"`, "'*'"}},
		{"token position past end", func() error {
			_, err := h.AddExport("A", ExportSpec{Subject: "x.*", AccountTokenPosition: 3})
			return err
		}, ErrInvalid, []string{"past the last token"}},
		{"token position on private", func() error {
			_, err := h.AddExport("A", ExportSpec{Subject: "y.*", AccountTokenPosition: 2, Private: true})
			return err
		}, ErrInvalid, []string{"public exports only"}},
		{"many bad values at once", func() error {
			_, err := h.AddExport("A", ExportSpec{Subject: "a..b", ResponseType: "Many", LatencySubject: "lat.*",
				LatencySampling: "101", AllowTrace: true, InfoURL: "ftp://x"})
			return err
		}, ErrInvalid, []string{"empty token", "response-type", "latency tracking applies to services", "wildcards",
			"sampling \"101\"", "allow-trace", "info-url"}},
		{"latency without sampling", func() error {
			_, err := h.AddExport("A", ExportSpec{Subject: "q.s", Service: true, LatencySubject: "lat.q"})
			return err
		}, ErrInvalid, []string{"needs a sampling rate"}},
		{"threshold on stream", func() error {
			_, err := h.AddExport("A", ExportSpec{Subject: "q.t", ResponseThreshold: time.Second})
			return err
		}, ErrInvalid, []string{"response-threshold applies to services only"}},
		{"export limit", func() error { _, err := h.AddExport("B", ExportSpec{Subject: "b.x"}); return err },
			ErrInvalid, []string{"allows at most 0 (max-exports)"}},
		{"wildcards forbidden", func() error { _, err := h.AddExport("C", ExportSpec{Subject: "c.>"}); return err },
			ErrInvalid, []string{"does not allow wildcard exports"}},
		{"unknown account", func() error { _, err := h.AddExport("Nope", ExportSpec{Subject: "n"}); return err },
			ErrNotFound, []string{`account "Nope" not found`}},
		{"edit unknown export", func() error { _, err := h.EditExport("A", "nope", ExportEdit{Name: String("x")}); return err },
			ErrNotFound, []string{`no export "nope"`, "its exports"}},
		{"edit nothing", func() error { _, err := h.EditExport("A", "feed.pub.>", ExportEdit{}); return err },
			ErrInvalid, []string{"nothing to change"}},
		{"edit latency onto stream", func() error {
			_, err := h.EditExport("A", "feed.pub.>", ExportEdit{LatencySubject: String("l"), LatencySampling: String("5")})
			return err
		}, ErrInvalid, []string{"services only"}},
		{"delete unknown", func() error { _, _, err := h.DeleteExport("A", "zzz"); return err },
			ErrNotFound, []string{`no export "zzz"`}},
		{"wildcard-exports false with wildcard export", func() error {
			_, err := h.EditAccount("A", AccountEdit{WildcardExports: Bool(false)})
			return err
		}, ErrInvalid, []string{"has wildcards; delete that export first"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := testkit.TreeHash(t, h.Dir())
			err := tt.run()
			if !errors.Is(err, tt.kind) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want %v and ErrInvalid", err, tt.kind)
			}
			for _, p := range tt.phrases {
				if !strings.Contains(err.Error(), p) {
					t.Errorf("error %q does not mention %q", err, p)
				}
			}
			if after := testkit.TreeHash(t, h.Dir()); after != before {
				t.Errorf("failed operation changed the home")
			}
		})
	}
}

func TestImportsAndActivations(t *testing.T) {
	h, a, b, _ := sharingHome(t)
	// Public service with remapping, by source name.
	info, err := h.AddImport("B", ImportSpec{Account: "A", Subject: "svc.pub.>", LocalSubject: "a.svc.>", Service: true, Share: true})
	if err != nil {
		t.Fatal(err)
	}
	im := info.Claims.Imports[0]
	if im.Account != a.Pub || im.Subject != "svc.pub.>" || im.LocalSubject != "a.svc.>" || !im.IsService() || !im.Share || im.Name != "svc.pub.>" {
		t.Errorf("import = %+v", im)
	}
	// Private stream with a decorated token, as nsc's generate activation writes it.
	act := mustActivation(t, h, "A", ActivationSpec{Target: "B", Subject: "feed.priv.>", Expires: time.Now().Add(time.Hour)})
	if act.Claims.Subject != b.Pub || act.Claims.Issuer != a.Pub || act.Claims.IssuerAccount != "" ||
		act.Claims.ImportType != jwt.Stream || act.Claims.Name != "feed.priv.>" || act.Claims.Expires == 0 {
		t.Errorf("activation claims = %+v", act.Claims)
	}
	dec, err := act.Decorated()
	if err != nil {
		t.Fatal(err)
	}
	info, err = h.AddImport("B", ImportSpec{Token: string(dec), LocalSubject: "from.a.>", AllowTrace: true})
	if err != nil {
		t.Fatal(err)
	}
	im = importOf(info, "feed.priv.>")
	if im.Token != act.Token || im.Account != a.Pub || im.Subject != "feed.priv.>" || im.Type != jwt.Stream || !im.AllowTrace {
		t.Errorf("token import = %+v", im)
	}
	// Account token position: the importer's key in token 2.
	if _, err := h.AddImport("B", ImportSpec{Account: a.Pub, Subject: "per." + b.Pub + ".events"}); err != nil {
		t.Fatal(err)
	}
	imps, err := h.Imports(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range imps {
		if len(i.Problems) > 0 || !i.InHome || i.Source != "A" || i.Export == nil {
			t.Errorf("import %s: %+v", i.Import.Subject, i)
		}
	}
	exps, err := h.Exports()
	if err != nil {
		t.Fatal(err)
	}
	var importers int
	for _, e := range exps {
		importers += len(e.Importers)
	}
	if importers != 3 {
		t.Errorf("exports name %d importers, want 3: %+v", importers, exps)
	}

	// Revocations: add, list, delete.
	if _, err := h.RevokeActivation("A", "feed.priv.>", "B", time.Time{}); err != nil {
		t.Fatal(err)
	}
	revs, err := h.ActivationRevocations("A")
	if err != nil || len(revs) != 1 || revs[0].Account != b.Pub || revs[0].Name != "B" || revs[0].Service {
		t.Fatalf("revocations = %+v, %v", revs, err)
	}
	imps, _ = h.Imports(time.Now())
	if p := problemsOf(imps, "feed.priv.>"); !strings.Contains(p, "revoked") {
		t.Errorf("revoked import problems = %q", p)
	}
	if _, err := h.UnrevokeActivation("A", "feed.priv.>", "B"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.RevokeActivation("A", "svc.priv.>", "*", time.Time{}); err != nil {
		t.Fatal(err)
	}
	revs, _ = h.ActivationRevocations("A")
	if len(revs) != 1 || revs[0].Account != "*" || !revs[0].Service {
		t.Errorf("revocations = %+v", revs)
	}
	// Delete an import.
	info, err = h.DeleteImport("B", "svc.pub.>", "")
	if err != nil || len(info.Claims.Imports) != 2 {
		t.Errorf("DeleteImport: %v", err)
	}
}

func exportOf(a *AccountInfo, subject string) *jwt.Export {
	for _, x := range a.Claims.Exports {
		if string(x.Subject) == subject {
			return x
		}
	}
	return &jwt.Export{}
}

func importOf(a *AccountInfo, subject string) *jwt.Import {
	for _, x := range a.Claims.Imports {
		if string(x.Subject) == subject {
			return x
		}
	}
	return &jwt.Import{}
}

func problemsOf(imps []ImportInfo, subject string) string {
	for _, i := range imps {
		if string(i.Import.Subject) == subject {
			return strings.Join(i.Problems, "; ")
		}
	}
	return "no such import"
}

func TestImportValidation(t *testing.T) {
	h, a, b, c := sharingHome(t)
	forC := mustActivation(t, h, "A", ActivationSpec{Target: "C", Subject: "feed.priv.>"})
	short := mustActivation(t, h, "A", ActivationSpec{Target: "B", Subject: "feed.priv.>", Expires: time.Now().Add(2 * time.Second)})
	narrow := mustActivation(t, h, "A", ActivationSpec{Target: "B", Subject: "svc.priv.x", Start: time.Now().Add(-time.Hour)})
	// A token of another issuer: signed by B for B.
	bkp, err := h.readKey(b.Pub)
	if err != nil {
		t.Fatal(err)
	}
	foreign := jwt.NewActivationClaims(b.Pub)
	foreign.ImportSubject, foreign.ImportType = "feed.priv.>", jwt.Stream
	foreignTok, err := foreign.Encode(bkp)
	if err != nil {
		t.Fatal(err)
	}
	// Cycle: C imports service "loop" from B, B exports it; then B importing "loop" from C's export would cycle.
	if _, err := h.AddExport("B", ExportSpec{Subject: "loop", Service: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.AddExport("C", ExportSpec{Subject: "loop", Service: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.AddImport("C", ImportSpec{Account: "B", Subject: "loop", Service: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.AddExport("B", ExportSpec{Subject: "ring.>"}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.AddExport("C", ExportSpec{Subject: "ring.>"}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.AddImport("C", ImportSpec{Account: "B", Subject: "ring.>"}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.EditAccount("C", AccountEdit{Imports: Int64(2)}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(time.Unix(short.Claims.Expires, 0).Add(10 * time.Millisecond)))
	tests := []struct {
		name    string
		account string
		spec    ImportSpec
		kind    error
		phrases []string
	}{
		{"no export covers", "B", ImportSpec{Account: "A", Subject: "other.x"}, ErrInvalid,
			[]string{`account A has no stream export covering "other.x"`, `"feed.pub.>"`}},
		{"kind mismatch", "B", ImportSpec{Account: "A", Subject: "feed.pub.x", Service: true}, ErrInvalid,
			[]string{"no service export covering"}},
		{"private without token", "B", ImportSpec{Account: "A", Subject: "feed.priv.x"}, ErrInvalid,
			[]string{"is private", "natsauth generate activation -a A -t B -s feed.priv.x"}},
		{"token for another account", "B", ImportSpec{Token: forC.Token}, ErrInvalid,
			[]string{"activation token is for account " + c.Pub + ", not for B"}},
		{"expired token", "B", ImportSpec{Token: short.Token}, ErrInvalid, []string{"activation token expired at"}},
		{"token of another issuer", "B", ImportSpec{Account: "A", Subject: "feed.priv.>", Token: foreignTok}, ErrInvalid,
			[]string{"not by the source account A"}},
		{"token narrower than import", "B", ImportSpec{Account: "A", Subject: "svc.priv.>", Service: true, Token: narrow.Token}, ErrInvalid,
			[]string{`grants "svc.priv.x", which does not cover "svc.priv.>"`}},
		{"token is not a token", "B", ImportSpec{Token: "garbage"}, ErrInvalid, []string{"not an activation token"}},
		{"token position not ours", "B", ImportSpec{Account: "A", Subject: "per." + c.Pub + ".events"}, ErrInvalid,
			[]string{"token 2", "per." + b.Pub + ".events"}},
		{"service cycle", "B", ImportSpec{Account: "C", Subject: "loop", Service: true}, ErrInvalid,
			[]string{"import cycle", "C imports service \"loop\" from B"}},
		{"stream cycle", "B", ImportSpec{Account: "C", Subject: "ring.>"}, ErrInvalid,
			[]string{"import cycle"}},
		{"import limit", "C", ImportSpec{Account: "A", Subject: "feed.pub.>"}, ErrInvalid,
			[]string{"allows at most 2 (max-imports)"}},
		{"from itself", "A", ImportSpec{Account: "A", Subject: "feed.pub.>"}, ErrInvalid, []string{"imports from itself"}},
		{"unknown source", "B", ImportSpec{Account: "Nope", Subject: "x"}, ErrNotFound,
			[]string{`source account "Nope" is neither an account of this home`}},
		{"bad subjects and flags", "B", ImportSpec{Account: "A", Subject: "a..b", LocalSubject: "x y", Share: true}, ErrInvalid,
			[]string{"remote subject", "local subject", "share applies to service imports only"}},
		{"trace on service import", "B", ImportSpec{Account: "A", Subject: "svc.pub.x", Service: true, AllowTrace: true}, ErrInvalid,
			[]string{"allow-trace on an import applies to stream imports only"}},
		{"duplicate", "B", ImportSpec{Account: "A", Subject: "feed.pub.>"}, ErrExists, []string{"already imports"}},
	}
	if _, err := h.AddImport("B", ImportSpec{Account: "A", Subject: "feed.pub.>"}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := testkit.TreeHash(t, h.Dir())
			_, err := h.AddImport(tt.account, tt.spec)
			if !errors.Is(err, tt.kind) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want %v and ErrInvalid", err, tt.kind)
			}
			for _, p := range tt.phrases {
				if !strings.Contains(err.Error(), p) {
					t.Errorf("error %q does not mention %q", err, p)
				}
			}
			if after := testkit.TreeHash(t, h.Dir()); after != before {
				t.Errorf("failed operation changed the home")
			}
		})
	}
	_ = a
}

func TestActivationValidation(t *testing.T) {
	h, _, _, _ := sharingHome(t)
	tests := []struct {
		name    string
		account string
		spec    ActivationSpec
		kind    error
		phrases []string
	}{
		{"public export", "A", ActivationSpec{Target: "B", Subject: "feed.pub.x"}, ErrInvalid, []string{"is public"}},
		{"no export", "A", ActivationSpec{Target: "B", Subject: "zzz"}, ErrNotFound, []string{"no private export covering"}},
		{"past expiry", "A", ActivationSpec{Target: "B", Subject: "feed.priv.>", Expires: time.Now().Add(-time.Hour)}, ErrInvalid,
			[]string{"expiry", "in the past"}},
		{"start after expiry", "A", ActivationSpec{Target: "B", Subject: "feed.priv.>", Expires: time.Now().Add(time.Hour),
			Start: time.Now().Add(2 * time.Hour)}, ErrInvalid, []string{"not after start"}},
		{"self", "A", ActivationSpec{Target: "A", Subject: "feed.priv.>"}, ErrInvalid, []string{"to itself"}},
		{"bad target", "A", ActivationSpec{Target: "SAXXX", Subject: "feed.priv.>"}, ErrInvalid, []string{"that is an account seed"}},
		{"unknown account", "Nope", ActivationSpec{Target: "B", Subject: "x"}, ErrNotFound, []string{"not found"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.GenerateActivation(tt.account, tt.spec)
			if !errors.Is(err, tt.kind) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want %v and ErrInvalid", err, tt.kind)
			}
			for _, p := range tt.phrases {
				if !strings.Contains(err.Error(), p) {
					t.Errorf("error %q does not mention %q", err, p)
				}
			}
		})
	}
	// A target outside the home, by public key.
	kp, _ := nkeys.CreateAccount()
	pub, _ := kp.PublicKey()
	act, err := h.GenerateActivation("A", ActivationSpec{Target: pub, Subject: "svc.priv.x"})
	if err != nil || act.Claims.Subject != pub || act.Claims.ImportType != jwt.Service {
		t.Errorf("activation for an outside account: %v %+v", err, act)
	}
	// Revocation problems.
	before := testkit.TreeHash(t, h.Dir())
	if _, err := h.UnrevokeActivation("A", "feed.priv.>", "B"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unrevoke without revocation = %v", err)
	}
	if _, err := h.RevokeActivation("A", "zzz", "B", time.Time{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("revoke unknown export = %v", err)
	}
	if after := testkit.TreeHash(t, h.Dir()); after != before {
		t.Errorf("failed revocation changed the home")
	}
}

// An account whose identity seed is held elsewhere signs activations with
// its signing key, naming itself as issuer_account, and imports accept them.
func TestActivationSignedBySigningKey(t *testing.T) {
	h := newHome(t)
	mustAccount(t, h, "B", AccountEdit{})
	kp, _ := nkeys.CreateAccount()
	pub, _ := kp.PublicKey()
	x, err := h.AddAccountWith("X", AccountEdit{AddSigningKeys: []string{""}}, AccountIssue{PublicKey: pub})
	if err != nil {
		t.Fatal(err)
	}
	if x.Pub != pub || h.hasKey(pub) {
		t.Fatalf("account X key %s, seed stored %v", x.Pub, h.hasKey(pub))
	}
	if _, err := h.AddExport("X", ExportSpec{Subject: "x.>", Private: true}); err != nil {
		t.Fatal(err)
	}
	act, err := h.GenerateActivation("X", ActivationSpec{Target: "B", Subject: "x.>"})
	if err != nil {
		t.Fatal(err)
	}
	if act.Claims.IssuerAccount != pub || !x.Claims.SigningKeys.Contains(act.Claims.Issuer) {
		t.Errorf("activation issuer %s / %s, want a signing key of X", act.Claims.Issuer, act.Claims.IssuerAccount)
	}
	if _, err := h.AddImport("B", ImportSpec{Token: act.Token}); err != nil {
		t.Errorf("import with a signing-key token: %v", err)
	}
}
