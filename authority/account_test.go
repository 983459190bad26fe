package authority

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nkeys"

	"github.com/natsauth/natsauth/internal/testkit"
)

func TestAddAccountDefaultsAndLimits(t *testing.T) {
	h := newHome(t)
	a := mustAccount(t, h, "MyAccount", AccountEdit{
		Conns: Int64(1000), Data: Int64(10_000_000_000), Exports: Int64(10), Imports: Int64(10),
		Payload: Int64(1_000_000), Subs: Int64(1000),
	})
	l := a.Claims.Limits
	if l.Conn != 1000 || l.Data != 10_000_000_000 || l.Exports != 10 || l.Imports != 10 ||
		l.Payload != 1_000_000 || l.Subs != 1000 {
		t.Errorf("limits = %+v", l)
	}
	if l.LeafNodeConn != -1 || !l.WildcardExports {
		t.Errorf("unset limits are not nsc's defaults: leaf %d wildcards %v", l.LeafNodeConn, l.WildcardExports)
	}
	if l.IsJSEnabled() {
		t.Errorf("JetStream enabled without JetStream limits")
	}
	if a.Claims.Issuer != h.Operator().SigningKeys[0] {
		t.Errorf("account issuer %s, want the operator signing key", a.Claims.Issuer)
	}
	if _, err := h.Policy().CheckAccount(a.Pub, a.JWT); err != nil {
		t.Errorf("account fails the trust policy: %v", err)
	}
	if kp, err := h.AccountSigner(a.Pub); err != nil || pubKey(kp) != a.Pub {
		t.Errorf("AccountSigner = %v", err)
	}
	reread, err := h.Account("MyAccount")
	if err != nil || reread.JWT != a.JWT {
		t.Errorf("Account re-read differs: %v", err)
	}
}

func TestEditAccountKeepsOtherLimits(t *testing.T) {
	h := newHome(t)
	mustAccount(t, h, "A", AccountEdit{Conns: Int64(5), Payload: Int64(1000), Subs: Int64(7)})
	steps := []AccountEdit{
		{Data: Int64(2000)},
		{JSMemStorage: Int64(1 << 20)},
		{JSDiskStorage: Int64(1 << 30), JSStreams: Int64(3)},
		{Conns: Int64(6)},
		{JSConsumer: Int64(9)},
	}
	for _, e := range steps {
		if _, err := h.EditAccount("A", e); err != nil {
			t.Fatalf("EditAccount(%+v): %v", e, err)
		}
	}
	a, err := h.Account("A")
	if err != nil {
		t.Fatal(err)
	}
	l := a.Claims.Limits
	if l.Conn != 6 || l.Payload != 1000 || l.Subs != 7 || l.Data != 2000 || l.Imports != -1 {
		t.Errorf("account limits after edits = %+v", l.AccountLimits)
	}
	js := l.JetStreamLimits
	if js.MemoryStorage != 1<<20 || js.DiskStorage != 1<<30 || js.Streams != 3 || js.Consumer != 9 {
		t.Errorf("JetStream limits after edits = %+v", js)
	}
	if !l.IsJSEnabled() {
		t.Errorf("JetStream not enabled")
	}
}

func TestFirstJetStreamLimitDefaultsOthersToUnlimited(t *testing.T) {
	h := newHome(t)
	a := mustAccount(t, h, "A", AccountEdit{JSDiskStorage: Int64(1 << 30)})
	js := a.Claims.Limits.JetStreamLimits
	if js.DiskStorage != 1<<30 || js.MemoryStorage != 0 || js.Streams != -1 || js.Consumer != -1 || js.MaxAckPending != -1 {
		t.Errorf("JetStream limits = %+v, want disk set, memory 0, the rest unlimited as nsc does", js)
	}
}

func TestAccountValidation(t *testing.T) {
	h := newHome(t)
	mustAccount(t, h, "Taken", AccountEdit{})
	tests := []struct {
		name   string
		run    func() error
		kind   error
		phrase []string
	}{
		{"duplicate", func() error { _, err := h.AddAccount("Taken", AccountEdit{}); return err },
			ErrExists, []string{`account "Taken" already exists`}},
		{"duplicate by case", func() error { _, err := h.AddAccount("taken", AccountEdit{}); return err },
			ErrExists, []string{"differs only in case"}},
		{"bad name and limit together", func() error {
			_, err := h.AddAccount("a/b", AccountEdit{Conns: Int64(-5), Payload: Int64(-2)})
			return err
		}, ErrInvalid, []string{"cannot contain '/'", "max-connections -5", "max-payload -2", "3 problems"}},
		{"edit unknown", func() error { _, err := h.EditAccount("Nope", AccountEdit{Conns: Int64(1)}); return err },
			ErrNotFound, []string{`account "Nope" not found`}},
		{"edit nothing", func() error { _, err := h.EditAccount("Taken", AccountEdit{}); return err },
			ErrInvalid, []string{"nothing to change"}},
		{"jetstream on SYS", func() error {
			_, err := h.EditAccount("SYS", AccountEdit{JSMemStorage: Int64(-1)})
			return err
		}, ErrInvalid, []string{"system account cannot have JetStream"}},
		{"delete SYS", func() error { _, err := h.DeleteAccount("SYS"); return err },
			ErrInvalid, []string{"cannot be deleted"}},
		{"delete unknown", func() error { _, err := h.DeleteAccount("Nope"); return err },
			ErrNotFound, []string{"not found"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := testkit.TreeHash(t, h.Dir())
			err := tt.run()
			if !errors.Is(err, tt.kind) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want %v and ErrInvalid", err, tt.kind)
			}
			for _, p := range tt.phrase {
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

func TestEditAccountIatNeverGoesBack(t *testing.T) {
	h := newHome(t)
	a := mustAccount(t, h, "A", AccountEdit{})
	signer, err := h.OperatorSigner()
	if err != nil {
		t.Fatal(err)
	}
	// Pretend the stored JWT was signed by a clock a minute ahead (within
	// trust.DefaultClockSkew; beyond it, the JWT is refused as from the future).
	future := time.Now().Add(time.Minute).Unix()
	ahead := testkit.WithIssuedAt(t, a.JWT, signer, future)
	var tx txn
	tx.put(h.accountJWTPath("A"), []byte(ahead))
	if err := tx.commit(); err != nil {
		t.Fatal(err)
	}
	e, err := h.EditAccount("A", AccountEdit{Conns: Int64(3)})
	if err != nil {
		t.Fatal(err)
	}
	if e.Claims.IssuedAt != future {
		t.Errorf("iat after edit = %d, want %d (never earlier than the stored JWT)", e.Claims.IssuedAt, future)
	}
	if _, err := h.Policy().CheckAccount(e.Pub, e.JWT); err != nil {
		t.Errorf("re-signed JWT fails validation: %v", err)
	}
	if e.Claims.Limits.Conn != 3 {
		t.Errorf("edit lost: conn %d", e.Claims.Limits.Conn)
	}
	// Normal edits: iat is monotonic too.
	prev := e.Claims.IssuedAt
	for i := 0; i < 3; i++ {
		e, err = h.EditAccount("A", AccountEdit{Subs: Int64(int64(i))})
		if err != nil {
			t.Fatal(err)
		}
		if e.Claims.IssuedAt < prev {
			t.Fatalf("iat went back: %d < %d", e.Claims.IssuedAt, prev)
		}
		prev = e.Claims.IssuedAt
	}
}

func TestDeleteAccountRemovesEverything(t *testing.T) {
	h := newHome(t)
	clean := testkit.TreeHash(t, h.Dir())
	a := mustAccount(t, h, "Gone", AccountEdit{})
	mustUser(t, h, "Gone", "u1", UserEdit{})
	mustUser(t, h, "Gone", "u2", UserEdit{})
	got, err := h.DeleteAccount("Gone")
	if err != nil {
		t.Fatal(err)
	}
	if got.Pub != a.Pub {
		t.Errorf("DeleteAccount returned %s, want %s", got.Pub, a.Pub)
	}
	if _, err := h.Account("Gone"); !errors.Is(err, ErrNotFound) {
		t.Errorf("account still there: %v", err)
	}
	if after := testkit.TreeHash(t, h.Dir()); after != clean {
		t.Errorf("home after add+delete differs from before:\n%s\n---\n%s", clean, after)
	}
}

func TestEditAccountLimitsAndSigningKeysIsOneJWT(t *testing.T) {
	h := newHome(t)
	acc, err := h.AddAccount("A", AccountEdit{})
	if err != nil {
		t.Fatal(err)
	}
	ext, _ := nkeys.CreateAccount()
	extPub, _ := ext.PublicKey()
	got, err := h.EditAccount("A", AccountEdit{Conns: Int64(5), AddSigningKeys: []string{"", extPub}})
	if err != nil {
		t.Fatal(err)
	}
	if got.Claims.Limits.Conn != 5 {
		t.Errorf("conns = %d, want 5", got.Claims.Limits.Conn)
	}
	if n := len(got.Claims.SigningKeys); n != 2 {
		t.Fatalf("signing keys = %d, want 2", n)
	}
	var generated string
	for _, k := range got.Claims.SigningKeys.Keys() {
		if k != extPub {
			generated = k
		}
	}
	if _, err := h.AccountSigner(generated); err != nil {
		t.Errorf("generated key's seed is not in the keystore: %v", err)
	}
	if got.Claims.ID == acc.Claims.ID && got.JWT == acc.JWT {
		t.Fatal("account JWT did not change")
	}
	// Removing by key together with a limit is one JWT too.
	got2, err := h.EditAccount("A", AccountEdit{Subs: Int64(7), RemoveSigningKeys: []string{extPub}})
	if err != nil {
		t.Fatal(err)
	}
	if got2.Claims.Limits.Subs != 7 || got2.Claims.SigningKeys.Contains(extPub) || !got2.Claims.SigningKeys.Contains(generated) {
		t.Errorf("after removal: subs %d, keys %v", got2.Claims.Limits.Subs, got2.Claims.SigningKeys.Keys())
	}
}

func TestEditAccountSigningKeyProblemsChangeNothing(t *testing.T) {
	h := newHome(t)
	if _, err := h.AddAccount("A", AccountEdit{}); err != nil {
		t.Fatal(err)
	}
	before, _ := h.Account("A")
	_, err := h.EditAccount("A", AccountEdit{Conns: Int64(3), AddSigningKeys: []string{"SAbad"}, RemoveSigningKeys: []string{"nosuchrole"}})
	if err == nil {
		t.Fatal("bad signing-key edit accepted")
	}
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 2 {
		t.Fatalf("want 2 problems, got %v", err)
	}
	after, _ := h.Account("A")
	if after.JWT != before.JWT {
		t.Error("account changed although the edit was refused")
	}
}
