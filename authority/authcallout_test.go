package authority

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/nats-io/jwt/v2"

	"github.com/natsauth/natsauth/internal/testkit"
)

// nscAuthorization applies nsc's `edit authcallout` to a copy of the
// claims the way nsc's Run does (Add, Remove on the StringLists, the xkey
// set or cleared, or the whole block reset by --disable).
func nscAuthorization(cur jwt.ExternalAuthorization, addU, rmU, addA, rmA []string, xkey string, rmX, disable bool) jwt.ExternalAuthorization {
	if disable {
		return jwt.ExternalAuthorization{}
	}
	next := jwt.ExternalAuthorization{XKey: cur.XKey}
	next.AuthUsers = append(next.AuthUsers, cur.AuthUsers...)
	next.AllowedAccounts = append(next.AllowedAccounts, cur.AllowedAccounts...)
	next.AuthUsers.Add(addU...)
	next.AllowedAccounts.Add(addA...)
	next.AuthUsers.Remove(rmU...)
	next.AllowedAccounts.Remove(rmA...)
	if rmX {
		next.XKey = ""
	}
	if xkey != "" {
		next.XKey = xkey
	}
	return next
}

func authJSON(t *testing.T, a jwt.ExternalAuthorization) string {
	t.Helper()
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestEditAuthCalloutWritesWhatNscWrites(t *testing.T) {
	h := newHome(t)
	mustAccount(t, h, "AUTH", AccountEdit{})
	app := mustAccount(t, h, "APP", AccountEdit{})
	other := mustAccount(t, h, "OTHER", AccountEdit{})
	svc := mustUser(t, h, "AUTH", "callout", UserEdit{})
	svc2 := mustUser(t, h, "AUTH", "callout2", UserEdit{})

	steps := []struct {
		name string
		e    AuthCalloutEdit
		// nsc's flags for the same step, as public keys
		addU, rmU, addA, rmA []string
		rmX, disable         bool
	}{
		{name: "enable by names", e: AuthCalloutEdit{AuthUsers: []string{"callout"}, AllowedAccounts: []string{"APP"}},
			addU: []string{svc.Pub}, addA: []string{app.Pub}},
		{name: "keys and a second account", e: AuthCalloutEdit{AuthUsers: []string{svc2.Pub}, AllowedAccounts: []string{other.Pub}},
			addU: []string{svc2.Pub}, addA: []string{other.Pub}},
		{name: "remove", e: AuthCalloutEdit{RemoveAuthUsers: []string{"callout2"}, RemoveAllowedAccounts: []string{"OTHER"}},
			rmU: []string{svc2.Pub}, rmA: []string{other.Pub}},
		{name: "any account", e: AuthCalloutEdit{RemoveAllowedAccounts: []string{"APP"}, AllowedAccounts: []string{"*"}},
			rmA: []string{app.Pub}, addA: []string{"*"}},
		{name: "rm curve when none", e: AuthCalloutEdit{RemoveCurve: true}, rmX: true},
		{name: "disable", e: AuthCalloutEdit{Disable: true}, disable: true},
	}
	for _, s := range steps {
		before, err := h.Account("AUTH")
		if err != nil {
			t.Fatal(err)
		}
		got, err := h.EditAuthCallout("AUTH", s.e)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		want := nscAuthorization(before.Claims.Authorization, s.addU, s.rmU, s.addA, s.rmA, "", s.rmX, s.disable)
		if g, w := authJSON(t, got.Claims.Authorization), authJSON(t, want); g != w {
			t.Errorf("%s: authorization = %s, nsc writes %s", s.name, g, w)
		}
		// Nothing else of the account changes.
		a, b := *got.Claims, *before.Claims
		a.Authorization, b.Authorization = jwt.ExternalAuthorization{}, jwt.ExternalAuthorization{}
		a.ClaimsData, b.ClaimsData = jwt.ClaimsData{}, jwt.ClaimsData{}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s: other claims changed", s.name)
		}
		if got.Claims.IssuedAt < before.Claims.IssuedAt {
			t.Errorf("%s: iat went back", s.name)
		}
		// The file on disk is the one returned.
		again, _ := h.Account("AUTH")
		if again.JWT != got.JWT {
			t.Errorf("%s: home holds another JWT than returned", s.name)
		}
	}
}

func TestEditAuthCalloutCurveGenerateKeepsSeed(t *testing.T) {
	h := newHome(t)
	mustAccount(t, h, "AUTH", AccountEdit{})
	mustAccount(t, h, "APP", AccountEdit{})
	mustUser(t, h, "AUTH", "callout", UserEdit{})
	acc, err := h.EditAuthCallout("AUTH", AuthCalloutEdit{AuthUsers: []string{"callout"}, AllowedAccounts: []string{"APP"}, Curve: GenerateCurve})
	if err != nil {
		t.Fatal(err)
	}
	x := acc.Claims.Authorization.XKey
	if !strings.HasPrefix(x, "X") {
		t.Fatalf("xkey = %q, want a generated curve key", x)
	}
	kp, err := h.CurveKey(x)
	if err != nil {
		t.Fatalf("CurveKey: %v", err)
	}
	if pub, _ := kp.PublicKey(); pub != x {
		t.Fatalf("keystore holds %s for %s", pub, x)
	}
	fi, err := os.Stat(h.keyPath(x))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("curve seed mode = %v, want 0600", fi.Mode().Perm())
	}
	// Sealed to the public key, opened with the stored seed: the key
	// servers encrypt to is the one the service holds.
	other, _ := h.CurveKey(x)
	box, err := kp.Seal([]byte("hello"), x)
	if err != nil {
		t.Fatal(err)
	}
	if msg, err := other.Open(box, x); err != nil || string(msg) != "hello" {
		t.Fatalf("open = %q, %v", msg, err)
	}

	// A given public key replaces it; --rm-curve clears it.
	given := "XAB3NANV3M6N7AHSQP2U5FRWKKUT7EG2ZXXABV4XVXYQRJGM4S2CZGHT"
	acc, err = h.EditAuthCallout("AUTH", AuthCalloutEdit{Curve: given})
	if err != nil {
		t.Fatal(err)
	}
	if acc.Claims.Authorization.XKey != given {
		t.Errorf("xkey = %q, want %q", acc.Claims.Authorization.XKey, given)
	}
	acc, err = h.EditAuthCallout("AUTH", AuthCalloutEdit{RemoveCurve: true})
	if err != nil {
		t.Fatal(err)
	}
	if acc.Claims.Authorization.XKey != "" {
		t.Errorf("xkey = %q after --rm-curve", acc.Claims.Authorization.XKey)
	}
}

func TestEditAuthCalloutRefusesWholeAndWritesNothing(t *testing.T) {
	h := newHome(t)
	mustAccount(t, h, "AUTH", AccountEdit{})
	mustAccount(t, h, "APP", AccountEdit{})
	mustUser(t, h, "AUTH", "callout", UserEdit{})
	before := testkit.TreeHash(t, h.Dir())
	cases := []struct {
		name    string
		account string
		e       AuthCalloutEdit
		want    []string
		kind    error
	}{
		{"nothing", "AUTH", AuthCalloutEdit{}, []string{"nothing to change"}, ErrInvalid},
		{"disable and more", "AUTH", AuthCalloutEdit{Disable: true, AuthUsers: []string{"callout"}}, []string{"--disable is exclusive"}, ErrInvalid},
		{"accounts without users", "AUTH", AuthCalloutEdit{AllowedAccounts: []string{"APP"}}, []string{"at least one --auth-user"}, ErrInvalid},
		{"any and a list", "AUTH", AuthCalloutEdit{AuthUsers: []string{"callout"}, AllowedAccounts: []string{"APP", "*"}}, []string{`"*" alone`}, ErrInvalid},
		{"every problem at once", "AUTH", AuthCalloutEdit{AuthUsers: []string{"nobody", "SUAP277QP7U4JMFFPVZHLJYEQJ2UHOTYVEIZJYAWRJXQLP4FRSEHYZJJOU"},
			AllowedAccounts: []string{"NOPE"}, Curve: "Xbad"},
			[]string{`auth user "nobody"`, "user seed", `allowed account "NOPE"`, "not a curve public key"}, ErrNotFound},
		{"system account", "SYS", AuthCalloutEdit{AuthUsers: []string{"sys"}}, []string{"system account"}, ErrInvalid},
		{"missing account", "NOPE", AuthCalloutEdit{RemoveCurve: true}, []string{`account "NOPE"`}, ErrNotFound},
		{"curve seed", "AUTH", AuthCalloutEdit{Curve: "SXAGBVPS3AUPPGF4ZBGOHCE2OO7Q6OQMI4ROVYTSBNNPWFJMHVW5FW5T4"}, []string{"curve seed"}, ErrInvalid},
	}
	for _, c := range cases {
		_, err := h.EditAuthCallout(c.account, c.e)
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		if !errors.Is(err, c.kind) {
			t.Errorf("%s: error %v does not match %v", c.name, err, c.kind)
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not say %q", c.name, err, w)
			}
		}
		if strings.Contains(err.Error(), "SUAP277") || strings.Contains(err.Error(), "SXAGB") {
			t.Errorf("%s: error repeats a seed: %v", c.name, err)
		}
	}
	if after := testkit.TreeHash(t, h.Dir()); after != before {
		t.Error("a refused edit changed the home")
	}
}
