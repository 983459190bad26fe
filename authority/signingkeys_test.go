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

func wantProblem(t *testing.T, err error, substr ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", substr)
	}
	for _, s := range substr {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not contain %q", err, s)
		}
	}
}

func TestAccountSigningKeySignsUsers(t *testing.T) {
	h := newHome(t)
	mustAccount(t, h, "A", AccountEdit{})
	byID := mustUser(t, h, "A", "old", UserEdit{AllowPub: []string{"a"}})
	acc, sk, err := h.AddAccountSigningKey("A", "")
	if err != nil {
		t.Fatal(err)
	}
	if !acc.Claims.SigningKeys.Contains(sk) || !nkeys.IsValidPublicAccountKey(sk) {
		t.Fatalf("account signing keys %v lack %s", acc.Claims.SigningKeys.Keys(), sk)
	}
	fi, err := os.Stat(h.keyPath(sk))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("seed of %s: %v %v", sk, fi, err)
	}
	u := mustUser(t, h, "A", "alice", UserEdit{AllowPub: []string{"orders.>"}})
	if u.Claims.Issuer != sk || u.Claims.IssuerAccount != acc.Pub {
		t.Fatalf("user issuer %s / issuer_account %s, want %s / %s", u.Claims.Issuer, u.Claims.IssuerAccount, sk, acc.Pub)
	}
	if byID.Claims.Issuer != acc.Pub || byID.Claims.IssuerAccount != "" {
		t.Fatalf("user added before the key: issuer %s issuer_account %q", byID.Claims.Issuer, byID.Claims.IssuerAccount)
	}
	// Editing moves a user to the signing key.
	edited, err := h.EditUser("A", "old", UserEdit{AllowSub: []string{"b"}})
	if err != nil {
		t.Fatal(err)
	}
	if edited.Claims.Issuer != sk || edited.Claims.IssuerAccount != acc.Pub {
		t.Fatalf("edited user issuer %s", edited.Claims.Issuer)
	}
	creds, err := h.Creds("A", "alice")
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := jwt.ParseDecoratedJWT(creds)
	if tok != u.JWT {
		t.Fatal("creds do not hold the user JWT")
	}

	// Removing a key that signed users is refused; after they are gone it works.
	wantProblem(t, func() error { _, err := h.RemoveAccountSigningKey("A", sk); return err }(), "alice", "rotate")
	for _, n := range []string{"alice", "old"} {
		if err := h.DeleteUser("A", n); err != nil {
			t.Fatal(err)
		}
	}
	acc, err = h.RemoveAccountSigningKey("A", sk)
	if err != nil {
		t.Fatal(err)
	}
	if acc.Claims.SigningKeys.Contains(sk) {
		t.Fatal("key still listed")
	}
	if _, err := os.Stat(h.keyPath(sk)); !os.IsNotExist(err) {
		t.Fatalf("seed of the removed key still present: %v", err)
	}
	_, err = h.RemoveAccountSigningKey("A", sk)
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("removing again = %v, want ErrNotFound", err)
	}
	// A public key only: listed, no seed.
	ext, _ := nkeys.CreateAccount()
	extPub, _ := ext.PublicKey()
	acc, got, err := h.AddAccountSigningKey("A", extPub)
	if err != nil || got != extPub || !acc.Claims.SigningKeys.Contains(extPub) {
		t.Fatalf("add public key: %v %s", err, got)
	}
	if h.hasKey(extPub) {
		t.Fatal("a seed appeared for a key given as public")
	}
	// Users are not signed by a key without a seed here.
	u2 := mustUser(t, h, "A", "bob", UserEdit{})
	if u2.Claims.Issuer != acc.Pub {
		t.Fatalf("bob signed by %s, want the identity key (no usable signing key)", u2.Claims.Issuer)
	}
	wantProblem(t, func() error { _, _, err := h.AddAccountSigningKey("A", extPub); return err }(), "already has")
	wantProblem(t, func() error { _, _, err := h.AddAccountSigningKey("A", "OBADKEY"); return err }(), "not an account public key")
}

func TestScopedSigningKey(t *testing.T) {
	h := newHome(t)
	mustAccount(t, h, "A", AccountEdit{})
	_, sk, err := h.AddAccountSigningKey("A", "")
	if err != nil {
		t.Fatal(err)
	}
	_, sk2, err := h.AddAccountSigningKey("A", "")
	if err != nil {
		t.Fatal(err)
	}
	role := "service"
	acc, scope, err := h.EditSigningKey("A", sk, SigningKeyEdit{Role: &role, Template: UserEdit{
		AllowPub: []string{"svc.>"}, AllowSub: []string{"_INBOX.>"}, RespMax: ptr(1), Src: []string{"10.0.0.0/8"}}})
	if err != nil {
		t.Fatal(err)
	}
	got := scopeOf(acc.Claims.SigningKeys, sk)
	if got == nil || got.Role != role || !got.Template.Pub.Allow.Contains("svc.>") || got.Template.Resp == nil ||
		!got.Template.Src.Contains("10.0.0.0/8") || scope.Key != sk {
		t.Fatalf("scope = %+v", got)
	}
	if got.Template.Subs != jwt.NoLimit {
		t.Errorf("template subs = %d, want nsc's default (unlimited)", got.Template.Subs)
	}
	// Edit by role: add, remove.
	acc, _, err = h.EditSigningKey("A", role, SigningKeyEdit{Template: UserEdit{AllowPub: []string{"more.>"}, Remove: []string{"svc.>"}}})
	if err != nil {
		t.Fatal(err)
	}
	got = scopeOf(acc.Claims.SigningKeys, sk)
	if got.Template.Pub.Allow.Contains("svc.>") || !got.Template.Pub.Allow.Contains("more.>") {
		t.Fatalf("template pub allow = %v", got.Template.Pub.Allow)
	}

	u, err := h.AddUserWith("A", "s1", UserEdit{Tags: []string{"team-a"}}, UserIssue{SigningKey: role})
	if err != nil {
		t.Fatal(err)
	}
	if u.Claims.Issuer != sk || u.Claims.IssuerAccount != acc.Pub || !u.Claims.HasEmptyPermissions() {
		t.Fatalf("scoped user: issuer %s, permissions %+v", u.Claims.Issuer, u.Claims.UserPermissionLimits)
	}
	if err := got.ValidateScopedSigner(u.Claims); err != nil {
		t.Fatalf("nats-server would refuse the scoped user: %v", err)
	}
	// Scoped users take no permissions of their own.
	wantProblem(t, func() error {
		_, err := h.AddUserWith("A", "s2", UserEdit{AllowPub: []string{"x"}}, UserIssue{SigningKey: role})
		return err
	}(), "template")
	wantProblem(t, func() error { _, err := h.EditUser("A", "s1", UserEdit{AllowSub: []string{"x"}}); return err }(), "template")
	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	e, err := h.EditUser("A", "s1", UserEdit{Expires: &exp})
	if err != nil {
		t.Fatal(err)
	}
	if e.Claims.Issuer != sk || !e.Claims.HasEmptyPermissions() || e.Claims.Expires != exp.Unix() {
		t.Fatalf("edited scoped user: issuer %s perms empty %v", e.Claims.Issuer, e.Claims.HasEmptyPermissions())
	}
	// Default signer stays the unscoped key.
	plain := mustUser(t, h, "A", "plain", UserEdit{AllowPub: []string{"p"}})
	if plain.Claims.Issuer != sk2 {
		t.Fatalf("plain user signed by %s, want the unscoped key %s", plain.Claims.Issuer, sk2)
	}
	// Scoping a key whose users carry permissions is refused.
	other := "other"
	wantProblem(t, func() error { _, _, err := h.EditSigningKey("A", sk2, SigningKeyEdit{Role: &other}); return err }(),
		"plain", "permissions of their own")
	// Duplicate and bad roles, template fields that belong to users.
	_, sk3, _ := h.AddAccountSigningKey("A", "")
	wantProblem(t, func() error { _, _, err := h.EditSigningKey("A", sk3, SigningKeyEdit{Role: &role}); return err }(), "already the role")
	bad := "two words"
	wantProblem(t, func() error { _, _, err := h.EditSigningKey("A", sk3, SigningKeyEdit{Role: &bad}); return err }(), "whitespace")
	wantProblem(t, func() error {
		_, _, err := h.EditSigningKey("A", sk3, SigningKeyEdit{Template: UserEdit{Expires: &exp}})
		return err
	}(), "belong to each user")
	wantProblem(t, func() error { _, _, err := h.EditSigningKey("A", "nope", SigningKeyEdit{Role: &other}); return err }(), "no signing key")
	wantProblem(t, func() error {
		_, err := h.AddUserWith("A", "x", UserEdit{}, UserIssue{SigningKey: "nope"})
		return err
	}(), "no signing key with role or public key", role)
}

func TestAddUserFromPublicKey(t *testing.T) {
	h := newHome(t)
	mustAccount(t, h, "A", AccountEdit{})
	kp, _ := nkeys.CreateUser()
	pub, _ := kp.PublicKey()
	seed, _ := kp.Seed()
	u, err := h.AddUserWith("A", "device", UserEdit{AllowPub: []string{"telemetry.>"}}, UserIssue{PublicKey: pub})
	if err != nil {
		t.Fatal(err)
	}
	if u.Pub != pub || u.Claims.Subject != pub {
		t.Fatalf("user key %s, want %s", u.Pub, pub)
	}
	if _, err := os.Stat(h.CredsPath("A", "device")); !os.IsNotExist(err) {
		t.Fatal("a creds file was written for a public-key user")
	}
	if h.hasKey(pub) {
		t.Fatal("a seed was stored for a public-key user")
	}
	_, err = h.Creds("A", "device")
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "whoever holds the seed") {
		t.Fatalf("Creds = %v", err)
	}
	if strings.Contains(err.Error(), string(seed)) {
		t.Fatal("error holds the seed")
	}
	// The holder makes working creds from the JWT and its seed.
	creds, err := jwt.FormatUserConfig(u.JWT, seed)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jwt.ParseDecoratedNKey(creds); err != nil {
		t.Fatal(err)
	}
	// Edits re-sign without writing creds.
	if _, err := h.EditUser("A", "device", UserEdit{AllowSub: []string{"cmd.>"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(h.CredsPath("A", "device")); !os.IsNotExist(err) {
		t.Fatal("edit wrote a creds file")
	}
	before := testkit.TreeHash(t, h.Dir())
	wantProblem(t, func() error {
		_, err := h.AddUserWith("A", "d2", UserEdit{}, UserIssue{PublicKey: string(seed)})
		return err
	}(),
		"that is a user seed")
	wantProblem(t, func() error { _, err := h.AddUserWith("A", "d2", UserEdit{}, UserIssue{PublicKey: "Uxyz"}); return err }(),
		"not a user public key")
	wantProblem(t, func() error { _, err := h.AddUserWith("A", "d2", UserEdit{}, UserIssue{PublicKey: pub}); return err }(),
		"already the key of user device")
	if testkit.TreeHash(t, h.Dir()) != before {
		t.Fatal("refused adds changed the home")
	}
}

func TestOperatorSigningKeys(t *testing.T) {
	h := newHome(t)
	first := h.OperatorSigningKeys()[0]
	sk, err := h.AddOperatorSigningKey("")
	if err != nil {
		t.Fatal(err)
	}
	if got := h.OperatorSigningKeys(); len(got) != 2 || got[0] != first || got[1] != sk {
		t.Fatalf("operator signing keys = %v, want the new one last", got)
	}
	h2, err := Open(h.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if h2.Operator().Issuer != h2.Operator().Subject || !h2.Operator().SigningKeys.Contains(sk) {
		t.Fatal("operator JWT on disk is not self-signed with the new key")
	}
	// Servers do not know the new key until they restart: accounts keep
	// being signed with the first.
	a := mustAccount(t, h, "A", AccountEdit{})
	if a.Claims.Issuer != first {
		t.Fatalf("new account signed by %s, want the established key %s", a.Claims.Issuer, first)
	}
	wantProblem(t, h.RemoveOperatorSigningKey(first), "SYS", "A", "rotate operator-signing-key")
	if err := h.RemoveOperatorSigningKey(sk); err != nil {
		t.Fatal(err)
	}
	if h.hasKey(sk) || h.Operator().SigningKeys.Contains(sk) {
		t.Fatal("removed key still present")
	}
	wantProblem(t, h.RemoveOperatorSigningKey(sk), "no signing key")
	wantProblem(t, h.RemoveOperatorSigningKey(first), "last signing key")
	// Without the operator identity seed the operator cannot be edited.
	if err := os.Remove(h.keyPath(h.Operator().Subject)); err != nil {
		t.Fatal(err)
	}
	before := testkit.TreeHash(t, h.Dir())
	wantProblem(t, func() error { _, err := h.AddOperatorSigningKey(""); return err }(), "operator identity key", "not in the keystore")
	if testkit.TreeHash(t, h.Dir()) != before {
		t.Fatal("refused edit changed the home")
	}
	// Accounts are still signed with the signing key.
	if c, err := h.AddAccount("C", AccountEdit{}); err != nil || c.Claims.Issuer != first {
		t.Fatalf("C: %v", err)
	}
}

func TestRequireSigningKeys(t *testing.T) {
	h := newHome(t)
	mustAccount(t, h, "A", AccountEdit{})
	mustUser(t, h, "A", "alice", UserEdit{})
	// sys and alice are signed by account identity keys.
	before := testkit.TreeHash(t, h.Dir())
	wantProblem(t, func() error { _, err := h.SetRequireSigningKeys(true); return err }(),
		"alice", "sys", "natsauth rotate account-signing-key -a A", "-a SYS")
	if testkit.TreeHash(t, h.Dir()) != before {
		t.Fatal("refused change altered the home")
	}
	for _, acc := range []string{"SYS", "A"} {
		r, _, err := h.BeginAccountKeyRotation(acc, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.ReissueAccountUsers(r); err != nil {
			t.Fatal(err)
		}
		if _, err := h.FinishAccountKeyRotation(r); err != nil {
			t.Fatal(err)
		}
	}
	// An account signed by the operator identity key is re-signed.
	opKP, err := h.readKey(h.Operator().Subject)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := h.Account("A")
	ac, _ := jwt.DecodeAccountClaims(a.JWT)
	tok, err := encodeAt(ac, opKP, a.Claims.IssuedAt+1)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeAtomic(h.accountJWTPath("A"), []byte(tok)); err != nil {
		t.Fatal(err)
	}
	resigned, err := h.SetRequireSigningKeys(true)
	if err != nil {
		t.Fatal(err)
	}
	if len(resigned) != 1 || resigned[0].Name != "A" || resigned[0].Claims.Issuer != h.OperatorSigningKeys()[0] {
		t.Fatalf("re-signed = %+v", resigned)
	}
	if !h.Operator().StrictSigningKeyUsage {
		t.Fatal("operator does not require signing keys")
	}
	if _, err := h.Policy().CheckAccount(resigned[0].Pub, resigned[0].JWT); err != nil {
		t.Fatalf("re-signed account fails the strict policy: %v", err)
	}
	// Users are signed by signing keys; the identity key is refused.
	u := mustUser(t, h, "A", "bob", UserEdit{})
	if u.Claims.Issuer == u.AccountPub {
		t.Fatal("bob signed by the identity key under strict")
	}
	wantProblem(t, func() error {
		_, err := h.AddUserWith("A", "carol", UserEdit{}, UserIssue{SigningKey: u.AccountPub})
		return err
	}(), "requires signing keys")
	mustAccount(t, h, "B", AccountEdit{})
	wantProblem(t, func() error { _, err := h.AddUser("B", "dave", UserEdit{}); return err }(),
		"natsauth edit account B --sk generate")
	sysKP, err := h.UserSigner(h.SystemAccount())
	if err != nil {
		t.Fatal(err)
	}
	if pubKey(sysKP) == h.SystemAccount() {
		t.Fatal("UserSigner returned the system account identity key under strict")
	}
	if _, err := h.SetRequireSigningKeys(false); err != nil {
		t.Fatal(err)
	}
	if h.Operator().StrictSigningKeyUsage {
		t.Fatal("still strict")
	}
}
