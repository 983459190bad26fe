package callout_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsauth/natsauth/audit"
	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/callout"
	"github.com/natsauth/natsauth/internal/oidctest"
)

func TestPasswordUsersAndDisableEndsLiveConnections(t *testing.T) {
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) { testPasswordUsers(t, envOpts{postgres: db == "postgres"}) })
	}
}

func testPasswordUsers(t *testing.T, o envOpts) {
	e := newEnv(t, o)
	ctx := context.Background()
	if err := e.users.Add(ctx, "alice", "correct horse", []string{"staff"}); err != nil {
		t.Fatal(err)
	}
	if err := e.users.Add(ctx, "bob", "battery staple", []string{"staff"}); err != nil {
		t.Fatal(err)
	}
	_, reg := e.service(nil)

	alice := e.mustConnect(nats.UserInfo("alice", "correct horse"))
	ui := whoami(t, alice)
	if ui.Account != e.app.Pub || !strings.Contains(strings.Join(ui.Permissions.Publish.Allow, ","), "staff.alice.>") {
		t.Fatalf("alice is %+v", ui)
	}
	bob := e.mustConnect(nats.UserInfo("bob", "battery staple"))
	e.refused("wrong password", nats.UserInfo("alice", "not her password"))
	e.refused("unknown user", nats.UserInfo("mallory", "correct horse"))
	if got := counter(t, reg, "refused", callout.ReasonBadPassword); got != 2 {
		t.Errorf("bad_password = %v, want 2", got)
	}

	// Disabling alice (as `natsauth callout user disable` does, from any
	// process) closes her live connection; bob stays.
	closed, _ := closedWith(alice)
	if err := e.users.SetDisabled(ctx, "alice", true); err != nil {
		t.Fatal(err)
	}
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("disabled user's connection still open")
	}
	if !bob.IsConnected() {
		t.Error("bob lost his connection")
	}
	e.refused("disabled user", nats.UserInfo("alice", "correct horse"))
	if got := counter(t, reg, "refused", callout.ReasonDisabledUser); got != 1 {
		t.Errorf("disabled_user = %v, want 1", got)
	}
	// Re-enabled, she signs in again (the cache was dropped on the change).
	if err := e.users.SetDisabled(ctx, "alice", false); err != nil {
		t.Fatal(err)
	}
	e.mustConnect(nats.UserInfo("alice", "correct horse")).Close()
	if strings.Contains(e.logs.String(), "correct horse") || strings.Contains(e.logs.String(), "not her password") {
		t.Error("a password reached the log")
	}
	// The user changes and the issued users are in the audit log.
	entries, _ := e.audit.Read(ctx, audit.Query{})
	var acts []string
	for _, en := range entries {
		acts = append(acts, en.Action)
	}
	all := strings.Join(acts, "|")
	for _, want := range []string{"callout add user", "callout disable user", "callout enable user", callout.ActionIssue} {
		if !strings.Contains(all, want) {
			t.Errorf("audit has no %q: %s", want, all)
		}
	}
}

func TestXKeyOnAndOff(t *testing.T) {
	e := newEnv(t, envOpts{curve: true})
	if err := e.users.Add(context.Background(), "alice", "correct horse", []string{"staff"}); err != nil {
		t.Fatal(err)
	}
	e.service(nil)
	// A second auth-user connection sees what the server sends to the
	// queue group: encrypted requests, marked with the server's xkey.
	spy := e.spy()
	e.mustConnect(nats.UserInfo("alice", "correct horse")).Close()
	m, err := spy.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if m.Header.Get("Nats-Server-Xkey") == "" || strings.HasPrefix(string(m.Data), "eyJ") {
		t.Fatalf("request not encrypted: header %v, data %.10q", m.Header, m.Data)
	}

	// Curve removed (and published): plain JWT requests, still answered.
	if _, err := e.home.EditAuthCallout("AUTH", authority.AuthCalloutEdit{RemoveCurve: true}); err != nil {
		t.Fatal(err)
	}
	e.publishAccount("AUTH")
	eventually(t, "plain requests after --rm-curve", func() bool {
		nc, err := e.connect(nats.UserInfo("alice", "correct horse"))
		if err != nil {
			return false
		}
		nc.Close()
		for {
			m, err := spy.NextMsg(100 * time.Millisecond)
			if err != nil {
				return false
			}
			if m.Header.Get("Nats-Server-Xkey") == "" && strings.HasPrefix(string(m.Data), "eyJ") {
				return true
			}
		}
	})
	// And a new curve key while running: the service finds its seed in
	// the keystore when the first request encrypted to it arrives.
	if _, err := e.home.EditAuthCallout("AUTH", authority.AuthCalloutEdit{Curve: authority.GenerateCurve}); err != nil {
		t.Fatal(err)
	}
	e.publishAccount("AUTH")
	eventually(t, "encrypted requests to the new key answered", func() bool {
		nc, err := e.connect(nats.UserInfo("alice", "correct horse"))
		if err != nil {
			return false
		}
		nc.Close()
		m, err := spy.NextMsg(time.Second)
		return err == nil && m.Header.Get("Nats-Server-Xkey") != ""
	})
}

// spy subscribes to the auth subject as a second auth user (outside the
// queue group): it sees every request and answers none.
func (e *env) spy() *nats.Subscription {
	e.t.Helper()
	nc, err := e.serviceConnect()(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(nc.Close)
	sub, err := nc.SubscribeSync(callout.Subject)
	if err != nil {
		e.t.Fatal(err)
	}
	nc.Flush()
	return sub
}

func TestTTLExpiryDisconnectsClient(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.service(nil)
	e.op.Register(oidctest.Client{ID: "brief-user", Secret: "s3cret-brief", Subject: "b1", Audience: []string{"nats"},
		Claims: map[string]any{"groups": []any{"short"}}})
	nc := e.mustConnect(nats.Token(e.op.MustToken(t, "brief-user", "s3cret-brief")))
	closed, lastErr := closedWith(nc)
	select {
	case <-closed:
	case <-time.After(15 * time.Second):
		t.Fatal("the client outlived its 2s user JWT")
	}
	if err := lastErr(); !errors.Is(err, nats.ErrAuthExpired) {
		t.Errorf("closed after %v (last %v), want the server's authentication expired error", err, nc.LastError())
	}
}

func TestRuleChangeEndsConnectionsItNoLongerGrants(t *testing.T) {
	e := newEnv(t, envOpts{})
	ctx := context.Background()
	if err := e.users.Add(ctx, "alice", "correct horse", []string{"staff"}); err != nil {
		t.Fatal(err)
	}
	svc, _ := e.service(func(c *callout.Config) { c.WatchRules = true })
	registerOps(e.op)
	ops := e.mustConnect(nats.Token(e.op.MustToken(t, "orders-svc", "s3cret-orders")))
	alice := e.mustConnect(nats.UserInfo("alice", "correct horse"))
	opsClosed, _ := closedWith(ops)
	aliceClosed, _ := closedWith(alice)

	// A rules file with an error is refused whole: nothing changes.
	good := fmt.Sprintf(rulesTmpl, e.op.Issuer, e.op.CAFile)
	e.writeRules(good + "\n  - name: broken\n    match: {source: ldap}\n")
	if _, err := svc.Reload(); err == nil || !strings.Contains(err.Error(), "unknown source \"ldap\"") {
		t.Fatalf("Reload of a broken file = %v", err)
	}
	if len(svc.Rules().Rules) != 4 {
		t.Fatal("a refused file replaced the rules")
	}
	if !ops.IsConnected() || !alice.IsConnected() {
		t.Fatal("a refused file ended connections")
	}

	// The ops rule now grants less: ops' connection ends (the file watch
	// reloads it); alice's rule is unchanged and she stays.
	e.writeRules(strings.Replace(good, `"teams.{{ index .Claims.groups 0 }}.>", `, "", 1))
	select {
	case <-opsClosed:
	case <-time.After(10 * time.Second):
		t.Fatal("the connection the new rules grant less stayed open")
	}
	select {
	case <-aliceClosed:
		t.Fatal("alice's unchanged grant was ended")
	case <-time.After(300 * time.Millisecond):
	}
	// ops reconnects under the new rules with the new permissions.
	nc := e.mustConnect(nats.Token(e.op.MustToken(t, "orders-svc", "s3cret-orders")))
	if got := strings.Join(whoami(t, nc).Permissions.Publish.Allow, ","); strings.Contains(got, "teams.") {
		t.Errorf("new connection still has %s", got)
	}
}

func TestBreakGlassWithoutTheService(t *testing.T) {
	e := newEnv(t, envOpts{})
	ctx := context.Background()
	if err := e.users.Add(ctx, "alice", "correct horse", []string{"staff"}); err != nil {
		t.Fatal(err)
	}
	// No service running: auth users and accounts outside the callout work.
	jwt, seed, err := callout.ServiceCredentials(e.home, "AUTH")
	if err != nil {
		t.Fatal(err)
	}
	e.mustConnect(nats.UserJWTAndSeed(jwt, seed)).Close()
	w := e.mustConnect(nats.UserCredentials(e.home.CredsPath("APP", "watcher")))
	if got := whoamiAccount(t, w); got != e.app.Pub {
		t.Errorf("APP creds user in %s", got)
	}
	sys, err := e.home.SystemUserCreds()
	if err != nil {
		t.Fatal(err)
	}
	e.mustConnect(nats.UserCredentials(sys)).Close()
	// Callout users are refused (fail closed) until a service answers: the
	// server gives up at its authentication timeout.
	if nc, err := e.connect(nats.UserInfo("alice", "correct horse")); err == nil {
		nc.Close()
		t.Fatal("a password user connected with no gateway running")
	}
	e.service(nil)
	e.mustConnect(nats.UserInfo("alice", "correct horse")).Close()
}

// whoamiAccount asks a plain creds user's account (its permissions allow
// $SYS.REQ.USER.INFO by default).
func whoamiAccount(t *testing.T, nc *nats.Conn) string { return whoami(t, nc).Account }

func TestClientCertificateSignsIn(t *testing.T) {
	e := newEnv(t, envOpts{tls: true})
	e.service(nil)
	nc := e.mustConnect(nats.ClientCert(e.tls.ClientCert, e.tls.ClientKey))
	ui := whoami(t, nc)
	if ui.Account != e.app.Pub || !strings.Contains(strings.Join(ui.Permissions.Publish.Allow, ","), "devices.natsauth-client.>") {
		t.Fatalf("cert user is %+v", ui)
	}
}

func TestThrottleSlowsThenBlocksAnAddress(t *testing.T) {
	e := newEnv(t, envOpts{})
	if err := e.users.Add(context.Background(), "alice", "correct horse", []string{"staff"}); err != nil {
		t.Fatal(err)
	}
	_, reg := e.service(func(c *callout.Config) {
		c.Throttle = &callout.Throttle{Free: 2, Block: 4, Window: time.Minute, BaseDelay: 10 * time.Millisecond, MaxDelay: 100 * time.Millisecond}
	})
	for i := range 4 {
		e.refused(fmt.Sprintf("guess %d", i), nats.UserInfo("alice", fmt.Sprintf("guess-%04d", i)))
	}
	// Blocked: even the right password is refused without being checked.
	e.refused("right password from a blocked address", nats.UserInfo("alice", "correct horse"))
	if got := counter(t, reg, "refused", callout.ReasonThrottled); got != 1 {
		t.Errorf("throttled = %v, want 1", got)
	}
	if got := counter(t, reg, "refused", callout.ReasonBadPassword); got != 4 {
		t.Errorf("bad_password = %v, want 4 (the blocked attempt is not checked)", got)
	}
}

func TestAccountNotAllowedIsRefused(t *testing.T) {
	e := newEnv(t, envOpts{})
	if _, err := e.home.AddAccount("OTHER", authority.AccountEdit{}); err != nil {
		t.Fatal(err)
	}
	e.publishAccount("OTHER")
	if err := e.users.Add(context.Background(), "alice", "correct horse", []string{"staff"}); err != nil {
		t.Fatal(err)
	}
	e.writeRules(strings.Replace(fmt.Sprintf(rulesTmpl, e.op.Issuer, e.op.CAFile), "account: APP\n    permissions:\n      pub: {allow: [\"staff", "account: OTHER\n    permissions:\n      pub: {allow: [\"staff", 1))
	_, reg := e.service(nil)
	e.refused("rule places users in an account the callout does not allow", nats.UserInfo("alice", "correct horse"))
	if got := counter(t, reg, "refused", callout.ReasonAccountNotAllowed); got != 1 {
		t.Errorf("account_not_allowed = %v", got)
	}
}
