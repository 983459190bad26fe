package resolver_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/natsauth/natsauth/internal/testkit"
	"github.com/natsauth/natsauth/resolver"
	"github.com/natsauth/natsauth/store"
)

// claimsRequest sends a claims request and decodes the full-resolver reply.
func claimsRequest(t *testing.T, nc *nats.Conn, subject string, payload []byte) server.ServerAPIClaimUpdateResponse {
	t.Helper()
	msg, err := nc.Request(subject, payload, 5*time.Second)
	if err != nil {
		t.Fatalf("request %s: %v", subject, err)
	}
	var resp server.ServerAPIClaimUpdateResponse
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		t.Fatalf("reply to %s is not the full resolver's JSON: %v: %s", subject, err, msg.Data)
	}
	if resp.Server == nil || resp.Server.ID == "" {
		t.Fatalf("reply to %s lacks server info: %s", subject, msg.Data)
	}
	return resp
}

func wantOK(t *testing.T, resp server.ServerAPIClaimUpdateResponse, account, message string) {
	t.Helper()
	if resp.Error != nil || resp.Data == nil {
		t.Fatalf("reply = error %+v, want data %q", resp.Error, message)
	}
	if resp.Data.Code != 200 || resp.Data.Message != message || resp.Data.Account != account {
		t.Fatalf("reply data = %+v, want {account %s, code 200, message %q}", *resp.Data, account, message)
	}
}

func wantErr(t *testing.T, resp server.ServerAPIClaimUpdateResponse, account, descPrefix, descContains string) {
	t.Helper()
	if resp.Error == nil || resp.Data != nil {
		t.Fatalf("reply = data %+v, want an error", resp.Data)
	}
	e := resp.Error
	if e.Code != 500 || e.Account != account || !strings.HasPrefix(e.Description, descPrefix) ||
		!strings.Contains(e.Description, descContains) {
		t.Fatalf("reply error = %+v, want {account %q, code 500, description %q ... %q}", *e, account, descPrefix, descContains)
	}
}

func TestClaimsUpdatePersistsAppliesAndReplies(t *testing.T) {
	op := testkit.NewOperator(t)
	a := op.NewAccount(t, "A", nil)
	st := memStore(t, op)
	mustPut(t, st, a)
	n := startNode(t, op, st, resolver.Options{})
	sys := n.sysConn(t)
	u := a.NewUser(t, "alice", nil)
	_, _ = n.connect(t, u)
	_, secondClosed := n.connect(t, u)

	// nsc push: a new account is persisted.
	d := op.NewAccount(t, "D", nil)
	wantOK(t, claimsRequest(t, sys, resolver.SubjectClaimsUpdate, []byte(d.JWT)), d.Pub, "jwt updated")
	if rec, err := st.Get(context.Background(), d.Pub); err != nil || rec.JWT != d.JWT {
		t.Fatalf("pushed account not in the store: %v", err)
	}
	if _, _, err := n.tryConnect(t, d.NewUser(t, "dave", nil)); err != nil {
		t.Fatalf("connect to the pushed account: %v", err)
	}

	// A change to a loaded account is enforced by the time the reply comes.
	a.Reissue(t, 0, func(ac *jwt.AccountClaims) { ac.Limits.Conn = 1 })
	wantOK(t, claimsRequest(t, sys, resolver.SubjectClaimsUpdate, []byte(a.JWT)), a.Pub, "jwt updated")
	waitClosed(t, secondClosed, "connection over the pushed limit")

	// The same JWT again is fine (every node of a cluster answers).
	wantOK(t, claimsRequest(t, sys, resolver.SubjectClaimsUpdate, []byte(a.JWT)), a.Pub, "jwt updated")

	// The per-account subjects, new and old form.
	a.Reissue(t, 0, func(ac *jwt.AccountClaims) { ac.Limits.Conn = 5 })
	wantOK(t, claimsRequest(t, sys, fmt.Sprintf("$SYS.REQ.ACCOUNT.%s.CLAIMS.UPDATE", a.Pub), []byte(a.JWT)), a.Pub, "jwt updated")
	a.Reissue(t, 0, func(ac *jwt.AccountClaims) { ac.Limits.Conn = 6 })
	wantOK(t, claimsRequest(t, sys, fmt.Sprintf("$SYS.ACCOUNT.%s.CLAIMS.UPDATE", a.Pub), []byte(a.JWT)), a.Pub, "jwt updated")
	if rec, _ := st.Get(context.Background(), a.Pub); rec.JWT != a.JWT {
		t.Fatal("update on the old-form subject was not persisted")
	}
}

func TestClaimsUpdateRefusesBadInput(t *testing.T) {
	op := testkit.NewOperator(t)
	a := op.NewAccount(t, "A", nil)
	b := op.NewAccount(t, "B", nil)
	st := memStore(t, op)
	mustPut(t, st, a)
	n := startNode(t, op, st, resolver.Options{})
	sys := n.sysConn(t)
	u := a.NewUser(t, "alice", nil)
	_, _ = n.connect(t, u)

	// Make the loaded account strict: one connection.
	current := a.Reissue(t, time.Now().Unix(), func(ac *jwt.AccountClaims) { ac.Limits.Conn = 1 })
	wantOK(t, claimsRequest(t, sys, resolver.SubjectClaimsUpdate, []byte(current)), a.Pub, "jwt updated")

	stale := a.Reissue(t, time.Now().Add(-time.Hour).Unix(), func(ac *jwt.AccountClaims) { ac.Limits.Conn = -1 })
	wantErr(t, claimsRequest(t, sys, resolver.SubjectClaimsUpdate, []byte(stale)), a.Pub,
		"jwt update resulted in error", "older than the stored one")
	if rec, _ := st.Get(context.Background(), a.Pub); rec.JWT != current {
		t.Fatal("stale push changed the store")
	}
	// The loaded account was not downgraded: still one connection only.
	if _, _, err := n.tryConnect(t, u); err == nil {
		t.Fatal("stale push lifted the connection limit of the loaded account")
	}

	wantErr(t, claimsRequest(t, sys, resolver.SubjectClaimsUpdate, []byte("garbage")), "n/a",
		"jwt update resulted in error", "")
	other := testkit.NewOperator(t)
	wantErr(t, claimsRequest(t, sys, resolver.SubjectClaimsUpdate, []byte(b.SignWith(t, other.SigningKP))), b.Pub,
		"jwt validation failed", "not the trusted operator")
	wantErr(t, claimsRequest(t, sys, fmt.Sprintf("$SYS.REQ.ACCOUNT.%s.CLAIMS.UPDATE", a.Pub), []byte(b.JWT)), a.Pub,
		"jwt update resulted in error", "subject does not match jwt content")
	badMap := b.Reissue(t, 0, func(ac *jwt.AccountClaims) {
		ac.Mappings = jwt.Mapping{"foo": {{Subject: "bar", Weight: 60}, {Subject: "baz", Weight: 60}}}
	})
	wantErr(t, claimsRequest(t, sys, resolver.SubjectClaimsUpdate, []byte(badMap)), b.Pub,
		"jwt validation failed", "weight")
	if _, err := st.Get(context.Background(), b.Pub); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("refused pushes stored account B: %v", err)
	}
}

func TestClaimsLookupAndList(t *testing.T) {
	op := testkit.NewOperator(t)
	a := op.NewAccount(t, "A", nil)
	st := memStore(t, op)
	mustPut(t, st, a)
	n := startNode(t, op, st, resolver.Options{})
	sys := n.sysConn(t)

	msg, err := sys.Request(fmt.Sprintf("$SYS.REQ.ACCOUNT.%s.CLAIMS.LOOKUP", a.Pub), nil, 5*time.Second)
	if err != nil || string(msg.Data) != a.JWT {
		t.Fatalf("lookup of a stored account: %v, %.30q", err, msg.Data)
	}
	unknown := op.NewAccount(t, "U", nil)
	msg, err = sys.Request(fmt.Sprintf("$SYS.REQ.ACCOUNT.%s.CLAIMS.LOOKUP", unknown.Pub), nil, 5*time.Second)
	if err != nil || len(msg.Data) != 0 {
		t.Fatalf("lookup of an unknown account: %v, %q; want an empty reply", err, msg.Data)
	}

	msg, err = sys.Request(resolver.SubjectClaimsList, nil, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Server *server.ServerInfo `json:"server"`
		Data   []string           `json:"data"`
	}
	if err := json.Unmarshal(msg.Data, &list); err != nil || list.Server == nil {
		t.Fatalf("list reply %s: %v", msg.Data, err)
	}
	got := strings.Join(list.Data, ",")
	if len(list.Data) != 2 || !strings.Contains(got, a.Pub) || !strings.Contains(got, op.System.Pub) {
		t.Fatalf("list = %v, want A and SYS", list.Data)
	}
}

// deleteRequest is what `nsc push --prune` sends: a generic JWT issued
// and subject-ed by an operator key, listing accounts.
func deleteRequest(t *testing.T, kp nkeys.KeyPair, accounts ...string) []byte {
	t.Helper()
	pub, _ := kp.PublicKey()
	c := jwt.NewGenericClaims(pub)
	c.Data["accounts"] = accounts
	tok, err := c.Encode(kp)
	if err != nil {
		t.Fatal(err)
	}
	return []byte(tok)
}

func TestClaimsDelete(t *testing.T) {
	op := testkit.NewOperator(t)
	a := op.NewAccount(t, "A", nil)
	keep := op.NewAccount(t, "KEEP", nil)
	st := memStore(t, op)
	mustPut(t, st, a)
	mustPut(t, st, keep)

	t.Run("refused unless allowed", func(t *testing.T) {
		n := startNode(t, op, st, resolver.Options{})
		wantErr(t, claimsRequest(t, n.sysConn(t), resolver.SubjectClaimsDelete, deleteRequest(t, op.SigningKP, a.Pub)), "",
			"delete accounts request by", "delete must be enabled in server config")
		if _, err := st.Get(context.Background(), a.Pub); err != nil {
			t.Fatalf("refused delete removed the account: %v", err)
		}
	})

	n := startNode(t, op, st, resolver.Options{AllowDelete: true})
	sys := n.sysConn(t)
	u := a.NewUser(t, "alice", nil)
	_, closed := n.connect(t, u)
	keepConn, _ := n.connect(t, keep.NewUser(t, "kim", nil))

	wantErr(t, claimsRequest(t, sys, resolver.SubjectClaimsDelete, deleteRequest(t, op.SigningKP, op.System.Pub)), "",
		"delete accounts request by", "not allowed to delete system account")
	wantErr(t, claimsRequest(t, sys, resolver.SubjectClaimsDelete, deleteRequest(t, a.KP, a.Pub)), "",
		"delete accounts request by", "not trusted")
	wantErr(t, claimsRequest(t, sys, resolver.SubjectClaimsDelete, deleteRequest(t, op.SigningKP, "../etc/passwd")), "",
		"delete accounts request by", "malformed request")
	if _, err := st.Get(context.Background(), a.Pub); err != nil {
		t.Fatalf("refused deletes removed the account: %v", err)
	}

	wantOK(t, claimsRequest(t, sys, resolver.SubjectClaimsDelete, deleteRequest(t, op.SigningKP, a.Pub)), "", "deleted 1 accounts")
	if _, err := st.Get(context.Background(), a.Pub); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted account still stored: %v", err)
	}
	waitClosed(t, closed, "client of the deleted account")
	if _, _, err := n.tryConnect(t, u); err == nil {
		t.Fatal("client of the deleted account connected")
	}
	assertOpen(t, keepConn, "client of another account")
	// Deleting an account that is gone already succeeds (nothing to do),
	// signed by the operator identity key this time.
	wantOK(t, claimsRequest(t, sys, resolver.SubjectClaimsDelete, deleteRequest(t, op.KP, a.Pub)), "", "deleted 1 accounts")
}

func TestClaimsPack(t *testing.T) {
	op := testkit.NewOperator(t)
	a := op.NewAccount(t, "A", nil)
	st := memStore(t, op)
	mustPut(t, st, a)
	n := startNode(t, op, st, resolver.Options{})
	sys := n.sysConn(t)

	pack := func(hash []byte) []string {
		t.Helper()
		inbox := nats.NewInbox()
		sub, err := sys.SubscribeSync(inbox)
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Unsubscribe()
		if err := sys.PublishRequest(resolver.SubjectClaimsPack, inbox, hash); err != nil {
			t.Fatal(err)
		}
		var lines []string
		for {
			m, err := sub.NextMsg(5 * time.Second)
			if err != nil {
				t.Fatalf("pack reply: %v (after %d lines)", err, len(lines))
			}
			if len(m.Data) == 0 {
				return lines
			}
			lines = append(lines, string(m.Data))
		}
	}
	lines := pack(nil)
	want := map[string]string{a.Pub: a.JWT, op.System.Pub: op.System.JWT}
	if len(lines) != len(want) {
		t.Fatalf("pack = %d lines, want %d", len(lines), len(want))
	}
	var hash [sha256.Size]byte
	for _, l := range lines {
		pub, tok, ok := strings.Cut(l, "|")
		if !ok || want[pub] != tok {
			t.Fatalf("pack line %.40q is not <pub>|<stored jwt>", l)
		}
		sum := sha256.Sum256([]byte(tok))
		for i := range sum {
			hash[i] ^= sum[i]
		}
	}
	if again := pack(hash[:]); len(again) != 0 {
		t.Fatalf("pack with a matching hash sent %d lines, want none", len(again))
	}
}
