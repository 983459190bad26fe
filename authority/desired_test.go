package authority

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"

	"github.com/natsauth/natsauth/internal/testkit"
)

// The bulk creds writer writes exactly what formatCreds writes.
func TestUserCredsIsFormatCreds(t *testing.T) {
	acc, _ := nkeys.CreateAccount()
	u, _ := nkeys.CreateUser()
	uc := jwt.NewUserClaims(pubKey(u))
	tok, err := uc.Encode(newFastKey(acc))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jwt.DecodeUserClaims(tok); err != nil {
		t.Fatalf("a JWT signed by the fast key does not verify: %v", err)
	}
	want, err := formatCreds(tok, u)
	if err != nil {
		t.Fatal(err)
	}
	got, err := userCreds(tok, u)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("userCreds =\n%s\nwant\n%s (%v)", got, want, err)
	}
}

// A bulk commit that fails leaves the directory as it was: before the
// renames (a directory cannot be made) and during them (a target is a
// directory).
func TestCommitBulkAllOrNothing(t *testing.T) {
	for _, tc := range []struct {
		name  string
		spoil func(dir string) string // returns the path of the step that fails
	}{
		{"cannot make a directory", func(dir string) string {
			blocker := filepath.Join(dir, "blocker")
			_ = os.WriteFile(blocker, []byte("a file"), 0o600)
			return filepath.Join(blocker, "sub", "f")
		}},
		{"target is a directory", func(dir string) string {
			p := filepath.Join(dir, "zz", "target")
			_ = os.MkdirAll(filepath.Join(p, "inside"), 0o700)
			return p
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for i := range 10 {
				p := filepath.Join(dir, "a", fmt.Sprintf("old%d", i))
				_ = os.MkdirAll(filepath.Dir(p), 0o700)
				_ = os.WriteFile(p, []byte("old"), 0o600)
			}
			bad := tc.spoil(dir)
			before := testkit.TreeHash(t, dir)
			var tx txn
			for i := range 100 {
				tx.put(filepath.Join(dir, "a", fmt.Sprintf("new%d", i)), []byte("new"))
			}
			for i := range 10 {
				tx.put(filepath.Join(dir, "a", fmt.Sprintf("old%d", i)), []byte("changed"))
			}
			tx.del(filepath.Join(dir, "a", "old0"))
			tx.put(bad, []byte("x"))
			if err := tx.commitBulk(); err == nil {
				t.Fatal("the commit succeeded")
			}
			if after := testkit.TreeHash(t, dir); after != before {
				t.Fatalf("the directory changed:\n%s\n---\n%s", before, after)
			}
		})
	}
}

// A dry run writes nothing and names keys to generate with placeholders.
func TestReconcileDryRunWritesNothing(t *testing.T) {
	h := newHome(t)
	before := testkit.TreeHash(t, h.Dir())
	s := DesiredState{Accounts: []DesiredAccount{{Name: "A", Limits: DefaultLimits(),
		SigningKeys: []DesiredSigningKey{{}}, Users: []DesiredUser{{Name: "u", Permissions: DefaultUserLimits()}}}}}
	rec, err := h.Reconcile(s, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Changes) != 2 || len(rec.Published) != 0 {
		t.Fatalf("changes %+v published %+v", rec.Changes, rec.Published)
	}
	ac := rec.Changes[0].After.(*jwt.AccountClaims)
	if !IsPlaceholder(ac.Subject) || !IsPlaceholder(ac.SigningKeys.Keys()[0]) {
		t.Fatalf("keys of a dry run %s %v are not placeholders", ac.Subject, ac.SigningKeys.Keys())
	}
	if real, _ := nkeys.CreateAccount(); IsPlaceholder(pubKey(real)) {
		t.Fatal("a real key reads as a placeholder")
	}
	if after := testkit.TreeHash(t, h.Dir()); after != before {
		t.Fatal("a dry run changed the home")
	}
	rec, err = h.Reconcile(s, false)
	if err != nil {
		t.Fatal(err)
	}
	u, err := h.User("A", "u")
	if err != nil {
		t.Fatal(err)
	}
	acc, _ := h.Account("A")
	if !acc.Claims.SigningKeys.Contains(u.Claims.Issuer) || u.Claims.IssuerAccount != acc.Pub {
		t.Fatalf("the user is not signed by the account's signing key: %s", u.Claims.Issuer)
	}
	if rec, err = h.Reconcile(s, false); err != nil || len(rec.Changes) != 0 {
		t.Fatalf("a second reconcile: %+v %v", rec, err)
	}
}

// Users that did not change are recognized without decoding their JWTs,
// whether Reconcile or the CLI's path (AddUserWith, EditUser) made them.
func TestUnchangedUsersTakeTheFastPath(t *testing.T) {
	h := newHome(t)
	s := DesiredState{Accounts: []DesiredAccount{{Name: "A", Limits: DefaultLimits(), SigningKeys: []DesiredSigningKey{{}, {Role: "r", Template: jwt.NewUserScope().Template}}}}}
	for i := range 5 {
		perms := DefaultUserLimits()
		perms.Pub.Allow = jwt.StringList{"b.>", "a.>"}
		perms.Resp = &jwt.ResponsePermission{MaxMsgs: 1}
		perms.Src = jwt.CIDRList{"10.0.0.0/8"}
		s.Accounts[0].Users = append(s.Accounts[0].Users, DesiredUser{Name: fmt.Sprintf("u%d", i), Permissions: perms, Tags: []string{"T"}})
	}
	s.Accounts[0].Users = append(s.Accounts[0].Users, DesiredUser{Name: "scoped", SigningKey: "r", Permissions: DefaultUserLimits()})
	if _, err := h.Reconcile(s, false); err != nil {
		t.Fatal(err)
	}
	if _, err := h.AddUser("A", "cli", UserEdit{AllowPub: []string{"x"}}); err != nil {
		t.Fatal(err)
	}
	s.Accounts[0].Users = append(s.Accounts[0].Users, DesiredUser{Name: "cli", Permissions: func() jwt.UserPermissionLimits {
		p := DefaultUserLimits()
		p.Pub.Allow = jwt.StringList{"x"}
		return p
	}()})
	rec, err := h.Reconcile(s, true)
	if err != nil || len(rec.Changes) != 0 {
		t.Fatalf("%+v %v", rec, err)
	}
	if n := lastFastUsers.Load(); n != 7 {
		t.Fatalf("%d of 7 unchanged users took the fast path", n)
	}
}
