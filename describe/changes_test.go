package describe_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/describe"
)

func TestUserIssued(t *testing.T) {
	h := home(t)
	u, err := h.User("A", "alice")
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	describe.UserIssued(&b, h, u, false, false)
	wantAll(t, "added", b.String(), "added user alice "+u.Pub+" to account A\n", "  creds  "+h.CredsPath("A", "alice")+"\n")
	b.Reset()
	describe.UserIssued(&b, h, u, true, false)
	wantAll(t, "edited", b.String(), "edited user alice "+u.Pub+" in account A\n")
	b.Reset()
	describe.UserIssued(&b, h, u, false, true)
	wantAll(t, "from a public key", b.String(), "creds  none", "natsauth describe user -a A -n alice --raw > alice.jwt")
	if strings.Contains(b.String(), h.CredsPath("A", "alice")) {
		t.Errorf("a user issued from its public key has no creds path:\n%s", b.String())
	}
}

func TestAccountChanged(t *testing.T) {
	h := home(t)
	before, _ := h.Account("B")
	ten := int64(10)
	after, err := h.EditAccount("B", authority.AccountEdit{JSStreams: &ten, AddSigningKeys: []string{""}})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	describe.AccountChanged(&b, before, after, authority.AccountEdit{JSStreams: &ten}, []string{"js-streams 10"}, true, false)
	wantAll(t, "edited", b.String(), "edited account B "+after.Pub+"\n", "  js-streams 10\n", "  added signing key ",
		"note: JetStream stays disabled")
	b.Reset()
	describe.AccountChanged(&b, nil, before, authority.AccountEdit{}, nil, false, true)
	wantAll(t, "added external", b.String(), "added account B", "its seed is not here: add a signing key (natsauth edit account B --sk generate)")
	if strings.Contains(b.String(), "JetStream") {
		t.Errorf("no JetStream note without JetStream limits:\n%s", b.String())
	}
}

func TestOperatorEdited(t *testing.T) {
	h := home(t)
	var b bytes.Buffer
	yes := true
	acc, _ := h.Account("A")
	describe.OperatorEdited(&b, h, []string{"OADD"}, []string{"ORM"}, &yes, []authority.AccountInfo{*acc})
	wantAll(t, "operator edit", b.String(), "added operator signing key OADD\n", "removed operator signing key ORM\n",
		"operator Op requires signing keys: yes\n", "  re-signed account A with the operator signing key\n", "Restart every natsauth serve")
	b.Reset()
	describe.OperatorEdited(&b, h, nil, nil, nil, nil)
	if b.Len() != 0 {
		t.Errorf("nothing changed, yet: %q", b.String())
	}
}

func TestAddedImportsAndConsumerShare(t *testing.T) {
	h := home(t)
	if _, err := h.AddExport("A", authority.ExportSpec{Subject: "ev.>"}); err != nil {
		t.Fatal(err)
	}
	before, _ := h.Account("B")
	after, err := h.AddImport("B", authority.ImportSpec{Account: "A", Subject: "ev.>", LocalSubject: "a.ev.>"})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	describe.AddedImports(&b, h, before, after)
	wantAll(t, "added import", b.String(), "added import to account B: ", "a.ev.>", " A")
	if got := strings.Count(b.String(), "\n"); got != 1 {
		t.Errorf("got %d lines, want 1:\n%s", got, b.String())
	}
	b.Reset()
	a, _ := h.Account("A")
	describe.ConsumerShare(&b, "granted", authority.ConsumerGrant{Stream: "ORDERS", Consumer: "c1"},
		&authority.ConsumerShare{Exporter: a, Importer: after, APIPrefix: "JS.A.API", Subjects: []string{"x"}})
	wantAll(t, "consumer share", b.String(), "granted account B the consumer ORDERS/c1 of account A\n", "JetStream API prefix for B's clients: JS.A.API\n", "  subjects: [x]\n")
}

func TestHomeCreated(t *testing.T) {
	h := home(t)
	creds, err := h.SystemUserCreds()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	describe.HomeCreated(&b, h)
	wantAll(t, "home created", b.String(), "created operator Op in "+h.Dir()+"\n", "  operator key          "+h.Operator().Subject+"\n",
		"  operator signing key  "+h.Operator().SigningKeys[0]+"\n", "  system account        SYS "+h.SystemAccount()+"\n",
		"  system user creds     "+creds+"\n")
}

func TestAccountInHomeShowsTheAuthCalloutAndUserInHome(t *testing.T) {
	h := home(t)
	var b bytes.Buffer
	b2, _ := h.Account("B")
	if err := describe.AccountInHome(&b, h, b2); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "Auth callout") {
		t.Errorf("an account without a callout shows one:\n%s", b.String())
	}
	if _, err := h.AddUser("B", "svc", authority.UserEdit{}); err != nil {
		t.Fatal(err)
	}
	cb, err := h.EditAuthCallout("B", authority.AuthCalloutEdit{AuthUsers: []string{"svc"}, AllowedAccounts: []string{"A"}})
	if err != nil {
		t.Fatal(err)
	}
	b.Reset()
	if err := describe.AccountInHome(&b, h, cb); err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	if err := describe.AuthCallout(&want, h, cb); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(b.String(), want.String()) {
		t.Errorf("callout account lacks its auth callout:\n%s\nwant it to end with:\n%s", b.String(), want.String())
	}

	u, _ := h.User("A", "alice")
	b.Reset()
	if err := describe.UserInHome(&b, h, u); err != nil {
		t.Fatal(err)
	}
	wantAll(t, "user in home", b.String(), u.Pub, h.CredsPath("A", "alice"))
}

func TestActivation(t *testing.T) {
	h := home(t)
	if _, err := h.AddExport("A", authority.ExportSpec{Subject: "priv.>", Private: true}); err != nil {
		t.Fatal(err)
	}
	act, err := h.GenerateActivation("A", authority.ActivationSpec{Target: "B", Subject: "priv.x"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := describe.Activation("A", "B", act), "activation token of account A for B: stream priv.x, expires never"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
