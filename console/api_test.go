package console_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/natsauth/natsauth/audit"
	"github.com/natsauth/natsauth/console"
	"github.com/natsauth/natsauth/manage"
	"github.com/natsauth/natsauth/serving"
)

// The whole path of the issue over the API, with a real node and real
// nats.go clients: create an account and a user, take the creds once,
// connect with them, change a limit and see it enforced, revoke the user
// and see its connection closed and the audit entry name the console user.
func TestAPIChangesGoThroughTheCoreAndAreEnforced(t *testing.T) {
	e := newEnv(t)
	c := e.login("admin")

	var res console.ChangeResult
	if st := c.do("POST", "/api/accounts", map[string]any{"name": "Shop", "max_payload": "1MB", "max_connections": 10}, &res); st != 201 {
		t.Fatalf("create account: %d", st)
	}
	if len(res.Applied) == 0 {
		t.Errorf("create account: no running server acknowledged it: %+v", res)
	}
	if st := c.do("POST", "/api/accounts/Shop/users", map[string]any{"name": "carol",
		"allow_pub": []string{"orders.>"}, "allow_sub": []string{"orders.>", "_INBOX.>"}, "allow_pub_response": 1, "expiry": "30d"}, &res); st != 201 {
		t.Fatalf("create user: %d", st)
	}
	if res.CredsURL == "" || res.User == nil || res.User.Expires.IsZero() {
		t.Fatalf("create user answered %+v", res)
	}
	st, creds := c.raw("POST", res.CredsURL, nil, nil)
	if st != 200 || !strings.Contains(string(creds), "BEGIN NATS USER JWT") {
		t.Fatalf("creds: %d", st)
	}
	if st, _ := c.raw("POST", res.CredsURL, nil, nil); st != http.StatusGone {
		t.Errorf("second creds download: %d, want 410", st)
	}

	nc, err := nats.Connect(e.node.ClientURL(), nats.UserCredentials(writeCreds(t, creds)), nats.NoReconnect())
	if err != nil {
		t.Fatalf("connect with the downloaded creds: %v", err)
	}
	defer nc.Close()
	closed := make(chan struct{})
	nc.SetClosedHandler(func(*nats.Conn) { close(closed) })
	if err := nc.Publish("orders.new", make([]byte, 2000)); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}

	// Change a limit: the server enforces it at once — a publish over it
	// is a protocol violation that closes the connection.
	if st := c.do("PATCH", "/api/accounts/Shop", map[string]any{"max_payload": 1000}, &res); st != 200 {
		t.Fatalf("edit account: %d", st)
	}
	if err := nc.Publish("orders.new", make([]byte, 2000)); err != nil {
		t.Fatal(err)
	}
	_ = nc.Flush()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("a publish over the new max payload was not refused")
	}
	if err := nc.LastError(); err == nil || !strings.Contains(strings.ToLower(err.Error()), "maximum payload") {
		t.Errorf("the server closed the connection for %v, want a maximum payload violation", err)
	}

	nc, err = nats.Connect(e.node.ClientURL(), nats.UserCredentials(writeCreds(t, creds)), nats.NoReconnect())
	if err != nil {
		t.Fatalf("reconnect: %v", err)
	}
	defer nc.Close()
	closed = make(chan struct{})
	nc.SetClosedHandler(func(*nats.Conn) { close(closed) })

	// The connection is listed live, then revoked: closed by the server.
	var cv console.ConnectionsView
	waitFor(t, 5*time.Second, "carol's connection listed", func() bool {
		cv = console.ConnectionsView{}
		c.do("GET", "/api/accounts/Shop/connections", nil, &cv)
		return len(cv.Connections) == 1 && cv.Connections[0].UserName == "carol"
	})
	if st := c.do("POST", "/api/accounts/Shop/users/carol/revoke", nil, &res); st != 200 {
		t.Fatalf("revoke: %d", st)
	}
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("the revoked user's connection is still open")
	}

	var av console.AuditView
	c.do("GET", "/api/audit?account=Shop", nil, &av)
	var revoke *audit.Entry
	for i := range av.Entries {
		if av.Entries[i].Action == audit.ActionRevokeUser {
			revoke = &av.Entries[i]
		}
	}
	if revoke == nil || revoke.Via != audit.ViaConsole || revoke.Principal != "admin (operator-admin)" || revoke.UserName != "carol" {
		t.Fatalf("audit entry of the revocation: %+v", revoke)
	}
	var edit *audit.Entry
	for i := range av.Entries {
		if av.Entries[i].Action == audit.ActionEditAccount {
			edit = &av.Entries[i]
		}
	}
	if edit == nil || len(edit.Changes) == 0 {
		t.Fatalf("edit entry without before/after: %+v", edit)
	}
	var took *audit.Entry
	for i := range av.Entries {
		if av.Entries[i].Action == manage.ActionTakeCreds {
			took = &av.Entries[i]
		}
	}
	if took == nil || took.Principal == "" {
		t.Errorf("creds download not audited: %+v", took)
	}
}

// Bad input gets a problem document naming the field; nothing is written.
func TestBadInputIsAProblemNamingTheField(t *testing.T) {
	e := newEnv(t)
	c := e.login("admin")
	var p console.Problem
	st := c.do("POST", "/api/accounts", map[string]any{"name": "Bad", "max_payload": "lots", "max_connections": -5}, &p)
	if st != 400 || len(p.Errors) != 2 || p.Errors[0].Field != "max_connections" || p.Errors[1].Field != "max_payload" {
		t.Fatalf("bad limits (every one reported): %d %+v", st, p)
	}
	// The authority's own validation names the field too.
	p = console.Problem{}
	st = c.do("POST", "/api/accounts/Team/users", map[string]any{"name": "u1", "allow_pub": []string{"orders..x"}, "source_networks": []string{"nowhere"}}, &p)
	if st != 400 || len(p.Errors) != 2 {
		t.Fatalf("bad user: %d %+v", st, p)
	}
	fields := map[string]bool{}
	for _, fe := range p.Errors {
		fields[fe.Field] = true
	}
	if !fields["allow_pub"] || !fields["source_networks"] {
		t.Errorf("bad user: fields %v, want allow_pub and source_networks (%+v)", fields, p.Errors)
	}
	if _, err := e.m.Home().User("Team", "u1"); err == nil {
		t.Fatal("a refused user was written")
	}
	if _, err := e.m.Home().Account("Bad"); err == nil {
		t.Fatal("a refused account was written")
	}
	p = console.Problem{}
	if st := c.do("POST", "/api/accounts", map[string]any{"name": "X", "colour": "red"}, &p); st != 400 || p.Errors[0].Field != "colour" {
		t.Errorf("unknown field: %d %+v", st, p)
	}
	if st := c.do("POST", "/api/accounts", map[string]any{"name": "Team"}, &p); st != http.StatusConflict {
		t.Errorf("existing account: %d", st)
	}
	if st := c.do("GET", "/api/accounts/Nope", nil, &p); st != 404 {
		t.Errorf("missing account: %d", st)
	}
	st, raw := c.raw("POST", "/api/accounts", "x", map[string]string{"Content-Type": "text/plain"})
	if st != http.StatusUnsupportedMediaType || !strings.Contains(string(raw), "application/json") {
		t.Errorf("non-JSON body: %d %s", st, raw)
	}
}

// Observers see and cannot change; account admins change only their
// account.
func TestRolesAreEnforced(t *testing.T) {
	e := newEnv(t)
	w := e.login("watcher")
	var page manage.AccountPage
	if st := w.do("GET", "/api/accounts", nil, &page); st != 200 || page.Total < 2 {
		t.Fatalf("observer list: %d %+v", st, page)
	}
	var p console.Problem
	if st := w.do("PATCH", "/api/accounts/Team", map[string]any{"max_payload": 100}, &p); st != 403 {
		t.Errorf("observer edit: %d, want 403", st)
	}
	if st := w.do("POST", "/api/accounts", map[string]any{"name": "New"}, &p); st != 403 {
		t.Errorf("observer create: %d, want 403", st)
	}
	ta := e.login("teamadmin")
	if st := ta.do("PATCH", "/api/accounts/Team", map[string]any{"max_payload": 100}, nil); st != 200 {
		t.Errorf("account admin edits its account: %d", st)
	}
	if st := ta.do("PATCH", "/api/accounts/SYS", map[string]any{"max_payload": 100}, &p); st != 403 {
		t.Errorf("account admin edits another account: %d", st)
	}
	if st := ta.do("GET", "/api/accounts/SYS", nil, &p); st != 403 {
		t.Errorf("account admin reads another account: %d", st)
	}
	page = manage.AccountPage{}
	ta.do("GET", "/api/accounts", nil, &page)
	if page.Total != 1 || page.Accounts[0].Name != "Team" {
		t.Errorf("account admin's list: %+v", page)
	}
	if st := ta.do("GET", "/api/console-users", nil, &p); st != 403 {
		t.Errorf("account admin lists console users: %d", st)
	}
	if st := ta.do("GET", "/api/audit?account=SYS", nil, &p); st != 403 {
		t.Errorf("account admin reads another account's audit: %d", st)
	}
}

// A change with the session cookie needs the CSRF token from the
// session, from the console's own origin.
func TestCSRFIsRequiredForCookieChanges(t *testing.T) {
	e := newEnv(t)
	c := e.login("admin")
	body := map[string]any{"max_payload": 100}
	for name, hdr := range map[string]map[string]string{
		"no token":     {"X-CSRF-Token": ""},
		"wrong token":  {"X-CSRF-Token": "forged"},
		"cross origin": {"Origin": "https://evil.example"},
		"cross site":   {"Sec-Fetch-Site": "cross-site"},
	} {
		st, raw := c.raw("PATCH", "/api/accounts/Team", body, hdr)
		if st != 403 || !strings.Contains(string(raw), "csrf") {
			t.Errorf("%s: %d %s, want 403 csrf", name, st, raw)
		}
	}
	acc, _ := e.m.Home().Account("Team")
	if acc.Claims.Limits.Payload == 100 {
		t.Fatal("a change without CSRF token was made")
	}
	// Reading needs no token; an API token needs none either.
	if st, _ := c.raw("GET", "/api/accounts/Team", nil, map[string]string{"X-CSRF-Token": ""}); st != 200 {
		t.Errorf("read without token: %d", st)
	}
	var tc console.TokenCreated
	if st := c.do("POST", "/api/tokens", map[string]any{"name": "ci", "ttl": "1h"}, &tc); st != 201 || tc.Secret == "" {
		t.Fatalf("make token: %d", st)
	}
	bot := e.client()
	bot.bearer = tc.Secret
	if st := bot.do("PATCH", "/api/accounts/Team", body, nil); st != 200 {
		t.Errorf("bearer change: %d", st)
	}
	var toks []map[string]any
	c.do("GET", "/api/tokens", nil, &toks)
	raw, _ := json.Marshal(toks)
	if len(toks) != 1 || strings.Contains(string(raw), tc.Secret) || strings.Contains(string(raw), `"hash"`) {
		t.Errorf("token list shows a secret: %s", raw)
	}
}

// Failed sign-ins are rate limited per user name and address.
func TestLoginIsRateLimited(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	for i := 0; i < 5; i++ {
		if st := c.do("POST", "/api/login", map[string]string{"name": "admin", "password": "wrong"}, nil); st != 401 {
			t.Fatalf("attempt %d: %d", i, st)
		}
	}
	st, _ := c.raw("POST", "/api/login", map[string]string{"name": "admin", "password": adminPW}, nil)
	if st != http.StatusTooManyRequests {
		t.Fatalf("after 5 failures: %d, want 429 even with the right password", st)
	}
	if st := c.do("GET", "/api/accounts", nil, nil); st != 401 {
		t.Errorf("unauthenticated read: %d", st)
	}
}

// Every route of the OpenAPI document is a registered handler, and every
// registered handler is in the document.
func TestOpenAPIDescribesTheHandlers(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	var doc struct {
		OpenAPI string                               `json:"openapi"`
		Paths   map[string]map[string]map[string]any `json:"paths"`
	}
	if st := c.do("GET", "/api/openapi.json", nil, &doc); st != 200 || doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi: %d %q", st, doc.OpenAPI)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	registered := map[string]bool{}
	for _, r := range e.srv.Routes() {
		registered[r] = true
		if !documented[r] {
			t.Errorf("handler %s is not in the OpenAPI document", r)
		}
	}
	for r := range documented {
		if !registered[r] {
			t.Errorf("%s is documented but no handler serves it", r)
		}
		// The mux answers it (not the catch-all 404 for unknown endpoints).
		method, path, _ := strings.Cut(r, " ")
		path = strings.NewReplacer("{account}", "Team", "{user}", "u", "{server}", "S", "{cid}", "1",
			"{key}", "K", "{name}", "n", "{id}", "i").Replace(path)
		_, raw := c.raw(method, path, nil, nil)
		if strings.Contains(string(raw), "no such API endpoint") {
			t.Errorf("%s: the server has no handler for %s %s", r, method, path)
		}
	}
}

// A change saved in the home that a running server did not acknowledge in
// time (a *manage.PublishError) answers 202 with the failures.
func TestSavedButNotAppliedIs202(t *testing.T) {
	e := newEnv(t)
	// A registered server that never acknowledges (hung, say).
	reg, err := serving.Register(e.m.Home().Dir(), serving.Server{Store: e.m.StoreURL(), ClientURL: "nats://127.0.0.1:1", WatchesHome: true})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	m, err := manage.Open(manage.Config{Home: e.m.Home().Dir(), ApplyTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	srv, err := console.New(console.Config{Manager: m, Access: e.acc})
	if err != nil {
		t.Fatal(err)
	}
	e.http.Config.Handler = srv
	c := e.login("admin")
	var p console.Problem
	st := c.do("PATCH", "/api/accounts/Team", map[string]any{"max_subscriptions": 77}, &p)
	if st != http.StatusAccepted || !strings.HasSuffix(p.Type, "/not-applied") || len(p.Failures) == 0 {
		t.Fatalf("unacknowledged change: %d %+v", st, p)
	}
	if acc, _ := e.m.Home().Account("Team"); acc.Claims.Limits.Subs != 77 {
		t.Errorf("the change is not saved in the home: %d", acc.Claims.Limits.Subs)
	}
}

// A refused connect stays in the console's auth-failure history when the
// console restarts: it is kept beside the home's store, not only in the
// console's memory.
func TestAuthFailuresSurviveRestart(t *testing.T) {
	e := newEnv(t)
	akp, _ := nkeys.CreateAccount()
	apub, _ := akp.PublicKey()
	ukp, _ := nkeys.CreateUser()
	upub, _ := ukp.PublicKey()
	uc := jwt.NewUserClaims(upub)
	uc.IssuerAccount = apub
	tok, err := uc.Encode(akp)
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := ukp.Seed()
	listed := func(c *client) bool {
		var v console.FailuresView
		if st := c.do("GET", "/api/auth-failures?since=1h", nil, &v); st != 200 {
			t.Fatalf("auth failures: %d", st)
		}
		for _, r := range v.Failures {
			if r.User == upub && r.Cause == "unknown_account" {
				return true
			}
		}
		return false
	}
	// The console follows the servers' events once it has connected:
	// connect (and be refused) until it lists a refusal.
	admin := e.login("admin")
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := nats.Connect(e.node.ClientURL(), nats.UserJWTAndSeed(tok, string(seed)), nats.NoReconnect(),
			nats.Name("stranger")); err == nil {
			t.Fatal("a user of an unknown account connected")
		}
		time.Sleep(100 * time.Millisecond)
		if listed(admin) {
			break
		}
		if time.Now().After(deadline) {
			var v console.FailuresView
			admin.do("GET", "/api/auth-failures?since=1h", nil, &v)
			t.Fatalf("the refused connect is not listed: %+v", v)
		}
	}
	// A new console over the same home, started without a server to
	// follow: what it lists comes from what the first one kept.
	e.srv.Close()
	srv, err := console.New(console.Config{Manager: e.m, Access: e.acc, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	e.http.Config.Handler = srv
	if !listed(e.login("admin")) {
		t.Fatal("the refused connect is gone after the console restarted")
	}
}
