package storetest

import (
	"errors"
	"fmt"

	"github.com/nats-io/jwt/v2"

	"github.com/natsauth/natsauth/audit"
	"github.com/natsauth/natsauth/store"
)

// testAudit checks that a writable backend keeps an audit log and that the
// validated store records every write in it — with the actor of the
// context, the signer and the old and new jti — and nothing that did not
// change the store.
func testAudit(e *env) {
	log := store.AuditLog(e.w)
	if log == nil {
		e.t.Fatalf("%s keeps no audit log (store.Auditor)", e.b.Name)
	}
	ctx := audit.WithActor(e.ctx, audit.Actor{Via: audit.ViaHTTP, Remote: "192.0.2.7:5555"})
	acc := e.op.NewAccount(e.t, "Audited", nil)
	first := claimsOf(e, acc.JWT)
	if _, err := e.w.Put(ctx, acc.Pub, acc.JWT); err != nil {
		e.t.Fatal(err)
	}
	// Neither the same JWT again, a stale one nor an invalid one is a write.
	if _, err := e.w.Put(ctx, acc.Pub, acc.JWT); err != nil {
		e.t.Fatal(err)
	}
	next := acc.Reissue(e.t, first.IssuedAt+10, nil)
	second := claimsOf(e, next)
	if _, err := e.w.Put(ctx, acc.Pub, next); err != nil {
		e.t.Fatal(err)
	}
	stale := acc.Reissue(e.t, first.IssuedAt+5, nil)
	if _, err := e.w.Put(ctx, acc.Pub, stale); !errors.Is(err, store.ErrStale) {
		e.t.Fatalf("stale put: err = %v", err)
	}
	if _, err := e.w.Put(ctx, acc.Pub, "not a jwt"); err == nil {
		e.t.Fatal("garbage put accepted")
	}
	if err := e.w.Delete(e.ctx, acc.Pub); err != nil { // no actor: this process
		e.t.Fatal(err)
	}
	if err := e.w.Delete(e.ctx, acc.Pub); !errors.Is(err, store.ErrNotFound) {
		e.t.Fatalf("second delete: err = %v", err)
	}

	got, err := log.Read(e.ctx, audit.Query{Account: acc.Pub})
	if err != nil {
		e.t.Fatal(err)
	}
	want := []audit.Entry{
		{Action: audit.ActionStorePut, NewJTI: first.ID, Detail: "created", Via: audit.ViaHTTP, Remote: "192.0.2.7:5555", Signer: first.Issuer},
		{Action: audit.ActionStorePut, OldJTI: first.ID, NewJTI: second.ID, Detail: "updated", Via: audit.ViaHTTP, Remote: "192.0.2.7:5555", Signer: second.Issuer},
		{Action: audit.ActionStoreDelete, OldJTI: second.ID, Via: audit.ViaLocal},
	}
	if len(got) != len(want) {
		e.t.Fatalf("audit log has %d entries for the account, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.Action != w.Action || g.OldJTI != w.OldJTI || g.NewJTI != w.NewJTI || g.Detail != w.Detail ||
			g.Via != w.Via || g.Remote != w.Remote || g.Signer != w.Signer {
			e.t.Errorf("entry %d = %+v\nwant %+v", i, g, w)
		}
		if g.Account != acc.Pub || g.AccountName != "Audited" || g.OSUser == "" || g.Time.IsZero() {
			e.t.Errorf("entry %d lacks account, name, OS user or time: %+v", i, g)
		}
	}
	// Selecting by name works as by key.
	if byName, err := log.Read(e.ctx, audit.Query{Account: "Audited"}); err != nil || len(byName) != len(want) {
		e.t.Errorf("by name: %d entries, %v; want %d", len(byName), err, len(want))
	}
	if later, err := log.Read(e.ctx, audit.Query{Since: got[len(got)-1].Time.Add(1e9)}); err != nil || len(later) != 0 {
		e.t.Errorf("since after the last entry: %+v, %v", later, err)
	}
	// A shared backend's other instances read the same log.
	if e.b.Shared {
		other := store.AuditLog(e.openStore(e.t))
		again, err := other.Read(e.ctx, audit.Query{Account: acc.Pub})
		if err != nil || len(again) != len(want) {
			e.t.Errorf("another instance reads %d entries, %v; want %d", len(again), err, len(want))
		}
	}
	// Authority changes are appended directly.
	if err := log.Append(e.ctx, audit.Attribute(e.ctx, audit.Entry{Action: audit.ActionAddUser, Account: acc.Pub, UserName: "alice"})); err != nil {
		e.t.Fatal(err)
	}
	all, _ := log.Read(e.ctx, audit.Query{})
	if last := all[len(all)-1]; last.Action != audit.ActionAddUser || last.UserName != "alice" {
		e.t.Errorf("appended entry read back as %+v", last)
	}
	// A change's entries are appended together (in one transaction where
	// the log is a Batcher) and read back in order.
	batch := make([]audit.Entry, 50)
	for i := range batch {
		batch[i] = audit.Attribute(e.ctx, audit.Entry{Action: audit.ActionAddUser, Account: acc.Pub, UserName: fmt.Sprintf("b%02d", i)})
	}
	if err := audit.AppendAll(e.ctx, log, batch); err != nil {
		e.t.Fatal(err)
	}
	all, _ = log.Read(e.ctx, audit.Query{})
	if len(all) < len(batch) {
		e.t.Fatalf("after a batch of %d the log has %d entries", len(batch), len(all))
	}
	for i, g := range all[len(all)-len(batch):] {
		if g.UserName != batch[i].UserName || g.Action != audit.ActionAddUser {
			e.t.Errorf("batched entry %d read back as %+v, want user %s", i, g, batch[i].UserName)
		}
	}
}

func claimsOf(e *env, token string) *jwt.AccountClaims {
	e.t.Helper()
	ac, err := jwt.DecodeAccountClaims(token)
	if err != nil {
		e.t.Fatal(err)
	}
	return ac
}
