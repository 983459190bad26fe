package authority

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"

	"github.com/natsauth/natsauth/internal/testkit"
)

func ptr[T any](v T) *T { return &v }

func TestUserJWTCarriesExactlyTheRequestedPermissions(t *testing.T) {
	h := newHome(t)
	acc := mustAccount(t, h, "A", AccountEdit{})
	start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	expires := time.Date(2031, 6, 1, 12, 0, 0, 0, time.UTC)
	u := mustUser(t, h, "A", "full", UserEdit{
		AllowPub:    []string{"orders.>", "orders.*.status"},
		AllowSub:    []string{"orders.alice.>", "work.q workers"},
		AllowPubSub: []string{"both.>"},
		DenyPub:     []string{"orders.delete"},
		DenySub:     []string{"secret.*"},
		DenyPubSub:  []string{"nope"},
		RespMax:     ptr(3),
		RespTTL:     ptr(5 * time.Second),
		Start:       &start,
		Expires:     &expires,
		Bearer:      Bool(true),
		Src:         []string{"10.0.0.0/8", "192.168.1.5", "2001:db8::/32"},
		Tags:        []string{"Team:Orders", "prod"},
	})
	// Read the JWT from disk, not the returned claims.
	raw, err := os.ReadFile(h.userJWTPath("A", "full"))
	if err != nil {
		t.Fatal(err)
	}
	uc, err := jwt.DecodeUserClaims(string(raw))
	if err != nil {
		t.Fatal(err)
	}
	if uc.Subject != u.Pub || uc.Issuer != acc.Pub || uc.IssuerAccount != "" || uc.Name != "full" {
		t.Errorf("subject %s issuer %s issuer_account %q name %q", uc.Subject, uc.Issuer, uc.IssuerAccount, uc.Name)
	}
	p := uc.Permissions
	check := func(what string, got jwt.StringList, want ...string) {
		t.Helper()
		if !reflect.DeepEqual([]string(got), want) {
			t.Errorf("%s = %q, want %q", what, got, want)
		}
	}
	check("pub allow", p.Pub.Allow, "both.>", "orders.*.status", "orders.>")
	check("pub deny", p.Pub.Deny, "nope", "orders.delete")
	check("sub allow", p.Sub.Allow, "both.>", "orders.alice.>", "work.q workers")
	check("sub deny", p.Sub.Deny, "nope", "secret.*")
	if p.Resp == nil || p.Resp.MaxMsgs != 3 || p.Resp.Expires != 5*time.Second {
		t.Errorf("resp = %+v, want max 3 ttl 5s", p.Resp)
	}
	if uc.NotBefore != start.Unix() || uc.Expires != expires.Unix() {
		t.Errorf("nbf %d exp %d, want %d %d", uc.NotBefore, uc.Expires, start.Unix(), expires.Unix())
	}
	if !uc.BearerToken {
		t.Errorf("bearer not set")
	}
	check("src", jwt.StringList(uc.Src), "10.0.0.0/8", "192.168.1.5/32", "2001:db8::/32")
	check("tags", jwt.StringList(uc.Tags), "prod", "team:orders")
	if uc.Limits.Subs != -1 || uc.Limits.Data != -1 || uc.Limits.Payload != -1 {
		t.Errorf("user limits = %+v, want unlimited", uc.Limits.NatsLimits)
	}

	// A user with no permission flags has none: everything is allowed.
	plain := mustUser(t, h, "A", "plain", UserEdit{})
	pp := plain.Claims.Permissions
	if len(pp.Pub.Allow)+len(pp.Pub.Deny)+len(pp.Sub.Allow)+len(pp.Sub.Deny) != 0 || pp.Resp != nil ||
		plain.Claims.BearerToken || plain.Claims.Expires != 0 || len(plain.Claims.Src) != 0 {
		t.Errorf("plain user has settings: %+v", plain.Claims)
	}

	// The creds file holds exactly the user JWT and its seed.
	creds, err := h.Creds("A", "full")
	if err != nil {
		t.Fatal(err)
	}
	onDisk, err := os.ReadFile(h.CredsPath("A", "full"))
	if err != nil || string(onDisk) != string(creds) {
		t.Errorf("Creds differs from the creds file (%v)", err)
	}
	if tok, _ := jwt.ParseDecoratedJWT(creds); tok != string(raw) {
		t.Errorf("creds JWT is not the stored user JWT")
	}
}

func TestAllowPubResponseDefault(t *testing.T) {
	h := newHome(t)
	mustAccount(t, h, "A", AccountEdit{})
	u := mustUser(t, h, "A", "alice", UserEdit{AllowPub: []string{"orders.>"}, RespMax: ptr(1)})
	if r := u.Claims.Permissions.Resp; r == nil || r.MaxMsgs != 1 || r.Expires != 0 {
		t.Errorf("resp = %+v, want max 1, no ttl", r)
	}
	// A TTL alone creates the response permission (server default count).
	v := mustUser(t, h, "A", "ttl", UserEdit{RespTTL: ptr(time.Second)})
	if r := v.Claims.Permissions.Resp; r == nil || r.MaxMsgs != 0 || r.Expires != time.Second {
		t.Errorf("resp = %+v, want ttl only", r)
	}
}

func TestEditUserChangesOnlyWhatItNames(t *testing.T) {
	h := newHome(t)
	mustAccount(t, h, "A", AccountEdit{})
	mustUser(t, h, "A", "bob", UserEdit{
		AllowPub: []string{"inventory.>"}, AllowSub: []string{"inventory.>"}, DenyPub: []string{"inventory.delete"},
		Tags: []string{"a", "b"}, Src: []string{"10.0.0.0/8"}, RespMax: ptr(2),
	})
	exp := time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC)
	u, err := h.EditUser("A", "bob", UserEdit{AllowPub: []string{"extra"}, Expires: &exp})
	if err != nil {
		t.Fatal(err)
	}
	p := u.Claims.Permissions
	if !reflect.DeepEqual([]string(p.Pub.Allow), []string{"extra", "inventory.>"}) ||
		!reflect.DeepEqual([]string(p.Pub.Deny), []string{"inventory.delete"}) ||
		!reflect.DeepEqual([]string(p.Sub.Allow), []string{"inventory.>"}) ||
		p.Resp == nil || p.Resp.MaxMsgs != 2 || len(u.Claims.Tags) != 2 || len(u.Claims.Src) != 1 ||
		u.Claims.Expires != exp.Unix() {
		t.Errorf("after edit: %+v", u.Claims)
	}
	u, err = h.EditUser("A", "bob", UserEdit{
		Remove: []string{"inventory.delete", "extra"}, RemoveResp: true, RemoveTags: []string{"A"},
		RemoveSrc: []string{"10.0.0.0/8"}, Expires: &time.Time{},
	})
	if err != nil {
		t.Fatal(err)
	}
	p = u.Claims.Permissions
	if len(p.Pub.Deny) != 0 || !reflect.DeepEqual([]string(p.Pub.Allow), []string{"inventory.>"}) || p.Resp != nil ||
		!reflect.DeepEqual([]string(u.Claims.Tags), []string{"b"}) || len(u.Claims.Src) != 0 || u.Claims.Expires != 0 {
		t.Errorf("after removals: %+v", u.Claims)
	}
	creds, err := os.ReadFile(h.CredsPath("A", "bob"))
	if err != nil {
		t.Fatal(err)
	}
	if tok, _ := jwt.ParseDecoratedJWT(creds); tok != u.JWT {
		t.Errorf("creds file not rewritten with the edited JWT")
	}
}

func TestUserValidation(t *testing.T) {
	h := newHome(t)
	mustAccount(t, h, "A", AccountEdit{})
	mustUser(t, h, "A", "taken", UserEdit{AllowPub: []string{"x"}})
	past := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	later := time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		account string
		user    string
		edit    bool
		e       UserEdit
		kind    error
		phrases []string
	}{
		{"double dot", "A", "u", false, UserEdit{AllowPub: []string{"orders..x"}}, ErrInvalid, []string{"allow-pub", "empty token"}},
		{"gt in middle", "A", "u", false, UserEdit{AllowSub: []string{"a.>.b"}}, ErrInvalid, []string{"'>'"}},
		{"empty subject", "A", "u", false, UserEdit{DenyPub: []string{""}}, ErrInvalid, []string{"deny-pub", "empty"}},
		{"trailing dot", "A", "u", false, UserEdit{DenySub: []string{"a."}}, ErrInvalid, []string{"empty token"}},
		{"tab", "A", "u", false, UserEdit{AllowPub: []string{"a\tb"}}, ErrInvalid, []string{"whitespace"}},
		{"queue on publish", "A", "u", false, UserEdit{AllowPub: []string{"a q"}}, ErrInvalid, []string{"queue group applies to subscriptions"}},
		{"two spaces in sub", "A", "u", false, UserEdit{AllowSub: []string{"a q r"}}, ErrInvalid, []string{"queue group"}},
		{"bad queue", "A", "u", false, UserEdit{AllowSub: []string{"a  q"}}, ErrInvalid, []string{"queue group"}},
		{"bad network", "A", "u", false, UserEdit{Src: []string{"10.0.0/33"}}, ErrInvalid, []string{"source-network"}},
		{"bad resp", "A", "u", false, UserEdit{RespMax: ptr(0)}, ErrInvalid, []string{"allow-pub-response 0"}},
		{"negative ttl", "A", "u", false, UserEdit{RespTTL: ptr(-time.Second)}, ErrInvalid, []string{"negative"}},
		{"expiry before start", "A", "u", false, UserEdit{Start: &later, Expires: &past}, ErrInvalid, []string{"not after start"}},
		{"empty tag", "A", "u", false, UserEdit{Tags: []string{" "}}, ErrInvalid, []string{"tag is empty"}},
		{"rm on add", "A", "u", false, UserEdit{Remove: []string{"x"}}, ErrInvalid, []string{"only when editing"}},
		{"bad name", "A", "a/b", false, UserEdit{}, ErrInvalid, []string{"cannot contain '/'"}},
		{"duplicate", "A", "taken", false, UserEdit{}, ErrExists, []string{"already exists"}},
		{"duplicate by case", "A", "TAKEN", false, UserEdit{}, ErrExists, []string{"differs only in case"}},
		{"unknown account", "Nope", "u", false, UserEdit{}, ErrNotFound, []string{`account "Nope" not found`}},
		{"unknown account and bad subject", "Nope", "u", false, UserEdit{AllowPub: []string{"a..b"}}, ErrNotFound,
			[]string{"2 problems", "not found", "empty token"}},
		{"edit unknown user", "A", "ghost", true, UserEdit{AllowPub: []string{"x"}}, ErrNotFound, []string{`user "ghost" not found`}},
		{"edit nothing", "A", "taken", true, UserEdit{}, ErrInvalid, []string{"nothing to change"}},
		{"rm missing", "A", "taken", true, UserEdit{Remove: []string{"y"}}, ErrInvalid, []string{`no permission "y"`}},
		{"rm missing resp", "A", "taken", true, UserEdit{RemoveResp: true}, ErrInvalid, []string{"no response permission"}},
		{"rm missing tag", "A", "taken", true, UserEdit{RemoveTags: []string{"t"}}, ErrInvalid, []string{`no tag "t"`}},
		{"edit bad subject", "A", "taken", true, UserEdit{AllowSub: []string{">.x"}}, ErrInvalid, []string{"'>'"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := testkit.TreeHash(t, h.Dir())
			var err error
			if tt.edit {
				_, err = h.EditUser(tt.account, tt.user, tt.e)
			} else {
				_, err = h.AddUser(tt.account, tt.user, tt.e)
			}
			if !errors.Is(err, tt.kind) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want %v (and ErrInvalid)", err, tt.kind)
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

func TestDeleteUser(t *testing.T) {
	h := newHome(t)
	mustAccount(t, h, "A", AccountEdit{})
	mustUser(t, h, "A", "keep", UserEdit{})
	clean := testkit.TreeHash(t, h.Dir())
	u := mustUser(t, h, "A", "gone", UserEdit{})
	if err := h.DeleteUser("A", "gone"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.User("A", "gone"); !errors.Is(err, ErrNotFound) {
		t.Errorf("user still there: %v", err)
	}
	if _, err := h.readKey(u.Pub); !errors.Is(err, ErrNotFound) {
		t.Errorf("seed still there: %v", err)
	}
	if after := testkit.TreeHash(t, h.Dir()); after != clean {
		t.Errorf("home after add+delete user differs from before")
	}
	if err := h.DeleteUser("A", "gone"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete = %v, want ErrNotFound", err)
	}
}

func TestConcurrentWritersAreSerialized(t *testing.T) {
	h := newHome(t)
	mustAccount(t, h, "A", AccountEdit{})
	// Separate Home values behave like separate natsauth processes.
	const n = 12
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := 0; i < n; i++ {
		wg.Add(2)
		go func(i int) {
			defer wg.Done()
			o, err := Open(h.Dir())
			if err == nil {
				_, err = o.AddUser("A", fmt.Sprintf("u%02d", i), UserEdit{AllowPub: []string{"x"}})
			}
			errs <- err
		}(i)
		go func(i int) {
			defer wg.Done()
			o, err := Open(h.Dir())
			if err == nil {
				_, err = o.EditAccount("A", AccountEdit{Subs: Int64(int64(i))})
			}
			errs <- err
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	users, err := h.Users("A")
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != n {
		t.Errorf("%d users, want %d", len(users), n)
	}
}
