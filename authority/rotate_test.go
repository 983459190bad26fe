package authority

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"

	"github.com/natsauth/natsauth/internal/testkit"
)

// issuersInHome decodes every JWT and creds file under the home and
// returns the files by issuer.
func issuersInHome(t *testing.T, dir string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		var tok string
		switch {
		case strings.HasSuffix(p, ".jwt"):
			raw, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			tok = strings.TrimSpace(string(raw))
		case strings.HasSuffix(p, ".creds"):
			raw, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if tok, err = jwt.ParseDecoratedJWT(raw); err != nil {
				return err
			}
		default:
			return nil
		}
		c, err := jwt.Decode(tok)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			return nil
		}
		out[c.Claims().Issuer] = append(out[c.Claims().Issuer], p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestAccountKeyRotation(t *testing.T) {
	h := newHome(t)
	mustAccount(t, h, "A", AccountEdit{})
	_, old, err := h.AddAccountSigningKey("A", "")
	if err != nil {
		t.Fatal(err)
	}
	alice := mustUser(t, h, "A", "alice", UserEdit{AllowPub: []string{"a.>"}})
	ukp, _ := nkeys.CreateUser()
	upub, _ := ukp.PublicKey()
	dev, err := h.AddUserWith("A", "device", UserEdit{}, UserIssue{PublicKey: upub})
	if err != nil {
		t.Fatal(err)
	}
	mallory := mustUser(t, h, "A", "mallory", UserEdit{})
	if _, err := h.RevokeUser("A", "mallory", time.Unix(mallory.Claims.IssuedAt, 0)); err != nil {
		t.Fatal(err)
	}
	if alice.Claims.Issuer != old || dev.Claims.Issuer != old {
		t.Fatal("users not signed by the signing key")
	}

	r, acc, err := h.BeginAccountKeyRotation("A", "")
	if err != nil {
		t.Fatal(err)
	}
	if r.Old != old || r.New == old || r.IdentityKey || !acc.Claims.SigningKeys.Contains(old) || !acc.Claims.SigningKeys.Contains(r.New) {
		t.Fatalf("after begin: rotation %+v, keys %v", r, acc.Claims.SigningKeys.Keys())
	}
	// Resuming returns the same rotation; another key is refused.
	r2, _, err := h.BeginAccountKeyRotation("A", "")
	if err != nil || *r2 != *r {
		t.Fatalf("resume = %+v, %v", r2, err)
	}
	wantProblem(t, func() error { _, _, err := h.BeginAccountKeyRotation("A", r.New); return err }(), "in progress")
	if rs, err := h.PendingRotations(); err != nil || len(rs) != 1 || rs[0].Account != "A" {
		t.Fatalf("pending = %+v, %v", rs, err)
	}
	// Finishing before re-issuing is refused.
	wantProblem(t, func() error { _, err := h.FinishAccountKeyRotation(r); return err }(), "still signed by the old key")

	re, err := h.ReissueAccountUsers(r)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Reissued{}
	for _, u := range re {
		got[u.Name] = u
	}
	if len(got) != 3 || !got["alice"].CredsWritten || got["device"].CredsWritten || !got["mallory"].CredsWritten {
		t.Fatalf("re-issued = %+v", re)
	}
	a2, _ := h.User("A", "alice")
	if a2.Claims.Issuer != r.New || a2.Claims.IssuerAccount != acc.Pub || a2.Claims.IssuedAt != alice.Claims.IssuedAt ||
		!a2.Claims.Pub.Allow.Contains("a.>") {
		t.Fatalf("re-issued alice: issuer %s iat %d (was %d)", a2.Claims.Issuer, a2.Claims.IssuedAt, alice.Claims.IssuedAt)
	}
	creds, _ := h.Creds("A", "alice")
	if tok, _ := jwt.ParseDecoratedJWT(creds); tok != a2.JWT {
		t.Fatal("alice's creds file was not rewritten")
	}
	onDisk, _ := os.ReadFile(h.CredsPath("A", "alice"))
	if tok, _ := jwt.ParseDecoratedJWT(onDisk); tok != a2.JWT {
		t.Fatal("alice's creds file on disk holds the old JWT")
	}
	accNow, _ := h.Account("A")
	m2, _ := h.User("A", "mallory")
	if !accNow.IsRevoked(m2) {
		t.Fatal("the re-issued revoked user is no longer revoked")
	}
	if again, err := h.ReissueAccountUsers(r); err != nil || len(again) != 0 {
		t.Fatalf("second re-issue = %d users, %v", len(again), err)
	}

	fin, err := h.FinishAccountKeyRotation(r)
	if err != nil {
		t.Fatal(err)
	}
	if fin.Claims.SigningKeys.Contains(old) || !fin.Claims.SigningKeys.Contains(r.New) {
		t.Fatalf("after finish: keys %v", fin.Claims.SigningKeys.Keys())
	}
	if h.hasKey(old) {
		t.Fatal("the old key's seed is still in the keystore")
	}
	if p, _ := h.PendingRotation(RotateAccount, "A"); p != nil {
		t.Fatalf("rotation record left: %+v", p)
	}
	if _, err := os.Stat(filepath.Join(h.Dir(), rotationsDirName)); !os.IsNotExist(err) {
		t.Fatal("empty rotations directory left")
	}
	if files := issuersInHome(t, h.Dir())[old]; len(files) > 0 {
		t.Fatalf("still signed by the old key: %v", files)
	}
	if _, err := h.Policy().CheckAccount(fin.Pub, fin.JWT); err != nil {
		t.Fatal(err)
	}
}

func TestAccountKeyRotationKeepsScope(t *testing.T) {
	h := newHome(t)
	mustAccount(t, h, "A", AccountEdit{})
	_, sk, _ := h.AddAccountSigningKey("A", "")
	_, other, _ := h.AddAccountSigningKey("A", "")
	role := "svc"
	if _, _, err := h.EditSigningKey("A", sk, SigningKeyEdit{Role: &role, Template: UserEdit{AllowPub: []string{"svc.>"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.AddUserWith("A", "s", UserEdit{}, UserIssue{SigningKey: role}); err != nil {
		t.Fatal(err)
	}
	wantProblem(t, func() error { _, _, err := h.BeginAccountKeyRotation("A", ""); return err }(), "choose the one to rotate with --key")
	r, acc, err := h.BeginAccountKeyRotation("A", role)
	if err != nil {
		t.Fatal(err)
	}
	if r.Old != sk {
		t.Fatalf("rotating role %s picked %s, want %s", role, r.Old, sk)
	}
	ns := scopeOf(acc.Claims.SigningKeys, r.New)
	if ns == nil || ns.Role != role || !ns.Template.Pub.Allow.Contains("svc.>") {
		t.Fatalf("new key scope = %+v", ns)
	}
	if _, err := h.ReissueAccountUsers(r); err != nil {
		t.Fatal(err)
	}
	if _, err := h.FinishAccountKeyRotation(r); err != nil {
		t.Fatal(err)
	}
	u, _ := h.User("A", "s")
	if err := ns.ValidateScopedSigner(u.Claims); err != nil || u.Claims.Issuer != r.New {
		t.Fatalf("re-issued scoped user: %v, issuer %s", err, u.Claims.Issuer)
	}
	fin, _ := h.Account("A")
	if !fin.Claims.SigningKeys.Contains(other) || len(fin.Claims.SigningKeys) != 2 {
		t.Fatalf("keys after = %v", fin.Claims.SigningKeys.Keys())
	}
}

// An account without signing keys moves its users off the identity key.
func TestAccountKeyRotationFromIdentityKey(t *testing.T) {
	h := newHome(t)
	a := mustAccount(t, h, "A", AccountEdit{})
	mustUser(t, h, "A", "alice", UserEdit{})
	r, _, err := h.BeginAccountKeyRotation("A", "")
	if err != nil {
		t.Fatal(err)
	}
	if r.Old != a.Pub || !r.IdentityKey {
		t.Fatalf("rotation = %+v", r)
	}
	if _, err := h.ReissueAccountUsers(r); err != nil {
		t.Fatal(err)
	}
	fin, err := h.FinishAccountKeyRotation(r)
	if err != nil {
		t.Fatal(err)
	}
	if !h.hasKey(a.Pub) || !fin.Claims.SigningKeys.Contains(r.New) {
		t.Fatal("identity key removed or new key missing")
	}
	u, _ := h.User("A", "alice")
	if u.Claims.Issuer != r.New {
		t.Fatalf("alice issuer = %s", u.Claims.Issuer)
	}
}

func TestOperatorKeyRotation(t *testing.T) {
	h := newHome(t)
	old := h.OperatorSigningKeys()[0]
	mustAccount(t, h, "A", AccountEdit{})
	mustAccount(t, h, "B", AccountEdit{})
	r, err := h.BeginOperatorKeyRotation("")
	if err != nil {
		t.Fatal(err)
	}
	if r.Old != old || h.OperatorSigningKeys()[1] != r.New || len(h.OperatorSigningKeys()) != 2 {
		t.Fatalf("after begin: %+v keys %v", r, h.OperatorSigningKeys())
	}
	// Until the accounts are re-issued, new ones are signed by the old key
	// (servers do not know the new one yet); the re-issue covers them.
	if c := mustAccount(t, h, "C", AccountEdit{}); c.Claims.Issuer != old {
		t.Fatalf("C signed by %s during the rotation, want the old key", c.Claims.Issuer)
	}
	// Another process sees the rotation and the new operator.
	h2, _ := Open(h.Dir())
	if p, err := h2.PendingRotation(RotateOperator, ""); err != nil || p == nil || p.New != r.New {
		t.Fatalf("pending = %+v, %v", p, err)
	}
	if r2, err := h2.BeginOperatorKeyRotation(""); err != nil || *r2 != *r {
		t.Fatalf("resume = %+v, %v", r2, err)
	}
	if err := h.FinishOperatorKeyRotation(r); err == nil {
		t.Fatal("finish before re-issuing accounts accepted")
	}
	accs, err := h.ReissueAccounts(r)
	if err != nil {
		t.Fatal(err)
	}
	if len(accs) != 4 { // A, B, C, SYS
		t.Fatalf("re-issued %d accounts, want 4", len(accs))
	}
	for _, a := range accs {
		if a.Claims.Issuer != r.New {
			t.Fatalf("%s issuer = %s", a.Name, a.Claims.Issuer)
		}
	}
	if err := h.FinishOperatorKeyRotation(r); err != nil {
		t.Fatal(err)
	}
	if got := h.OperatorSigningKeys(); len(got) != 1 || got[0] != r.New {
		t.Fatalf("keys after = %v", got)
	}
	if h.hasKey(old) {
		t.Fatal("old seed still present")
	}
	if files := issuersInHome(t, h.Dir())[old]; len(files) > 0 {
		t.Fatalf("still signed by the old key: %v", files)
	}
	h3, _ := Open(h.Dir())
	for _, a := range accs {
		if _, err := h3.Policy().CheckAccount(a.Pub, a.JWT); err != nil {
			t.Fatalf("%s: %v", a.Name, err)
		}
	}
	if p, _ := h3.PendingRotation(RotateOperator, ""); p != nil {
		t.Fatal("rotation record left")
	}
}

// A damaged rotation record is reported with what to do, and nothing is
// changed.
func TestDamagedRotationRecord(t *testing.T) {
	h := newHome(t)
	mustAccount(t, h, "A", AccountEdit{})
	for _, content := range []string{"{not json", `{"kind":"account","account":"A","old":"x","new":"y"}`} {
		p := h.rotationPath(RotateAccount, "A")
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		before := testkit.TreeHash(t, h.Dir())
		_, _, err := h.BeginAccountKeyRotation("A", "")
		if err == nil || !strings.Contains(err.Error(), p) {
			t.Fatalf("damaged record %q: %v", content, err)
		}
		if testkit.TreeHash(t, h.Dir()) != before {
			t.Fatal("a refused rotation changed the home")
		}
	}
}

// Users added while a rotation is in progress are signed by the new key,
// by role as by default, so finishing does not have to wait for them.
func TestUsersDuringRotationGetTheNewKey(t *testing.T) {
	h := newHome(t)
	mustAccount(t, h, "A", AccountEdit{})
	_, plain, _ := h.AddAccountSigningKey("A", "")
	_, scoped, _ := h.AddAccountSigningKey("A", "")
	role := "svc"
	if _, _, err := h.EditSigningKey("A", scoped, SigningKeyEdit{Role: &role}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ old, signWith string }{{plain, ""}, {scoped, role}} {
		r, _, err := h.BeginAccountKeyRotation("A", tc.old)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 5; i++ {
			u, err := h.AddUserWith("A", fmt.Sprintf("u%s%d", tc.signWith, i), UserEdit{}, UserIssue{SigningKey: tc.signWith})
			if err != nil {
				t.Fatal(err)
			}
			if u.Claims.Issuer != r.New {
				t.Fatalf("user added during the rotation of %s signed by %s, want the new key %s", tc.old, u.Claims.Issuer, r.New)
			}
		}
		if _, err := h.ReissueAccountUsers(r); err != nil {
			t.Fatal(err)
		}
		if _, err := h.FinishAccountKeyRotation(r); err != nil {
			t.Fatal(err)
		}
	}
}
