package describe_test

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/describe"
)

func home(t *testing.T) *authority.Home {
	t.Helper()
	h, err := authority.Init(filepath.Join(t.TempDir(), "home"), "Op")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.AddAccount("A", authority.AccountEdit{Conns: authority.Int64(5), Payload: authority.Int64(1 << 20)}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.AddAccount("B", authority.AccountEdit{}); err != nil {
		t.Fatal(err)
	}
	one := 1
	if _, err := h.AddUser("A", "alice", authority.UserEdit{
		AllowPub: []string{"orders.>"}, DenyPub: []string{"orders.secret"}, RespMax: &one}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.AddExport("A", authority.ExportSpec{Subject: "svc.>", Service: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.AddImport("B", authority.ImportSpec{Account: "A", Subject: "svc.>", Service: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.RevokeUser("A", "alice", time.Now()); err != nil {
		t.Fatal(err)
	}
	return h
}

func wantAll(t *testing.T, what, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, got)
		}
	}
}

func TestAccountUserAndOperator(t *testing.T) {
	h := home(t)
	var b bytes.Buffer
	if err := describe.Operator(&b, h); err != nil {
		t.Fatal(err)
	}
	wantAll(t, "operator", b.String(), "Operator", "Op", "System account", "SYS ")

	acc, _ := h.Account("A")
	users, _ := h.Users("A")
	b.Reset()
	if err := describe.Account(&b, acc, users); err != nil {
		t.Fatal(err)
	}
	wantAll(t, "account", b.String(), "Account", acc.Pub, "Max connections", "5", "Max payload", "1 MiB", "Users (1)", "alice",
		"Revocations (1)", "JetStream")

	u, _ := h.User("A", "alice")
	b.Reset()
	if err := describe.User(&b, acc, u, "/x/alice.creds"); err != nil {
		t.Fatal(err)
	}
	wantAll(t, "user", b.String(), "User", "alice", "Publish allow", "orders.>", "Publish deny", "orders.secret",
		"Revoked", "yes", "/x/alice.creds", "Subscribe allow", "all")
}

func TestSharingInTheHome(t *testing.T) {
	h := home(t)
	var b bytes.Buffer
	a, _ := h.Account("A")
	if err := describe.AccountInHome(&b, h, a); err != nil {
		t.Fatal(err)
	}
	wantAll(t, "exporter", b.String(), "svc.>", "B")
	b.Reset()
	bacc, _ := h.Account("B")
	if err := describe.AccountInHome(&b, h, bacc); err != nil {
		t.Fatal(err)
	}
	wantAll(t, "importer", b.String(), "svc.>", "A")
}

func TestResp(t *testing.T) {
	for _, tc := range []struct {
		max  int
		ttl  time.Duration
		want string
	}{
		{0, 0, "max 1 (server default) per request, within 2m (server default)"},
		{-1, 5 * time.Second, "max unlimited per request, within 5s"},
		{3, time.Minute, "max 3 per request, within 1m0s"},
	} {
		if got := describe.Resp(tc.max, tc.ttl); got != tc.want {
			t.Errorf("Resp(%d, %s) = %q, want %q", tc.max, tc.ttl, got, tc.want)
		}
	}
}
