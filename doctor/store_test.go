package doctor

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/internal/testkit"
	"github.com/natsauth/natsauth/store"
	"github.com/natsauth/natsauth/store/mem"
)

// signAt signs the home's account claims with the operator signing key,
// at iat, and returns the JWT.
func signAt(t *testing.T, h *authority.Home, a *authority.AccountInfo, iat int64, mod func(*jwt.AccountClaims)) string {
	t.Helper()
	sk := h.Operator().SigningKeys[0]
	seed, err := os.ReadFile(seedPath(h, sk))
	if err != nil {
		t.Fatal(err)
	}
	kp, err := nkeys.FromSeed([]byte(strings.TrimSpace(string(seed))))
	if err != nil {
		t.Fatal(err)
	}
	ac, err := jwt.DecodeAccountClaims(a.JWT)
	if err != nil {
		t.Fatal(err)
	}
	if mod != nil {
		mod(ac)
	}
	tok, err := ac.Encode(kp)
	if err != nil {
		t.Fatal(err)
	}
	return testkit.WithIssuedAt(t, tok, kp, iat)
}

// Every way the store's copy of an account can differ from the home's is
// reported, with the command that fixes it; equal copies are not.
func TestCheckStoreReportsEveryDifference(t *testing.T) {
	h := initHome(t)
	now := time.Now()
	accs := map[string]*authority.AccountInfo{}
	for _, n := range []string{"Same", "Missing", "Older", "Newer", "Future"} {
		a, err := h.AddAccount(n, authority.AccountEdit{Conns: ptr[int64](10)})
		if err != nil {
			t.Fatal(err)
		}
		accs[n] = a
	}
	backend := mem.New()
	st := store.Wrap(backend, store.Options{Policy: h.Policy()})
	t.Cleanup(func() { st.Close() })
	ctx := context.Background()
	put := func(pub, tok string) {
		t.Helper()
		ac, err := jwt.DecodeAccountClaims(tok)
		if err != nil {
			t.Fatal(err)
		}
		// Straight to the backend: a poisoned record from before JWTs
		// from the future were refused must be reported too.
		if _, err := backend.Replace(ctx, store.RecordFromClaims(tok, ac)); err != nil {
			t.Fatal(err)
		}
	}
	sys, err := h.Account("SYS")
	if err != nil {
		t.Fatal(err)
	}
	put(sys.Pub, sys.JWT)
	put(accs["Same"].Pub, accs["Same"].JWT)
	put(accs["Older"].Pub, signAt(t, h, accs["Older"], accs["Older"].Claims.IssuedAt-100, nil))
	put(accs["Newer"].Pub, signAt(t, h, accs["Newer"], accs["Newer"].Claims.IssuedAt+1, func(ac *jwt.AccountClaims) { ac.Limits.Conn = 3 }))
	put(accs["Future"].Pub, signAt(t, h, accs["Future"], time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC).Unix(), nil))
	// An account of the operator that only the store has.
	kp, _ := nkeys.CreateAccount()
	pub, _ := kp.PublicKey()
	stranger := &authority.AccountInfo{Name: "X", Pub: pub, JWT: func() string {
		ac := jwt.NewAccountClaims(pub)
		ac.Name = "X"
		skSeed, _ := os.ReadFile(seedPath(h, h.Operator().SigningKeys[0]))
		skKP, _ := nkeys.FromSeed([]byte(strings.TrimSpace(string(skSeed))))
		tok, err := ac.Encode(skKP)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}()}
	put(stranger.Pub, stranger.JWT)

	fs, err := CheckStore(ctx, h, st, Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	want(t, fs, High, CheckStoreMissing, "account Missing", "natsauth store replace Missing")
	want(t, fs, High, CheckStoreOlder, "account Older", "natsauth store replace Older")
	want(t, fs, Medium, CheckStoreNewer, "account Newer", "natsauth pull -a Newer")
	want(t, fs, High, CheckStoreFuture, "account Future", "natsauth store replace Future")
	want(t, fs, Info, CheckStoreOnly, "account "+pub)
	for _, ok := range []string{"account Same", "account SYS"} {
		for _, f := range fs {
			if f.Object == ok {
				t.Errorf("equal copies reported: %+v", f)
			}
		}
	}
	if len(fs) != 5 {
		t.Errorf("%d findings, want 5: %+v", len(fs), fs)
	}

	// Replacing the poisoned record clears its finding.
	if _, err := store.Replace(ctx, st, accs["Future"].Pub, accs["Future"].JWT); err != nil {
		t.Fatal(err)
	}
	fs, err = CheckStore(ctx, h, st, Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if got := find(fs, CheckStoreFuture, "account Future"); len(got) != 0 {
		t.Errorf("after the replace: %+v", got)
	}
}

// Temporary files of killed writers anywhere in the home are reported by
// CheckHome, a seed's as medium; CheckLeftovers also takes a dir store.
func TestLeftoversReported(t *testing.T) {
	h := initHome(t)
	if _, err := h.AddAccount("A", authority.AccountEdit{}); err != nil {
		t.Fatal(err)
	}
	a, _ := h.Account("A")
	jwtLeft := filepath.Join(h.StoresDir(), "O", "accounts", "A", ".A.jwt.tmp-123")
	seedLeft := filepath.Join(filepath.Dir(seedPath(h, a.Pub)), "."+a.Pub+".nk.tmp-456")
	for _, p := range []string{jwtLeft, seedLeft} {
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	fs, err := CheckHome(h, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want(t, fs, Low, CheckLeftover, "file "+jwtLeft, "rm ")
	want(t, fs, Medium, CheckLeftover, "file "+seedLeft, "rm ")

	dirStore := t.TempDir()
	storeLeft := filepath.Join(dirStore, ".natsauth-9.tmp")
	if err := os.WriteFile(storeLeft, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	fs, err = CheckLeftovers(Options{}, dirStore)
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 1 || fs[0].Object != "file "+storeLeft {
		t.Errorf("CheckLeftovers(dir store) = %+v", fs)
	}
}
