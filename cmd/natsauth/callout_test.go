package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/internal/oidctest"
	"github.com/natsauth/natsauth/internal/testkit"
)

// runCLIStdin runs a command with stdin.
func runCLIStdin(t testing.TB, stdin string, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := newRootCmd(&out, &errOut)
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), errOut.String(), err
}

const cliRules = `
providers:
  - name: corp
    issuer: %s
    audiences: [nats]
    ca_file: %s
rules:
  - name: workloads
    match: {source: oidc, claims: {groups: {contains: ops}}}
    account: APP
    permissions:
      pub: {allow: ["orders.{{ .Claims.sub }}.>", "$SYS.REQ.USER.INFO"]}
      sub: {allow: ["_INBOX.>"]}
  - name: staff
    match: {source: password, claims: {groups: {contains: staff}}}
    account: APP
    permissions:
      pub: {allow: ["staff.{{ .Username }}.>", "$SYS.REQ.USER.INFO"]}
      sub: {allow: ["_INBOX.>"]}
`

// TestCalloutCLIEndToEnd is the guide's flow with natsauth commands only:
// configure the callout account, add a password user from stdin, serve
// with the sentinel in the conf file, run `natsauth callout`, sign in with
// a password and an OIDC token, disable the user, check identities.
func TestCalloutCLIEndToEnd(t *testing.T) {
	h := newE2EHome(t)
	h.must("add", "account", "-n", "AUTH")
	h.must("add", "account", "-n", "APP")
	h.must("add", "user", "-a", "AUTH", "-n", "callout")
	out := h.must("edit", "authcallout", "-a", "AUTH", "--auth-user", "callout", "--allowed-account", "APP", "--curve", "generate")
	for _, want := range []string{"Auth callout", "Auth users", "callout", "Allowed accounts", "APP", "seed in the keystore"} {
		if !strings.Contains(out, want) {
			t.Errorf("edit authcallout output lacks %q:\n%s", want, out)
		}
	}
	// The account JWT carries nsc's authorization claim.
	home, err := authority.Open(h.dir)
	if err != nil {
		t.Fatal(err)
	}
	auth, _ := home.Account("AUTH")
	app, _ := home.Account("APP")
	if x := auth.Claims.Authorization; len(x.AuthUsers) != 1 || !x.AllowedAccounts.Contains(app.Pub) || !strings.HasPrefix(x.XKey, "X") {
		t.Fatalf("authorization claim %+v", x)
	}
	if _, _, err := h.run("edit", "authcallout", "-a", "AUTH", "--allowed-account", "NOPE"); err == nil ||
		!strings.Contains(err.Error(), `"NOPE"`) {
		t.Errorf("unknown allowed account: %v", err)
	}

	// Password users: the password comes from stdin, never argv.
	if _, _, err := runCLIStdin(t, "correct horse\n", "callout", "user", "add", "alice", "--group", "staff", "--home", h.dir); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runCLIStdin(t, "short\n", "callout", "user", "add", "bob", "--home", h.dir); err == nil {
		t.Error("a short password was accepted")
	}
	list := h.must("callout", "user", "list")
	if !regexp.MustCompile(`alice\s+enabled\s+staff`).MatchString(list) {
		t.Errorf("user list:\n%s", list)
	}

	if jwt := strings.TrimSpace(h.must("callout", "sentinel")); !strings.HasPrefix(jwt, "eyJ") {
		t.Fatalf("callout sentinel printed %q", jwt)
	}
	conf := filepath.Join(t.TempDir(), "callout.conf")
	h.must("callout", "sentinel", "--conf", conf)
	srv := h.serve("-c", conf)

	op := oidctest.Start(t)
	op.Register(oidctest.Client{ID: "orders", Secret: "s3cret-orders", Subject: "w1", Audience: []string{"nats"},
		Claims: map[string]any{"groups": []any{"ops"}}})
	rules := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(rules, []byte(fmt.Sprintf(cliRules, op.Issuer, op.CAFile)), 0o600); err != nil {
		t.Fatal(err)
	}
	svc := startBackground(t, "callout", "--home", h.dir, "--rules", rules, "--nats", srv.url)
	svc.wait(t, svc.out, regexp.MustCompile(`answering for account AUTH`), 30*time.Second)

	alice, err := nats.Connect(srv.url, nats.UserInfo("alice", "correct horse"), nats.NoReconnect())
	if err != nil {
		t.Fatalf("alice: %v\ncallout log: %s", err, svc.errOut)
	}
	defer alice.Close()
	closed := make(chan struct{})
	alice.SetClosedHandler(func(*nats.Conn) { close(closed) })
	if acc := userAccount(t, alice); acc != app.Pub {
		t.Errorf("alice in %s, want APP", acc)
	}
	tok := op.MustToken(t, "orders", "s3cret-orders")
	w, err := nats.Connect(srv.url, nats.Token(tok), nats.NoReconnect())
	if err != nil {
		t.Fatalf("token: %v\ncallout log: %s", err, svc.errOut)
	}
	w.Close()
	// The nats CLI presents the token the same way (--token).
	if out, err := exec.Command(testkit.NatsCLI(t), "-s", srv.url, "--token", tok, "pub", "orders.w1.cli", "hi").CombinedOutput(); err != nil {
		t.Fatalf("nats --token through the gateway: %v\n%s", err, out)
	}
	if out, err := exec.Command(testkit.NatsCLI(t), "-s", srv.url, "--token", tok, "pub", "orders.w2.cli", "hi").CombinedOutput(); err == nil ||
		!strings.Contains(strings.ToLower(string(out)), "permissions violation") {
		t.Errorf("nats --token published outside its template: %v\n%s", err, out)
	}

	// check explains without connecting, with the real provider.
	out = h.must("callout", "check", "--rules", rules, "--token", tok)
	if !strings.Contains(out, "ALLOWED   by rule workloads") || !strings.Contains(out, "orders.w1.>") {
		t.Errorf("check --token:\n%s", out)
	}
	var rep struct {
		Allowed bool   `json:"allowed"`
		Rule    string `json:"rule"`
		Steps   []struct {
			Rule    string `json:"rule"`
			Matched bool   `json:"matched"`
		} `json:"steps"`
	}
	if err := json.Unmarshal([]byte(h.must("callout", "check", "--rules", rules, "--user", "alice", "--json")), &rep); err != nil {
		t.Fatal(err)
	}
	if !rep.Allowed || rep.Rule != "staff" || len(rep.Steps) != 2 || rep.Steps[0].Matched {
		t.Errorf("check --user alice: %+v", rep)
	}

	// Disable from the CLI: her live connection ends.
	h.must("callout", "user", "disable", "alice")
	select {
	case <-closed:
	case <-time.After(15 * time.Second):
		t.Fatal("disabled alice is still connected")
	}
	out = h.must("callout", "check", "--rules", rules, "--user", "alice")
	if !strings.Contains(out, "REFUSED") {
		t.Errorf("check of a disabled user:\n%s", out)
	}
	audit := h.must("audit")
	for _, want := range []string{"callout add user alice", "callout disable user alice", "callout issue user alice"} {
		if !strings.Contains(audit, want) {
			t.Errorf("audit lacks %q:\n%s", want, audit)
		}
	}
	if strings.Contains(audit, "correct horse") || strings.Contains(svc.errOut.String(), "correct horse") {
		t.Error("a password reached the audit log or the log")
	}
}

func userAccount(t *testing.T, nc *nats.Conn) string {
	t.Helper()
	m, err := nc.Request("$SYS.REQ.USER.INFO", nil, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Data struct {
			Account string `json:"account"`
		} `json:"data"`
	}
	if err := json.Unmarshal(m.Data, &r); err != nil {
		t.Fatal(err)
	}
	return r.Data.Account
}

// serve --callout runs the gateway inside the node: a password user signs
// in without creds, into the allowed account, with the rule's permissions;
// a wrong password is refused; creds users are unaffected.
func TestServeWithCallout(t *testing.T) {
	h := newE2EHome(t)
	h.must("add", "account", "-n", "AUTH")
	h.must("add", "account", "-n", "APP")
	h.must("add", "user", "-a", "AUTH", "-n", "callout")
	h.must("add", "user", "-a", "APP", "-n", "direct", "--allow-pubsub", ">")
	h.must("edit", "authcallout", "-a", "AUTH", "--auth-user", "callout", "--allowed-account", "APP")
	if _, _, err := runCLIStdin(t, "correct horse\n", "callout", "user", "add", "alice", "--group", "staff", "--home", h.dir); err != nil {
		t.Fatal(err)
	}
	rules := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(rules, []byte(`
rules:
  - name: staff
    match: {source: password, claims: {groups: {contains: staff}}}
    account: APP
    permissions:
      pub: {allow: ["staff.{{ .Username }}.>", "$SYS.REQ.USER.INFO"]}
      sub: {allow: ["_INBOX.>"]}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := h.serve("--callout", "AUTH", "--callout-rules", rules)
	home, err := authority.Open(h.dir)
	if err != nil {
		t.Fatal(err)
	}
	app, _ := home.Account("APP")
	signIn := func() {
		t.Helper()
		nc, err := nats.Connect(srv.url, nats.UserInfo("alice", "correct horse"), nats.NoReconnect())
		if err != nil {
			t.Fatalf("alice through the embedded gateway: %v\nserve log: %s", err, srv.log)
		}
		defer nc.Close()
		if acc := userAccount(t, nc); acc != app.Pub {
			t.Errorf("alice in %s, want APP", acc)
		}
		if err := nc.Publish("staff.alice.x", nil); err != nil {
			t.Fatal(err)
		}
		if err := nc.Publish("other", nil); err != nil {
			t.Fatal(err)
		}
		if err := nc.Flush(); err != nil || nc.LastError() == nil {
			t.Errorf("alice published outside her template: flush %v, last error %v", err, nc.LastError())
		}
	}
	signIn()
	if nc, err := nats.Connect(srv.url, nats.UserInfo("alice", "wrong password"), nats.NoReconnect()); err == nil {
		nc.Close()
		t.Fatal("a wrong password signed in")
	}
	// The nats CLI signs in the same way: --user/--password.
	natsCLI := func(args ...string) ([]byte, error) {
		return exec.Command(testkit.NatsCLI(t), append([]string{"-s", srv.url}, args...)...).CombinedOutput()
	}
	if out, err := natsCLI("--user", "alice", "--password", "correct horse", "pub", "staff.alice.cli", "hi"); err != nil {
		t.Fatalf("nats --user/--password through the gateway: %v\n%s", err, out)
	}
	if out, err := natsCLI("--user", "alice", "--password", "wrong", "pub", "staff.alice.cli", "hi"); err == nil {
		t.Fatalf("nats with a wrong password signed in:\n%s", out)
	}
	// A creds user of an account outside the callout is unaffected.
	direct, err := nats.Connect(srv.url, nats.UserCredentials(home.CredsPath("APP", "direct")), nats.NoReconnect())
	if err != nil {
		t.Fatalf("creds user: %v", err)
	}
	direct.Close()
}
