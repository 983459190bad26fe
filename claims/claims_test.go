package claims_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"

	"github.com/natsauth/natsauth/claims"
	"github.com/natsauth/natsauth/internal/testkit"
)

const wait = time.Second

// A stock full resolver accepts a push, answers lookups and lists, and
// deletes on an operator-signed request; a user of the pushed account can
// connect until the account is deleted.
func TestStockFullResolver(t *testing.T) {
	ctx := context.Background()
	op := testkit.NewOperator(t)
	acc := op.NewAccount(t, "A", nil)
	alice := acc.NewUser(t, "alice", nil)
	s := startStock(t, op, fullResolver(op), "")
	c := claims.NewClient(sysConn(t, op, s), wait)

	replies, err := c.Update(ctx, acc.JWT)
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	if len(replies) != 1 || !replies[0].OK() || replies[0].Account != acc.Pub || replies[0].Server.ID != s.ID() {
		t.Fatalf("update replies = %+v, want one OK from %s", replies, s.ID())
	}
	if replies[0].Message != "jwt updated" || replies[0].Code != 200 {
		t.Errorf("update reply = %d %q, want 200 \"jwt updated\"", replies[0].Code, replies[0].Message)
	}
	nc, err := nats.Connect(s.ClientURL(), nats.UserCredentials(alice.CredsFile(t)))
	if err != nil {
		t.Fatalf("alice after push: %v", err)
	}
	nc.Close()

	got, err := c.Lookup(ctx, acc.Pub)
	if err != nil || len(got) != 1 || got[0] != acc.JWT {
		t.Fatalf("lookup = %d answers, %v; want the pushed JWT", len(got), err)
	}
	other := op.NewAccount(t, "B", nil)
	got, err = c.Lookup(ctx, other.Pub)
	if err != nil || len(got) != 1 || got[0] != "" {
		t.Fatalf("lookup of an unknown account = %q, %v; want one empty answer", got, err)
	}

	lists, err := c.List(ctx)
	if err != nil || len(lists) != 1 {
		t.Fatalf("list = %+v, %v", lists, err)
	}
	if !slices.Contains(lists[0].Accounts, acc.Pub) || lists[0].Server.ID != s.ID() {
		t.Errorf("list = %+v, want %s from %s", lists[0], acc.Pub, s.ID())
	}

	// Deletes must be signed by a key of the server's operator.
	notOp := op.NewAccount(t, "X", nil).KP
	if _, err := claims.DeleteRequest(notOp, []string{acc.Pub}); err == nil {
		t.Error("DeleteRequest signed by an account key: no error")
	}
	foreign := testkit.NewOperator(t)
	req, err := claims.DeleteRequest(foreign.SigningKP, []string{acc.Pub})
	if err != nil {
		t.Fatal(err)
	}
	replies, err = c.Delete(ctx, req)
	if err != nil || len(replies) != 1 || replies[0].OK() || !strings.Contains(replies[0].Message, "not trusted") {
		t.Fatalf("delete by a foreign operator = %+v, %v; want one refusal \"not trusted\"", replies, err)
	}

	req, err = claims.DeleteRequest(op.SigningKP, []string{acc.Pub})
	if err != nil {
		t.Fatal(err)
	}
	replies, err = c.Delete(ctx, req)
	if err != nil || len(replies) != 1 || !replies[0].OK() {
		t.Fatalf("delete = %+v, %v; want one OK", replies, err)
	}
	if _, err := nats.Connect(s.ClientURL(), nats.UserCredentials(alice.CredsFile(t))); err == nil {
		t.Fatal("alice connected after her account was deleted")
	}
}

// Every server of a cluster answers, and the client reports each.
func TestEveryServerOfAClusterAnswers(t *testing.T) {
	ctx := context.Background()
	op := testkit.NewOperator(t)
	acc := op.NewAccount(t, "A", nil)
	a := startStock(t, op, fullResolver(op), `cluster { name: c, listen: "127.0.0.1:-1" }`)
	b := startStock(t, op, fullResolver(op),
		`cluster { name: c, listen: "127.0.0.1:-1", routes: ["nats://`+a.ClusterAddr().String()+`"] }`)
	c := claims.NewClient(sysConn(t, op, a), wait)
	deadline := time.Now().Add(20 * time.Second)
	for {
		lists, err := c.List(ctx)
		if err == nil && len(lists) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cluster never formed: list = %+v, %v", lists, err)
		}
	}
	replies, err := c.Update(ctx, acc.JWT)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range replies {
		if !r.OK() {
			t.Errorf("refused: %+v", r)
		}
		ids = append(ids, r.Server.ID)
	}
	slices.Sort(ids)
	want := []string{a.ID(), b.ID()}
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Fatalf("answers from %v, want %v", ids, want)
	}
	looked, err := c.Lookup(ctx, acc.Pub)
	if err != nil || len(looked) != 2 || looked[0] != acc.JWT || looked[1] != acc.JWT {
		t.Fatalf("lookup = %d answers, %v; want the JWT from both", len(looked), err)
	}
}

// A server whose resolver does not answer the protocol (memory) yields
// ErrNoResponders (from the server's no-responders status) rather than
// ErrNoAnswer after the window.
func TestNoResponders(t *testing.T) {
	op := testkit.NewOperator(t)
	s := startStock(t, op, "resolver: MEMORY\nresolver_preload: { "+op.System.Pub+": "+`"`+op.System.JWT+`"`+" }", "")
	c := claims.NewClient(sysConn(t, op, s), 30*time.Second)
	_, err := c.Update(context.Background(), op.NewAccount(t, "A", nil).JWT)
	if !errors.Is(err, claims.ErrNoResponders) {
		t.Fatalf("update = %v, want ErrNoResponders", err)
	}
}

// A refused push comes back as a failed reply with the server's reason.
func TestRefusedUpdate(t *testing.T) {
	op := testkit.NewOperator(t)
	s := startStock(t, op, fullResolver(op), "")
	c := claims.NewClient(sysConn(t, op, s), wait)
	replies, err := c.Update(context.Background(), "garbage")
	if err != nil || len(replies) != 1 || replies[0].OK() || !strings.Contains(replies[0].Message, "jwt update resulted in error") {
		t.Fatalf("update of garbage = %+v, %v; want one refusal", replies, err)
	}
}

func TestDeleteRequestShape(t *testing.T) {
	op := testkit.NewOperator(t)
	acc := op.NewAccount(t, "A", nil)
	req, err := claims.DeleteRequest(op.SigningKP, []string{acc.Pub})
	if err != nil {
		t.Fatal(err)
	}
	gc, err := jwt.DecodeGeneric(req)
	if err != nil {
		t.Fatal(err)
	}
	spk, _ := op.SigningKP.PublicKey()
	if gc.Issuer != spk || gc.Subject != spk {
		t.Errorf("issuer %s subject %s, want both %s (self-signed by the operator key)", gc.Issuer, gc.Subject, spk)
	}
	list, _ := gc.Data["accounts"].([]any)
	if len(list) != 1 || list[0] != acc.Pub {
		t.Errorf("data.accounts = %v", gc.Data["accounts"])
	}
	for _, bad := range [][]string{nil, {"not-a-key"}, {op.Pub}} {
		if _, err := claims.DeleteRequest(op.SigningKP, bad); err == nil {
			t.Errorf("DeleteRequest(%v): no error", bad)
		}
	}
}
