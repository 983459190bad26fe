package authority

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"

	"github.com/natsauth/natsauth/internal/testkit"
)

func TestInitLayout(t *testing.T) {
	h := newHome(t)
	dir := h.Dir()
	opDir := filepath.Join(dir, "stores", "TestOp")

	raw, err := os.ReadFile(filepath.Join(opDir, ".nsc"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(raw), `{"managed":false,"name":"TestOp","kind":"operator","version":"1"}`; got != want {
		t.Errorf(".nsc = %s, want %s", got, want)
	}

	raw, err = os.ReadFile(filepath.Join(opDir, "TestOp.jwt"))
	if err != nil {
		t.Fatal(err)
	}
	oc, err := jwt.DecodeOperatorClaims(string(raw))
	if err != nil {
		t.Fatal(err)
	}
	if oc.Name != "TestOp" || oc.Issuer != oc.Subject {
		t.Errorf("operator name %q issuer %s subject %s; want self-signed TestOp", oc.Name, oc.Issuer, oc.Subject)
	}
	if len(oc.SigningKeys) != 1 {
		t.Fatalf("operator signing keys = %v, want one", oc.SigningKeys)
	}
	sk := oc.SigningKeys[0]

	sys, err := h.Account(SystemAccountName)
	if err != nil {
		t.Fatal(err)
	}
	if oc.SystemAccount != sys.Pub || h.SystemAccount() != sys.Pub || !sys.System {
		t.Errorf("operator system account %s, SYS is %s", oc.SystemAccount, sys.Pub)
	}
	if sys.Claims.Issuer != sk {
		t.Errorf("SYS issuer %s, want the operator signing key %s", sys.Claims.Issuer, sk)
	}
	wantExports := map[string]struct {
		typ jwt.ExportType
		pos uint
	}{
		"$SYS.REQ.ACCOUNT.*.*": {jwt.Service, 4},
		"$SYS.ACCOUNT.*.>":     {jwt.Stream, 3},
	}
	if len(sys.Claims.Exports) != 2 {
		t.Fatalf("SYS exports = %d, want 2", len(sys.Claims.Exports))
	}
	for _, e := range sys.Claims.Exports {
		w, ok := wantExports[string(e.Subject)]
		if !ok || e.Type != w.typ || e.AccountTokenPosition != w.pos {
			t.Errorf("SYS export %s type %v pos %d, want %+v", e.Subject, e.Type, e.AccountTokenPosition, w)
		}
	}
	if _, err := h.Policy().CheckAccount(sys.Pub, sys.JWT); err != nil {
		t.Errorf("SYS JWT fails the trust policy: %v", err)
	}

	u, err := h.User(SystemAccountName, SystemUserName)
	if err != nil {
		t.Fatal(err)
	}
	if u.Claims.Issuer != sys.Pub {
		t.Errorf("sys user issuer %s, want SYS %s", u.Claims.Issuer, sys.Pub)
	}
	credsPath, err := h.SystemUserCreds()
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "keys", "creds", "TestOp", "SYS", "sys.creds"); credsPath != want {
		t.Errorf("SystemUserCreds = %s, want %s", credsPath, want)
	}
	creds, err := os.ReadFile(credsPath)
	if err != nil {
		t.Fatal(err)
	}
	credJWT, err := jwt.ParseDecoratedJWT(creds)
	if err != nil || credJWT != u.JWT {
		t.Errorf("creds JWT differs from the user JWT (err %v)", err)
	}
	kp, err := jwt.ParseDecoratedNKey(creds)
	if err != nil || pubKey(kp) != u.Pub {
		t.Errorf("creds seed does not belong to the user (err %v)", err)
	}

	// Every key has its seed at keys/keys/<kind>/<chars 2-3>/<pub>.nk.
	for _, pub := range []string{oc.Subject, sk, sys.Pub, u.Pub} {
		p := filepath.Join(dir, "keys", "keys", pub[:1], pub[1:3], pub+".nk")
		seed, err := os.ReadFile(p)
		if err != nil {
			t.Errorf("seed of %s: %v", pub, err)
			continue
		}
		kp, err := nkeys.FromSeed(seed)
		if err != nil || pubKey(kp) != pub {
			t.Errorf("%s does not hold the seed of %s", p, pub)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "keys", ".gitignore")); err != nil {
		t.Errorf("keystore .gitignore: %v", err)
	}
	osk, err := h.OperatorSigner()
	if err != nil || pubKey(osk) != sk {
		t.Errorf("OperatorSigner = %v, %v; want %s", osk, err, sk)
	}
	ask, err := h.AccountSigner(sys.Pub)
	if err != nil || pubKey(ask) != sys.Pub {
		t.Errorf("AccountSigner(SYS) = %v, %v", ask, err)
	}
}

func TestPermissionsOfFilesAndDirs(t *testing.T) {
	h := newHome(t)
	mustAccount(t, h, "A", AccountEdit{})
	mustUser(t, h, "A", "u", UserEdit{AllowPub: []string{"x"}})
	err := filepath.WalkDir(h.Dir(), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		want := fs.FileMode(0o600)
		if d.IsDir() {
			want = 0o700 | fs.ModeDir
		}
		if fi.Mode() != want {
			t.Errorf("%s mode %v, want %v", p, fi.Mode(), want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestInitRefusesExistingOperator(t *testing.T) {
	h := newHome(t)
	before := testkit.TreeHash(t, h.Dir())
	for _, name := range []string{"TestOp", "Other"} {
		_, err := Init(h.Dir(), name)
		if !errors.Is(err, ErrExists) {
			t.Errorf("Init(%s) again = %v, want ErrExists", name, err)
		}
	}
	if after := testkit.TreeHash(t, h.Dir()); after != before {
		t.Errorf("refused Init changed the home:\n%s\n---\n%s", before, after)
	}
}

func TestInitBadNameWritesNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "home")
	for _, name := range []string{"", "a/b", "..", ".hidden", " pad", "x\x00y"} {
		if _, err := Init(dir, name); !errors.Is(err, ErrInvalid) {
			t.Errorf("Init(%q) = %v, want ErrInvalid", name, err)
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("home directory exists after refused Init: %v", err)
	}
}

func TestOpen(t *testing.T) {
	h := newHome(t)
	o, err := Open(h.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if o.OperatorName() != "TestOp" || o.OperatorJWT() != h.OperatorJWT() || o.Operator().Subject != h.Operator().Subject {
		t.Errorf("Open reads another operator: %s", o.OperatorName())
	}

	missing := filepath.Join(t.TempDir(), "nothing")
	_, err = Open(missing)
	if !errors.Is(err, ErrNoHome) {
		t.Fatalf("Open(missing) = %v, want ErrNoHome", err)
	}
	if want := "no natsauth home at " + missing + ": run natsauth init"; err.Error() != want {
		t.Errorf("Open(missing) = %q, want %q", err, want)
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("Open created %s", missing)
	}
}

func TestAccountsAndJWTs(t *testing.T) {
	h := newHome(t)
	b := mustAccount(t, h, "B", AccountEdit{})
	a := mustAccount(t, h, "A", AccountEdit{})
	accs, err := h.Accounts()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, x := range accs {
		names = append(names, x.Name)
	}
	if got := strings.Join(names, ","); got != "A,B,SYS" {
		t.Errorf("Accounts = %s, want A,B,SYS", got)
	}
	jwts, err := h.AccountJWTs()
	if err != nil {
		t.Fatal(err)
	}
	if len(jwts) != 3 || jwts[a.Pub] != a.JWT || jwts[b.Pub] != b.JWT || jwts[h.SystemAccount()] == "" {
		t.Errorf("AccountJWTs = %d entries, missing some", len(jwts))
	}
	got, err := h.AccountByPub(b.Pub)
	if err != nil || got.Name != "B" {
		t.Errorf("AccountByPub = %v, %v", got, err)
	}
	if _, err := h.AccountByPub("ANOTHER"); !errors.Is(err, ErrNotFound) {
		t.Errorf("AccountByPub(unknown) = %v, want ErrNotFound", err)
	}
	_, err = h.Account("Nope")
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "accounts: A, B, SYS") {
		t.Errorf("Account(Nope) = %v, want ErrNotFound naming the accounts", err)
	}
	if _, err := h.Account("../x"); !errors.Is(err, ErrInvalid) {
		t.Errorf("Account(../x) = %v, want ErrInvalid", err)
	}
}

func TestNscInfoJSON(t *testing.T) {
	b, _ := json.Marshal(nscInfo{Name: "X", Kind: "operator", Version: "1"})
	if string(b) != `{"managed":false,"name":"X","kind":"operator","version":"1"}` {
		t.Errorf("nscInfo = %s", b)
	}
}
