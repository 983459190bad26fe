package manage_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/declare"
	"github.com/natsauth/natsauth/manage"
)

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// richHome makes a home that uses nsc's whole vocabulary: tiered
// JetStream, tracing, default permissions, scoped and unscoped signing
// keys, an account and a user from public keys, every kind of export, a
// private import with its token, an import from an account managed
// elsewhere, users with every setting.
func richHome(t *testing.T) *manage.Manager {
	t.Helper()
	m := open(t, newHome(t))
	ctx := context.Background()
	h := m.Home()
	future := time.Now().AddDate(2, 0, 0).UTC().Truncate(24 * time.Hour)
	must[*authority.AccountInfo](t)(h.AddAccount("Orders", authority.AccountEdit{
		Conns: authority.Int64(100), Payload: authority.Int64(1_000_000), Data: authority.Int64(-1), Exports: authority.Int64(20),
		JSTier: authority.Int(1), JSMemStorage: authority.Int64(1 << 20), JSDiskStorage: authority.Int64(1 << 30), JSStreams: authority.Int64(5),
		Description: authority.String("orders"), InfoURL: authority.String("https://example.com/orders"), Tags: []string{"team-a", "Prod"},
		Expires: &future, DisallowBearer: authority.Bool(true),
		DefaultPermissions: authority.PermissionEdit{AllowSub: []string{"_INBOX.>"}, RespMax: authority.Int(1)},
		TraceSubject:       authority.String("trace.orders"), TraceSampling: authority.Int(50),
		AddSigningKeys: []string{"", ""},
	}))
	acc := must[*authority.AccountInfo](t)(h.Account("Orders"))
	keys := acc.Claims.SigningKeys.Keys()
	must[*authority.AccountInfo](t)(func() (*authority.AccountInfo, error) {
		a, _, err := h.EditSigningKey("Orders", keys[0], authority.SigningKeyEdit{Role: authority.String("svc"),
			Template: authority.UserEdit{AllowPub: []string{"svc.>"}, Subs: authority.Int64(10)}})
		return a, err
	}())
	for _, x := range []authority.ExportSpec{
		{Subject: "orders.status.*", Service: true, ResponseType: jwt.ResponseTypeStream, ResponseThreshold: 2 * time.Second,
			LatencySubject: "lat.orders", LatencySampling: "50", Description: "status", AllowTrace: true},
		{Subject: "orders.events.>", Private: true, Name: "events"},
		{Subject: "orders.acct.*", AccountTokenPosition: 3, InfoURL: "https://example.com/acct"},
	} {
		must[*authority.AccountInfo](t)(h.AddExport("Orders", x))
	}
	extKP, _ := nkeys.CreateAccount()
	extPub, _ := extKP.PublicKey()
	must[*authority.AccountInfo](t)(h.AddAccountWith("Ext", authority.AccountEdit{AddSigningKeys: []string{""}}, authority.AccountIssue{PublicKey: extPub}))
	must[*authority.AccountInfo](t)(h.AddAccount("Shipping", authority.AccountEdit{JSEnable: authority.Int(0)}))
	act := must[*authority.Activation](t)(h.GenerateActivation("Orders", authority.ActivationSpec{Target: "Shipping", Subject: "orders.events.>"}))
	ship := must[*authority.AccountInfo](t)(h.Account("Shipping"))
	elsewhere, _ := nkeys.CreateAccount()
	elsewherePub, _ := elsewhere.PublicKey()
	for _, im := range []authority.ImportSpec{
		{Account: "Orders", Subject: "orders.status.*", LocalSubject: "ord.status.*", Service: true, Share: true},
		{Account: "Orders", Subject: "orders.events.>", LocalSubject: "ev.>", Token: act.Token, AllowTrace: true},
		{Account: "Orders", Subject: "orders.acct." + ship.Pub},
		{Account: elsewherePub, Subject: "ext.x"},
	} {
		must[*authority.AccountInfo](t)(h.AddImport("Shipping", im))
	}
	start := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	must[*authority.UserInfo](t)(m.AddUser(ctx, "Orders", "alice", authority.UserEdit{
		AllowPub: []string{"orders.>"}, AllowSub: []string{"orders.q workers", "_INBOX.>"}, DenyPub: []string{"orders.secret"},
		DenySub: []string{"orders.private"}, RespMax: authority.Int(2), RespTTL: authority.Duration(3 * time.Second),
		Expires: &future, Start: &start, Src: []string{"10.0.0.0/8", "192.168.1.5"}, Tags: []string{"human"},
		Subs: authority.Int64(5), Data: authority.Int64(1_000_000), Payload: authority.Int64(1024),
		ConnTypes: []string{"standard", "WEBSOCKET"}, Times: []string{"08:00:00-17:00:00"}, Locale: authority.String("Europe/Berlin"),
	}, authority.UserIssue{}))
	must[*authority.UserInfo](t)(m.AddUser(ctx, "Orders", "bob", authority.UserEdit{}, authority.UserIssue{SigningKey: "svc"}))
	carolKP, _ := nkeys.CreateUser()
	carolPub, _ := carolKP.PublicKey()
	must[*authority.UserInfo](t)(m.AddUser(ctx, "Orders", "carol", authority.UserEdit{AllowPub: []string{"c"}}, authority.UserIssue{PublicKey: carolPub}))
	must[*authority.UserInfo](t)(m.AddUser(ctx, "Ext", "e", authority.UserEdit{Bearer: authority.Bool(true)}, authority.UserIssue{}))
	must[*authority.UserInfo](t)(m.AddUser(ctx, "Shipping", "d", authority.UserEdit{}, authority.UserIssue{}))
	if _, err := m.Publish(ctx); err != nil { // what the authority calls above changed
		t.Fatal(err)
	}
	return m
}

// A home that uses the whole vocabulary is exported, and the file matches
// the home it came from; applied to a home of another operator, it gives
// the same claims (keys, tokens and times of issue aside).
func TestRichHomeRoundTrip(t *testing.T) {
	src := richHome(t)
	text := must[[]byte](t)(declare.Export(src.Home(), declare.ExportOptions{}))
	f := parseFile(t, "rich.yaml", string(text), nil)
	if p := plan(t, src, f, manage.PlanOptions{}); !p.Empty() {
		var b strings.Builder
		p.WriteText(&b)
		t.Fatalf("the home does not match its own export:\n%s\n%s", b.String(), text)
	}
	dst := open(t, newHome(t))
	apply(t, dst, f, manage.ApplyOptions{})
	if p := plan(t, dst, f, manage.PlanOptions{}); !p.Empty() {
		t.Fatalf("plan after apply: %+v", p.Changes)
	}
	names := map[string]string{}
	for _, h := range []*authority.Home{src.Home(), dst.Home()} {
		accs, _ := h.Accounts()
		for _, a := range accs {
			names[a.Pub] = a.Name
		}
	}
	// Keys that differ between the homes, replaced by the names they stand for.
	normalize := func(c any) map[string]any {
		m := claimsWithoutKeys(t, c)
		if n, ok := m["nats"].(map[string]any); ok {
			for _, list := range []string{"imports"} {
				items, _ := n[list].([]any)
				for _, it := range items {
					im := it.(map[string]any)
					if name, ok := names[im["account"].(string)]; ok {
						im["account"] = name
					}
					delete(im, "token")
					if s, ok := im["subject"].(string); ok && strings.HasPrefix(s, "orders.acct.") {
						if !nkeys.IsValidPublicAccountKey(strings.TrimPrefix(s, "orders.acct.")) {
							t.Errorf("import subject %s does not name the importer", s)
						}
						im["subject"], im["name"] = "orders.acct.<importer>", "orders.acct.<importer>"
					}
				}
			}
		}
		return m
	}
	for _, name := range []string{"Orders", "Shipping", "Ext"} {
		a := must[*authority.AccountInfo](t)(src.Home().Account(name))
		b := must[*authority.AccountInfo](t)(dst.Home().Account(name))
		if x, y := normalize(a.Claims), normalize(b.Claims); !sameJSON(t, x, y) {
			t.Errorf("account %s differs:\n%v\n%v", name, x, y)
		}
		if len(a.Claims.SigningKeys) != len(b.Claims.SigningKeys) {
			t.Errorf("account %s has %d signing keys, want %d", name, len(b.Claims.SigningKeys), len(a.Claims.SigningKeys))
		}
		us := must[[]authority.UserInfo](t)(src.Home().Users(name))
		for _, u := range us {
			v := must[*authority.UserInfo](t)(dst.Home().User(name, u.Name))
			if x, y := normalize(u.Claims), normalize(v.Claims); !sameJSON(t, x, y) {
				t.Errorf("user %s/%s differs:\n%v\n%v", name, u.Name, x, y)
			}
		}
	}
	if a, b := must[*authority.AccountInfo](t)(src.Home().Account("Ext")), must[*authority.AccountInfo](t)(dst.Home().Account("Ext")); a.Pub != b.Pub {
		t.Error("the account from a public key has another key after promotion")
	}
	imps, _ := dst.Home().Imports(time.Now())
	for _, im := range imps {
		if len(im.Problems) > 0 {
			t.Errorf("import %s of %s in the new home: %v", im.Import.Subject, im.Account, im.Problems)
		}
	}
}
