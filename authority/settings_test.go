package authority

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"

	"github.com/natsauth/natsauth/internal/testkit"
)

func TestAccountSettingsAsNscWritesThem(t *testing.T) {
	h := newHome(t)
	exp := time.Now().Add(48 * time.Hour).Truncate(time.Second)
	start := time.Now().Add(-time.Hour).Truncate(time.Second)
	a := mustAccount(t, h, "A", AccountEdit{
		Expires: &exp, Start: &start,
		DefaultPermissions: PermissionEdit{AllowPub: []string{"a.>"}, DenySub: []string{"secret.>"}, RespMax: ptr(1)},
		DisallowBearer:     Bool(true), Description: String("team A"), InfoURL: String("https://a.example/info"),
		Tags: []string{"Prod", "eu"}, TraceSubject: String("trace.a"), TraceSampling: Int(25),
		JSTier: Int(1), JSDiskStorage: Int64(1 << 20), JSMaxAckPending: Int64(10), JSMaxDiskStream: Int64(1 << 19),
		JSMaxBytesRequired: Bool(true),
	})
	c := a.Claims
	if c.Expires != exp.Unix() || c.NotBefore != start.Unix() {
		t.Errorf("exp %d nbf %d", c.Expires, c.NotBefore)
	}
	dp := c.DefaultPermissions
	if !reflect.DeepEqual([]string(dp.Pub.Allow), []string{"a.>"}) || !reflect.DeepEqual([]string(dp.Sub.Deny), []string{"secret.>"}) ||
		dp.Resp == nil || dp.Resp.MaxMsgs != 1 {
		t.Errorf("default permissions = %+v", dp)
	}
	if !c.Limits.DisallowBearer || c.Description != "team A" || c.InfoURL != "https://a.example/info" ||
		!reflect.DeepEqual([]string(c.Tags), []string{"eu", "prod"}) {
		t.Errorf("settings = %+v %q %q %v", c.Limits.AccountLimits, c.Description, c.InfoURL, c.Tags)
	}
	if c.Trace == nil || c.Trace.Destination != "trace.a" || c.Trace.Sampling != 25 {
		t.Errorf("trace = %+v", c.Trace)
	}
	r1, ok := c.Limits.JetStreamTieredLimits["R1"]
	if !ok || r1.DiskStorage != 1<<20 || r1.MemoryStorage != 0 || r1.Streams != -1 || r1.MaxAckPending != 10 ||
		r1.DiskMaxStreamBytes != 1<<19 || !r1.MaxBytesRequired || jsLimitsSet(&c.Limits.JetStreamLimits) {
		t.Errorf("tiers = %+v global %+v", c.Limits.JetStreamTieredLimits, c.Limits.JetStreamLimits)
	}
	// Edits change only what they name; rm removes.
	a, err := h.EditAccount("A", AccountEdit{JSTier: Int(3), JSMemStorage: Int64(-1),
		DefaultPermissions: PermissionEdit{Remove: []string{"a.>"}, RemoveResp: true}, RemoveTags: []string{"eu"},
		TraceSubject: String("")})
	if err != nil {
		t.Fatal(err)
	}
	c = a.Claims
	if len(c.Limits.JetStreamTieredLimits) != 2 || len(c.DefaultPermissions.Pub.Allow) != 0 || c.DefaultPermissions.Resp != nil ||
		len(c.DefaultPermissions.Sub.Deny) != 1 || !reflect.DeepEqual([]string(c.Tags), []string{"prod"}) || c.Trace != nil ||
		c.Description != "team A" {
		t.Errorf("after edit: tiers %v perms %+v tags %v trace %+v", c.Limits.JetStreamTieredLimits, c.DefaultPermissions, c.Tags, c.Trace)
	}
	a, err = h.EditAccount("A", AccountEdit{RemoveJSTier: Int(1)})
	if err != nil || len(a.Claims.Limits.JetStreamTieredLimits) != 1 {
		t.Fatalf("rm tier: %v %v", err, a.Claims.Limits.JetStreamTieredLimits)
	}
	a, err = h.EditAccount("A", AccountEdit{JSDisable: true})
	if err != nil || a.Claims.Limits.IsJSEnabled() || len(a.Claims.Limits.JetStreamTieredLimits) != 0 {
		t.Fatalf("js-disable: %v", err)
	}
	a, err = h.EditAccount("A", AccountEdit{JSEnable: Int(0)})
	if err != nil || a.Claims.Limits.JetStreamLimits.DiskStorage != -1 || a.Claims.Limits.JetStreamLimits.MemoryStorage != -1 {
		t.Fatalf("js-enable 0: %v %+v", err, a.Claims.Limits.JetStreamLimits)
	}
	if _, err := h.Policy().CheckAccount(a.Pub, a.JWT); err != nil {
		t.Errorf("edited account fails the trust policy: %v", err)
	}
}

func TestAddAccountWithPublicKey(t *testing.T) {
	h := newHome(t)
	kp, _ := nkeys.CreateAccount()
	pub, _ := kp.PublicKey()
	a, err := h.AddAccountWith("Remote", AccountEdit{}, AccountIssue{PublicKey: pub})
	if err != nil {
		t.Fatal(err)
	}
	if a.Pub != pub || h.hasKey(pub) {
		t.Errorf("account %s, seed stored %v", a.Pub, h.hasKey(pub))
	}
	before := testkit.TreeHash(t, h.Dir())
	for _, k := range []string{pub, "SAFOO", "UABC", ""} {
		if k == "" {
			continue
		}
		if _, err := h.AddAccountWith("Other", AccountEdit{}, AccountIssue{PublicKey: k}); !errors.Is(err, ErrInvalid) {
			t.Errorf("public key %.10s: err = %v", k, err)
		}
	}
	if after := testkit.TreeHash(t, h.Dir()); after != before {
		t.Errorf("refused adds changed the home")
	}
}

func TestAccountSettingsValidation(t *testing.T) {
	h := newHome(t)
	mustAccount(t, h, "A", AccountEdit{JSDiskStorage: Int64(1 << 20)})
	mustAccount(t, h, "T", AccountEdit{JSTier: Int(1), JSDiskStorage: Int64(1 << 20)})
	mustAccount(t, h, "B", AccountEdit{})
	mustUser(t, h, "B", "bearer", UserEdit{Bearer: Bool(true)})
	past := time.Now().Add(-time.Hour)
	future := time.Now().Add(time.Hour)
	tests := []struct {
		name    string
		account string
		e       AccountEdit
		phrases []string
	}{
		{"past expiry", "A", AccountEdit{Expires: &past}, []string{"expiry", "in the past"}},
		{"future start", "A", AccountEdit{Start: &future}, []string{"start", "in the future"}},
		{"bad tier", "A", AccountEdit{JSTier: Int(2), JSDiskStorage: Int64(1)}, []string{"js-tier 2", "R1", "R3"}},
		{"global with tiers", "T", AccountEdit{JSDiskStorage: Int64(5)}, []string{"has tiered JetStream limits (R1)"}},
		{"tier with global", "A", AccountEdit{JSTier: Int(3), JSDiskStorage: Int64(5)}, []string{"has global JetStream limits"}},
		{"disable with others", "A", AccountEdit{JSDisable: true, JSStreams: Int64(1)}, []string{"js-disable"}},
		{"enable enabled", "A", AccountEdit{JSEnable: Int(0)}, []string{"already enabled"}},
		{"rm missing tier", "T", AccountEdit{RemoveJSTier: Int(3)}, []string{"no JetStream tier R3"}},
		{"negative js limits", "A", AccountEdit{JSMaxAckPending: Int64(-2), JSMaxMemStream: Int64(-3)},
			[]string{"js-max-ack-pending -2", "js-max-mem-stream -3"}},
		{"bearer users", "B", AccountEdit{DisallowBearer: Bool(true)}, []string{"user bearer of account B is a bearer user"}},
		{"bad default perms", "A", AccountEdit{DefaultPermissions: PermissionEdit{AllowPub: []string{"a..b"}, Remove: []string{"nope"}}},
			[]string{"allow-pub", `rm: account A has no permission "nope"`}},
		{"bad info", "A", AccountEdit{InfoURL: String("not a url"), Description: String(strings.Repeat("x", jwt.MaxInfoLength+1))},
			[]string{"info-url", "description"}},
		{"trace", "A", AccountEdit{TraceSubject: String("t.*"), TraceSampling: Int(101)},
			[]string{"trace-context-subject", "wildcards", "trace-context-sampling 101"}},
		{"sampling without subject", "A", AccountEdit{TraceSampling: Int(5)}, []string{"needs a trace-context-subject"}},
		{"rm missing tag", "A", AccountEdit{RemoveTags: []string{"x"}}, []string{`no tag "x"`}},
		{"jetstream on SYS", "SYS", AccountEdit{JSEnable: Int(0)}, []string{"system account cannot have JetStream"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := testkit.TreeHash(t, h.Dir())
			_, err := h.EditAccount(tt.account, tt.e)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
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

func TestUserSettingsAsNscWritesThem(t *testing.T) {
	h := newHome(t)
	mustAccount(t, h, "A", AccountEdit{})
	u := mustUser(t, h, "A", "u", UserEdit{Subs: Int64(5), Data: Int64(1000), Payload: Int64(100),
		ConnTypes: []string{"websocket", "STANDARD"}, Times: []string{"09:00:00-17:00:00", "22:00:00-02:00:00"},
		Locale: String("Europe/Berlin")})
	l := u.Claims.UserPermissionLimits
	if l.Limits.Subs != 5 || l.Limits.Data != 1000 || l.Limits.Payload != 100 {
		t.Errorf("limits = %+v", l.Limits.NatsLimits)
	}
	if !reflect.DeepEqual([]string(l.AllowedConnectionTypes), []string{"STANDARD", "WEBSOCKET"}) {
		t.Errorf("conn types = %v", l.AllowedConnectionTypes)
	}
	want := []jwt.TimeRange{{Start: "09:00:00", End: "17:00:00"}, {Start: "22:00:00", End: "02:00:00"}}
	if !reflect.DeepEqual(l.Times, want) || l.Locale != "Europe/Berlin" {
		t.Errorf("times = %v locale %q", l.Times, l.Locale)
	}
	u, err := h.EditUser("A", "u", UserEdit{RemoveConnTypes: []string{"websocket"}, RemoveTimes: []string{"22:00:00"}, Subs: Int64(-1)})
	if err != nil {
		t.Fatal(err)
	}
	l = u.Claims.UserPermissionLimits
	if !reflect.DeepEqual([]string(l.AllowedConnectionTypes), []string{"STANDARD"}) || len(l.Times) != 1 || l.Limits.Subs != -1 || l.Limits.Data != 1000 {
		t.Errorf("after edit: %v %v %+v", l.AllowedConnectionTypes, l.Times, l.Limits.NatsLimits)
	}
}

func TestUserSettingsValidation(t *testing.T) {
	h := newHome(t)
	mustAccount(t, h, "A", AccountEdit{})
	mustAccount(t, h, "NB", AccountEdit{DisallowBearer: Bool(true)})
	mustUser(t, h, "A", "u", UserEdit{})
	now := time.Now()
	tests := []struct {
		name    string
		account string
		edit    bool
		e       UserEdit
		phrases []string
	}{
		// issue 11 item 5: users born expired.
		{"expiry -5d", "A", false, UserEdit{Expires: ptr(now.AddDate(0, 0, -5))}, []string{"expiry", "in the past"}},
		{"expiry 2001-01-01", "A", false, UserEdit{Expires: ptr(time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC))},
			[]string{"2001-01-01T00:00:00Z is in the past"}},
		{"start after expiry", "A", false, UserEdit{Expires: ptr(now.Add(time.Hour)), Start: ptr(now.Add(2 * time.Hour))},
			[]string{"not after start"}},
		{"edit to past expiry", "A", true, UserEdit{Expires: ptr(now.Add(-time.Minute))}, []string{"in the past"}},
		{"bad limits", "A", false, UserEdit{Subs: Int64(-2), Data: Int64(-5), Payload: Int64(-9)}, []string{"subs -2", "data -5", "payload -9"}},
		{"bad conn type", "A", false, UserEdit{ConnTypes: []string{"TELNET"}}, []string{`unknown connection type "TELNET"`, "STANDARD"}},
		{"bad times", "A", false, UserEdit{Times: []string{"9-17", "25:00:00-26:00:00", "10:00:00-10:00:00"}},
			[]string{`"9-17"`, "start \"25:00:00\"", "is empty"}},
		{"bad locale", "A", false, UserEdit{Locale: String("Mars/Base")}, []string{"locale \"Mars/Base\""}},
		{"rm on add", "A", false, UserEdit{RemoveConnTypes: []string{"MQTT"}}, []string{"only when editing"}},
		{"rm missing", "A", true, UserEdit{RemoveConnTypes: []string{"MQTT"}, RemoveTimes: []string{"01:00:00"}},
			[]string{`does not list connection type "MQTT"`, `no time window starting at "01:00:00"`}},
		{"bearer refused", "NB", false, UserEdit{Bearer: Bool(true)}, []string{"does not allow bearer tokens"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := testkit.TreeHash(t, h.Dir())
			var err error
			if tt.edit {
				_, err = h.EditUser(tt.account, "u", tt.e)
			} else {
				_, err = h.AddUser(tt.account, "new", tt.e)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
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

func TestExpirationsAndKeys(t *testing.T) {
	h := newHome(t)
	now := time.Now()
	soon := now.Add(24 * time.Hour)
	later := now.Add(90 * 24 * time.Hour)
	mustAccount(t, h, "A", AccountEdit{Expires: &later})
	mustAccount(t, h, "B", AccountEdit{})
	mustUser(t, h, "A", "soon", UserEdit{Expires: &soon})
	mustUser(t, h, "A", "never", UserEdit{})
	if _, err := h.AddExport("A", ExportSpec{Subject: "x.>", Private: true}); err != nil {
		t.Fatal(err)
	}
	act := mustActivation(t, h, "A", ActivationSpec{Target: "B", Subject: "x.>", Expires: soon})
	if _, err := h.AddImport("B", ImportSpec{Token: act.Token}); err != nil {
		t.Fatal(err)
	}
	exps, err := h.Expirations(now, 7*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Expiration{}
	for _, e := range exps {
		got[e.Resource] = e
	}
	if e := got["TestOp/A/soon"]; !e.ExpiresSoon || e.Expired || !e.Expires.Equal(soon.Truncate(time.Second)) {
		t.Errorf("soon = %+v", e)
	}
	if e := got["TestOp/A"]; e.ExpiresSoon || e.Expires.IsZero() {
		t.Errorf("account A = %+v", e)
	}
	if e := got["TestOp/A/never"]; !e.Expires.IsZero() || e.ExpiresSoon {
		t.Errorf("never = %+v", e)
	}
	if e := got["TestOp/B/import x.> from A"]; e.Kind != "activation" || !e.ExpiresSoon {
		t.Errorf("activation = %+v (all: %+v)", e, exps)
	}
	// Past the user's expiry, it is expired.
	exps, _ = h.Expirations(soon.Add(time.Minute), time.Hour)
	for _, e := range exps {
		if e.Resource == "TestOp/A/soon" && !e.Expired {
			t.Errorf("soon not expired a minute after: %+v", e)
		}
	}

	keys, unref, err := h.Keys()
	if err != nil {
		t.Fatal(err)
	}
	missing := 0
	kinds := map[string]int{}
	for _, k := range keys {
		kinds[k.Kind]++
		if !k.Stored {
			missing++
		}
	}
	// The operator identity seed is kept; every key is stored.
	if missing != 0 || kinds["operator"] != 2 || kinds["account"] != 3 || kinds["user"] != 3 || len(unref) != 0 {
		t.Errorf("keys: %d missing, kinds %v, unreferenced %v", missing, kinds, unref)
	}
	// A user issued from a public key has no seed: reported missing.
	kp, _ := nkeys.CreateUser()
	pub, _ := kp.PublicKey()
	if _, err := h.AddUserWith("A", "ext", UserEdit{}, UserIssue{PublicKey: pub}); err != nil {
		t.Fatal(err)
	}
	keys, _, _ = h.Keys()
	for _, k := range keys {
		if k.Pub == pub && (k.Stored || k.Name != "A/ext") {
			t.Errorf("external user key = %+v", k)
		}
	}
}
