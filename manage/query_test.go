package manage_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/natsauth/natsauth/audit"
	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/manage"
)

// QueryAccounts pages and searches; a change through the Manager is in
// the next page at once, one made outside it (nsc writing into the home)
// after the index's age.
func TestQueryAccounts(t *testing.T) {
	cfg := newHome(t)
	cfg.ApplyTimeout = -1
	m := open(t, cfg)
	ctx := context.Background()
	for i := 0; i < 12; i++ {
		if _, _, err := m.AddAccount(ctx, fmt.Sprintf("acc-%02d", i), authority.AccountEdit{Conns: authority.Int64(int64(i))}); err != nil {
			t.Fatal(err)
		}
	}
	page, err := m.QueryAccounts(ctx, manage.AccountQuery{Offset: 10, Limit: 5})
	if err != nil {
		t.Fatal(err)
	}
	if page.Total != 13 || len(page.Accounts) != 3 || page.Accounts[0].Name != "acc-09" || page.Accounts[2].Name != "acc-11" {
		t.Fatalf("page = %+v", page)
	}
	page, _ = m.QueryAccounts(ctx, manage.AccountQuery{Search: "ACC-0"})
	if page.Total != 10 {
		t.Errorf("search acc-0: %d", page.Total)
	}
	// Through the Manager: seen at once.
	if _, _, err := m.EditAccount(ctx, "acc-03", authority.AccountEdit{Conns: authority.Int64(99)}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.DeleteAccount(ctx, "acc-04"); err != nil {
		t.Fatal(err)
	}
	page, _ = m.QueryAccounts(ctx, manage.AccountQuery{Search: "acc-0"})
	if page.Total != 9 || page.Accounts[3].Name != "acc-03" || page.Accounts[3].Conns != 99 {
		t.Fatalf("after changes: %+v", page)
	}
	// Outside the Manager (as nsc would write it): seen after a rescan.
	old := manage.IndexMaxAge
	manage.IndexMaxAge = 10 * time.Millisecond
	t.Cleanup(func() { manage.IndexMaxAge = old })
	signer, err := m.Home().OperatorSigner()
	if err != nil {
		t.Fatal(err)
	}
	kp, _ := nkeys.CreateAccount()
	pub, _ := kp.PublicKey()
	ac := jwt.NewAccountClaims(pub)
	ac.Name = "from-nsc"
	ac.Tags = jwt.TagList{"team:blue"}
	tok, _ := ac.Encode(signer)
	dir := filepath.Join(m.Home().StoresDir(), m.Home().OperatorName(), "accounts", "from-nsc")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "from-nsc.jwt"), []byte(tok), 0o600); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		page, _ = m.QueryAccounts(ctx, manage.AccountQuery{Search: "team:blue"})
		if page.Total == 1 && page.Accounts[0].Pub == pub {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("an account written outside the core never showed: %+v", page)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestQueryUsersFlagsExpiry(t *testing.T) {
	cfg := newHome(t)
	m := open(t, cfg)
	ctx := context.Background()
	m.AddAccount(ctx, "A", authority.AccountEdit{})
	soon, later := time.Now().Add(48*time.Hour), time.Now().Add(60*24*time.Hour)
	for name, exp := range map[string]*time.Time{"soon": &soon, "later": &later, "never": nil} {
		if _, err := m.AddUser(ctx, "A", name, authority.UserEdit{Expires: exp}, authority.UserIssue{}); err != nil {
			t.Fatal(err)
		}
	}
	m.RevokeUser(ctx, "A", "later", time.Time{})
	page, err := m.QueryUsers(ctx, "A", manage.UserQuery{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]manage.UserSummary{}
	for _, u := range page.Users {
		got[u.Name] = u
	}
	if !got["soon"].ExpiresSoon || got["later"].ExpiresSoon || got["never"].ExpiresSoon || !got["never"].Expires.IsZero() {
		t.Errorf("expiry flags: %+v", got)
	}
	if !got["later"].Revoked || got["soon"].Revoked || !got["soon"].HasCreds {
		t.Errorf("revoked/creds flags: %+v", got)
	}
	if page, _ := m.QueryUsers(ctx, "A", manage.UserQuery{Search: "NEV"}); page.Total != 1 {
		t.Errorf("search: %+v", page)
	}
}

// TakeCreds hands a user's creds out once per user JWT, audited with the
// actor; a re-issued user's creds can be taken once again.
func TestTakeCredsOnce(t *testing.T) {
	cfg := newHome(t)
	m := open(t, cfg)
	ctx := audit.WithActor(context.Background(), audit.Actor{Via: audit.ViaConsole, Principal: "ann (operator-admin)"})
	m.AddAccount(ctx, "A", authority.AccountEdit{})
	m.AddUser(ctx, "A", "u", authority.UserEdit{}, authority.UserIssue{})
	creds, err := m.TakeCreds(ctx, "A", "u")
	if err != nil || !strings.Contains(string(creds), "USER NKEY SEED") {
		t.Fatalf("first take: %v", err)
	}
	if _, err := m.TakeCreds(ctx, "A", "u"); !errors.Is(err, manage.ErrCredsTaken) || !strings.Contains(err.Error(), "ann") {
		t.Fatalf("second take: %v", err)
	}
	if _, _, err := m.EditUser(ctx, "A", "u", authority.UserEdit{AllowPub: []string{"x"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.TakeCreds(ctx, "A", "u"); err != nil {
		t.Fatalf("take after re-issue: %v", err)
	}
	entries, _ := m.Audit(ctx, audit.Query{Account: "A"})
	n := 0
	for _, e := range entries {
		if e.Action == manage.ActionTakeCreds {
			n++
			if e.Principal != "ann (operator-admin)" || e.Via != audit.ViaConsole || e.UserName != "u" {
				t.Errorf("entry %+v", e)
			}
		}
	}
	if n != 2 {
		t.Errorf("%d take entries, want 2", n)
	}
	// A user issued for a public key has no creds in the home.
	ukp, _ := nkeys.CreateUser()
	upub, _ := ukp.PublicKey()
	m.AddUser(ctx, "A", "ext", authority.UserEdit{}, authority.UserIssue{PublicKey: upub})
	if _, err := m.TakeCreds(ctx, "A", "ext"); !errors.Is(err, manage.ErrNoCreds) {
		t.Errorf("take creds of a key-only user: %v", err)
	}
}

// Live reads the node over the system account; Kick closes one of the
// account's connections, refuses another account's and is audited.
func TestLiveAndKick(t *testing.T) {
	cfg := newHome(t)
	m := open(t, cfg)
	ctx := context.Background()
	m.AddAccount(ctx, "A", authority.AccountEdit{})
	m.AddAccount(ctx, "B", authority.AccountEdit{})
	m.AddUser(ctx, "A", "u", authority.UserEdit{}, authority.UserIssue{})
	n := serve(t, cfg.Home, "")
	sys, err := m.Connect(manage.Remote{}, n.ClientURL(), "test")
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Close()
	nc, err := nats.Connect(n.ClientURL(), nats.UserCredentials(m.Home().CredsPath("A", "u")), nats.NoReconnect(), nats.Name("app"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	closed := make(chan struct{})
	nc.SetClosedHandler(func(*nats.Conn) { close(closed) })
	l := &manage.Live{NC: sys}
	a, _ := m.Home().Account("A")
	b, _ := m.Home().Account("B")
	conns, err := l.Connections(ctx, a.Pub)
	if err != nil || len(conns) != 1 || conns[0].Name != "app" {
		t.Fatalf("connections: %v %+v", err, conns)
	}
	nodes, err := l.Nodes(ctx)
	if err != nil || len(nodes) != 1 || nodes[0].Connections < 1 {
		t.Fatalf("nodes: %v %+v", err, nodes)
	}
	stats, err := l.AccountStats(ctx, a.Pub)
	if err != nil || stats[a.Pub].Conns != 1 {
		t.Fatalf("stats: %v %+v", err, stats)
	}
	if err := m.Kick(ctx, l, b.Pub, conns[0].ServerID, conns[0].CID); !errors.Is(err, manage.ErrNoConnection) {
		t.Fatalf("kick with another account: %v", err)
	}
	if err := m.Kick(ctx, l, a.Pub, conns[0].ServerID, conns[0].CID); err != nil {
		t.Fatal(err)
	}
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("kicked connection still open")
	}
	entries, _ := m.Audit(ctx, audit.Query{Account: "A"})
	if last := entries[len(entries)-1]; last.Action != manage.ActionKick || last.User == "" {
		t.Errorf("last entry %+v", last)
	}
}

func TestRecordAccessChange(t *testing.T) {
	cfg := newHome(t)
	m := open(t, cfg)
	ctx := audit.WithActor(context.Background(), audit.Actor{Via: audit.ViaConsole, Principal: "root (operator-admin)"})
	if err := m.RecordAccessChange(ctx, manage.ActionAddConsoleUser, "bob (operator-observer)"); err != nil {
		t.Fatal(err)
	}
	entries, _ := m.Audit(ctx, audit.Query{})
	last := entries[len(entries)-1]
	if last.Action != manage.ActionAddConsoleUser || last.Principal != "root (operator-admin)" || !strings.Contains(last.String(), "as root") {
		t.Errorf("entry %+v / %s", last, last)
	}
}
