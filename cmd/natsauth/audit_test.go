package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"

	"github.com/natsauth/natsauth/audit"
	"github.com/natsauth/natsauth/authority"
)

// readAudit runs `natsauth audit --json args...` and decodes its lines.
func readAudit(t *testing.T, h *e2eHome, args ...string) []audit.Entry {
	t.Helper()
	out := h.must(append([]string{"audit", "--json"}, args...)...)
	var entries []audit.Entry
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var e audit.Entry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("audit --json line %q: %v", line, err)
		}
		entries = append(entries, e)
	}
	return entries
}

// signAccount re-signs the home's account with one change, as another
// tool holding the operator signing key would.
func signAccount(t *testing.T, home string, name string, after int64, mod func(*jwt.AccountClaims)) (token, jti string, iat int64) {
	t.Helper()
	h, err := authority.Open(home)
	if err != nil {
		t.Fatal(err)
	}
	acc, err := h.Account(name)
	if err != nil {
		t.Fatal(err)
	}
	kp, err := h.OperatorSigner()
	if err != nil {
		t.Fatal(err)
	}
	ac, err := jwt.DecodeAccountClaims(acc.JWT)
	if err != nil {
		t.Fatal(err)
	}
	mod(ac)
	// A later second than the home's JWT and after: newer by iat, and with
	// another jti (nats JWT ids hash the standard claims, iat included).
	time.Sleep(time.Until(time.Unix(max(ac.IssuedAt, after)+1, 0)))
	token, err = ac.Encode(kp)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := jwt.DecodeAccountClaims(token)
	if err != nil {
		t.Fatal(err)
	}
	return token, nc.ID, nc.IssuedAt
}

// The audit log records what a CLI session, a push over NATS and a POST to
// the account server did, in order, with who, the signer and the jtis.
func TestAuditRecordsASession(t *testing.T) {
	h := newE2EHome(t) // natsauth init, default SQLite store in the home
	// The jti of A's JWT in the home after each step.
	var j []string
	step := func(args ...string) {
		t.Helper()
		h.must(args...)
		home, err := authority.Open(h.dir)
		if err != nil {
			t.Fatal(err)
		}
		acc, err := home.Account("A")
		if err != nil {
			t.Fatal(err)
		}
		j = append(j, acc.Claims.ID)
	}
	step("add", "account", "-n", "A")
	step("edit", "account", "A", "--max-connections", "10")
	step("add", "user", "-n", "alice", "-a", "A")
	step("revocations", "add-user", "-a", "A", "-n", "alice")

	home, err := authority.Open(h.dir)
	if err != nil {
		t.Fatal(err)
	}
	acc, _ := home.Account("A")
	sys, _ := home.Account("SYS")
	alice, _ := home.User("A", "alice")
	opSigner := acc.Claims.Issuer

	// A push over NATS and a POST to the account server of a running node.
	s := h.serve("--account-server", "127.0.0.1:0")
	accountsURL := interopAccountsRe.FindStringSubmatch(s.out.String())
	if accountsURL == nil {
		t.Fatalf("serve printed no account-server URL:\n%s", s.out)
	}
	pushed, pushedJTI, pushedIAT := signAccount(t, h.dir, "A", 0, func(ac *jwt.AccountClaims) { ac.Limits.Payload = 1 << 20 })
	creds, _ := home.SystemUserCreds()
	nc, err := nats.Connect(s.url, nats.UserCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	reply, err := nc.Request("$SYS.REQ.CLAIMS.UPDATE", []byte(pushed), 5*time.Second)
	if err != nil || !strings.Contains(string(reply.Data), `"code":200`) {
		t.Fatalf("push: %v %s", err, reply.Data)
	}
	posted, postedJTI, _ := signAccount(t, h.dir, "A", pushedIAT, func(ac *jwt.AccountClaims) { ac.Limits.Payload = 2 << 20 })
	resp, err := http.Post(accountsURL[1]+acc.Pub, "text/plain", strings.NewReader(posted))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 && resp.StatusCode != 200 {
		t.Fatalf("POST: %s %s", resp.Status, body)
	}

	// The home pulls the newest JWT back from the servers.
	h.must("pull", "-a", "A", "--server", s.url, "--timeout", "2s")

	entries := readAudit(t, h)
	type want struct {
		action, account, user, via, command, old, new string
	}
	wants := []want{
		{audit.ActionInit, sys.Pub, "", audit.ViaCLI, "natsauth init", "", sys.Claims.ID},
		{audit.ActionStorePut, sys.Pub, "", audit.ViaCLI, "natsauth init", "", sys.Claims.ID},
		{audit.ActionAddAccount, acc.Pub, "", audit.ViaCLI, "natsauth add account", "", "$0"},
		{audit.ActionStorePut, acc.Pub, "", audit.ViaCLI, "natsauth add account", "", "$0"},
		{audit.ActionEditAccount, acc.Pub, "", audit.ViaCLI, "natsauth edit account", "$0", "$1"},
		{audit.ActionStorePut, acc.Pub, "", audit.ViaCLI, "natsauth edit account", "$0", "$1"},
		{audit.ActionAddUser, acc.Pub, alice.Pub, audit.ViaCLI, "natsauth add user", "", alice.Claims.ID},
		{audit.ActionRevokeUser, acc.Pub, alice.Pub, audit.ViaCLI, "natsauth revocations add-user", "$1", "$3"},
		{audit.ActionStorePut, acc.Pub, "", audit.ViaCLI, "natsauth revocations add-user", "$1", "$3"},
		{audit.ActionStorePut, acc.Pub, "", audit.ViaNATS, "", "$3", pushedJTI},
		{audit.ActionStorePut, acc.Pub, "", audit.ViaHTTP, "", pushedJTI, postedJTI},
		{audit.ActionPullAccount, acc.Pub, "", audit.ViaCLI, "natsauth pull", "$3", postedJTI},
	}
	if j[2] != j[1] || j[3] != acc.Claims.ID || pushedJTI == j[3] || postedJTI == pushedJTI {
		t.Fatalf("jtis: steps %q (adding a user leaves the account alone), pushed %s, posted %s", j, pushedJTI, postedJTI)
	}
	jti := func(s string) string {
		if strings.HasPrefix(s, "$") {
			return j[s[1]-'0']
		}
		return s
	}
	if len(entries) != len(wants) {
		t.Fatalf("%d entries, want %d:\n%s", len(entries), len(wants), dump(entries))
	}
	for i, w := range wants {
		e := entries[i]
		if e.Action != w.action || e.Account != w.account || e.User != w.user || e.Via != w.via ||
			e.Command != w.command || e.OldJTI != jti(w.old) || e.NewJTI != jti(w.new) {
			t.Errorf("entry %d = %s\n  want %+v", i, e, w)
		}
		if e.OSUser == "" || e.Time.IsZero() {
			t.Errorf("entry %d lacks the OS user or time: %+v", i, e)
		}
		if e.Action != audit.ActionInit && e.Action != audit.ActionAddUser && e.Signer != opSigner {
			t.Errorf("entry %d signer = %q, want the operator signing key %s", i, e.Signer, opSigner)
		}
	}
	if s := entries[len(entries)-2].Remote; !strings.HasPrefix(s, "127.0.0.1:") {
		t.Errorf("POST recorded from %q, want the client's address", s)
	}
	if entries[6].Signer != acc.Pub && !strings.Contains(strings.Join(acc.Claims.SigningKeys.Keys(), " "), entries[6].Signer) {
		t.Errorf("add user signer = %q, want a key of account A", entries[6].Signer)
	}

	// Filters: by account name, by time.
	onlyA := readAudit(t, h, "--account", "A")
	for _, e := range onlyA {
		if e.Account != acc.Pub {
			t.Errorf("--account A returned %s", e)
		}
	}
	if len(onlyA) != len(wants)-2 {
		t.Errorf("--account A: %d entries, want %d", len(onlyA), len(wants)-2)
	}
	if got := readAudit(t, h, "--since", "1h"); len(got) != len(wants) {
		t.Errorf("--since 1h: %d entries, want %d", len(got), len(wants))
	}
	if got := readAudit(t, h, "--since", time.Now().Add(time.Hour).Format(time.RFC3339)); len(got) != 0 {
		t.Errorf("--since in the future: %d entries", len(got))
	}
	text := h.must("audit", "--account", "A")
	for _, want := range []string{"add account A " + acc.Pub, "revoke user alice " + alice.Pub + " in account A " + acc.Pub, "via nats", "via http", "via cli (natsauth edit account)"} {
		if !strings.Contains(text, want) {
			t.Errorf("audit text lacks %q:\n%s", want, text)
		}
	}
	if _, _, err := h.run("audit", "--since", "yesterday"); err == nil || !strings.Contains(err.Error(), "--since") {
		t.Errorf("bad --since: %v", err)
	}
	// No JWT or seed in the log.
	if strings.Contains(text, "eyJ") || strings.Contains(h.must("audit", "--json"), "eyJ") {
		t.Error("a JWT is in the audit log")
	}
}

// A dir store keeps its audit log in audit.log beside the JWTs (0600), and
// authority changes against a store that keeps none go to the home's.
func TestAuditBesideDirStore(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	jwts := filepath.Join(t.TempDir(), "jwts")
	store := "dir://" + jwts
	for _, args := range [][]string{{"init"}, {"add", "account", "-n", "A"}} {
		if out, errOut, err := runCLI(t, append(args, "--home", home, "--store", store)...); err != nil {
			t.Fatalf("%v: %v\n%s%s", args, err, out, errOut)
		}
	}
	fi, err := os.Stat(filepath.Join(jwts, audit.FileName))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("audit.log mode %v, want 0600", fi.Mode().Perm())
	}
	out, _, err := runCLI(t, "audit", "--json", "--home", home, "--store", store)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out, "\n"); n != 4 { // init, put SYS, add account, put A
		t.Errorf("%d entries, want 4:\n%s", n, out)
	}
	if _, err := os.Stat(filepath.Join(home, audit.FileName)); err == nil {
		t.Error("the home has an audit log although the store keeps one")
	}
}

func dump(es []audit.Entry) string {
	var b strings.Builder
	for i, e := range es {
		fmt.Fprintf(&b, "  %2d %s\n", i, e)
	}
	return b.String()
}
