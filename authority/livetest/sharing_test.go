package livetest

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"

	"github.com/natsauth/natsauth/authority"
)

// sharing builds accounts A (exporter), B and C (importers) with one user
// each, plus the exports and imports of the test.
func sharing(t *testing.T) *authority.Home {
	t.Helper()
	h := newHome(t)
	for _, n := range []string{"A", "B", "C"} {
		ok(t)(h.AddAccount(n, authority.AccountEdit{}))
		ok(t)(h.AddUser(n, "u", authority.UserEdit{}))
	}
	return h
}

func TestServiceImportWithRemapping(t *testing.T) {
	h := sharing(t)
	ok(t)(h.AddExport("A", authority.ExportSpec{Subject: "time.>", Service: true}))
	ok(t)(h.AddImport("B", authority.ImportSpec{Account: "A", Subject: "time.>", LocalSubject: "a.time.>", Service: true}))
	e := serve(t, h)
	a := e.connect("A", "u")
	sub := get[*nats.Subscription](t)(a.Subscribe("time.>", func(m *nats.Msg) { _ = m.Respond([]byte("A answers " + m.Subject)) }))
	defer sub.Unsubscribe()
	noErr(t, a.Flush())
	b := e.connect("B", "u")
	got := get[*nats.Msg](t)(b.Request("a.time.utc", nil, 2*time.Second))
	if string(got.Data) != "A answers time.utc" {
		t.Errorf("reply %q, want the exporter's subject time.utc", got.Data)
	}
	// The unmapped subject is not imported.
	if _, err := b.Request("time.utc", nil, 300*time.Millisecond); !errors.Is(err, nats.ErrNoResponders) && !errors.Is(err, nats.ErrTimeout) {
		t.Errorf("request on the remote subject from B: %v, want no responders", err)
	}
	// C imports nothing.
	c := e.connect("C", "u")
	if _, err := c.Request("a.time.utc", nil, 300*time.Millisecond); err == nil {
		t.Errorf("C reached A's service without an import")
	}
}

func TestStreamImportsPublicPrivateRevokedAndRemoved(t *testing.T) {
	h := sharing(t)
	ok(t)(h.AddExport("A", authority.ExportSpec{Subject: "feed.pub.>"}))
	ok(t)(h.AddExport("A", authority.ExportSpec{Subject: "feed.priv.>", Private: true}))
	ok(t)(h.AddImport("B", authority.ImportSpec{Account: "A", Subject: "feed.pub.>", LocalSubject: "from.a.>"}))
	act := get[*authority.Activation](t)(h.GenerateActivation("A", authority.ActivationSpec{Target: "C", Subject: "feed.priv.>"}))
	// Without the token the private import is refused before anything is written.
	if _, err := h.AddImport("C", authority.ImportSpec{Account: "A", Subject: "feed.priv.>"}); !errors.Is(err, authority.ErrInvalid) {
		t.Fatalf("private import without token: %v", err)
	}
	ok(t)(h.AddImport("C", authority.ImportSpec{Token: act.Token}))
	e := serve(t, h)
	a := e.connect("A", "u")
	bnc, cnc := e.connect("B", "u"), e.connect("C", "u")
	bsub := get[*nats.Subscription](t)(bnc.SubscribeSync("from.a.>"))
	csub := get[*nats.Subscription](t)(cnc.SubscribeSync("feed.priv.>"))
	noErr(t, bnc.Flush())
	noErr(t, cnc.Flush())
	noErr(t, a.Publish("feed.pub.x", []byte("public")))
	noErr(t, a.Publish("feed.priv.x", []byte("private")))
	m := get[*nats.Msg](t)(bsub.NextMsg(2 * time.Second))
	if m.Subject != "from.a.x" || string(m.Data) != "public" {
		t.Errorf("B got %s %q, want from.a.x public", m.Subject, m.Data)
	}
	if m := get[*nats.Msg](t)(csub.NextMsg(2 * time.Second)); string(m.Data) != "private" {
		t.Errorf("C got %q", m.Data)
	}

	// Revoking C's activation stops delivery on the running server within a second.
	time.Sleep(time.Until(time.Unix(act.Claims.IssuedAt+1, 0))) // a revocation covers tokens issued at or before it
	e.publish(get[*authority.AccountInfo](t)(h.RevokeActivation("A", "feed.priv.>", "C", time.Time{})))
	within(t, time.Second, "revoked activation stops delivery", func() bool {
		drain(csub)
		_ = a.Publish("feed.priv.x", []byte("after revoke"))
		return !receives(csub, 50*time.Millisecond)
	})
	// B's public import is untouched.
	drain(bsub)
	noErr(t, a.Publish("feed.pub.y", []byte("still")))
	if !receives(bsub, 2*time.Second) {
		t.Fatal("B's public import stopped with C's revocation")
	}

	// Removing the export breaks the importer.
	info, importers := must2(t)(h.DeleteExport("A", "feed.pub.>"))
	if len(importers) != 1 || importers[0] != "B" {
		t.Errorf("importers = %v, want [B]", importers)
	}
	e.publish(info)
	within(t, 2*time.Second, "removed export stops delivery to B", func() bool {
		drain(bsub)
		_ = a.Publish("feed.pub.z", []byte("gone"))
		return !receives(bsub, 50*time.Millisecond)
	})
}

// must2 adapts a three-result call.
func must2(t *testing.T) func(*authority.AccountInfo, []string, error) (*authority.AccountInfo, []string) {
	return func(a *authority.AccountInfo, s []string, err error) (*authority.AccountInfo, []string) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return a, s
	}
}

// replies sends one request from nc to subject, with an inbox of its own,
// and counts the replies that arrive within wait.
func replies(t *testing.T, nc *nats.Conn, subject string, wait time.Duration) int {
	t.Helper()
	inbox := nats.NewInbox()
	sub := get[*nats.Subscription](t)(nc.SubscribeSync(inbox))
	defer sub.Unsubscribe()
	noErr(t, nc.PublishRequest(subject, inbox, nil))
	n := 0
	for receives(sub, wait) {
		n++
	}
	return n
}

// Response types and thresholds behave as nats-server documents: a
// Singleton service import carries one response, a Stream one all of them;
// a response later than the threshold is dropped.
func TestResponseTypesAndThreshold(t *testing.T) {
	h := sharing(t)
	for _, s := range []authority.ExportSpec{
		{Subject: "one", Service: true, ResponseType: jwt.ResponseTypeSingleton},
		{Subject: "many", Service: true, ResponseType: jwt.ResponseTypeStream},
		{Subject: "chunks", Service: true, ResponseType: jwt.ResponseTypeChunked},
		{Subject: "slow.strict", Service: true, ResponseThreshold: 100 * time.Millisecond},
		{Subject: "slow.lenient", Service: true, ResponseThreshold: 10 * time.Second},
	} {
		ok(t)(h.AddExport("A", s))
		ok(t)(h.AddImport("B", authority.ImportSpec{Account: "A", Subject: s.Subject, Service: true}))
	}
	e := serve(t, h)
	a := e.connect("A", "u")
	for _, subj := range []string{"one", "many", "chunks"} {
		ok(t)(a.Subscribe(subj, func(m *nats.Msg) {
			for i := 0; i < 3; i++ {
				_ = m.Respond([]byte{byte(i)})
			}
		}))
	}
	for _, subj := range []string{"slow.strict", "slow.lenient"} {
		ok(t)(a.Subscribe(subj, func(m *nats.Msg) {
			go func() { time.Sleep(time.Second); _ = m.Respond([]byte("late")) }()
		}))
	}
	noErr(t, a.Flush())
	b := e.connect("B", "u")
	if n := replies(t, b, "one", 500*time.Millisecond); n != 1 {
		t.Errorf("Singleton: %d replies, want 1", n)
	}
	if n := replies(t, b, "many", 500*time.Millisecond); n != 3 {
		t.Errorf("Stream: %d replies, want 3", n)
	}
	if n := replies(t, b, "chunks", 500*time.Millisecond); n != 3 {
		t.Errorf("Chunked: %d replies, want 3", n)
	}
	if n := replies(t, b, "slow.lenient", 3*time.Second); n != 1 {
		t.Errorf("late reply within a 10s threshold: %d replies, want 1", n)
	}
	if n := replies(t, b, "slow.strict", 3*time.Second); n != 0 {
		t.Errorf("late reply past a 100ms threshold: %d replies, want 0", n)
	}
}

func TestLatencySamplesArrive(t *testing.T) {
	h := sharing(t)
	ok(t)(h.AddExport("A", authority.ExportSpec{Subject: "svc", Service: true, LatencySubject: "latency.svc", LatencySampling: "100"}))
	ok(t)(h.AddImport("B", authority.ImportSpec{Account: "A", Subject: "svc", Service: true, Share: true}))
	e := serve(t, h)
	a := e.connect("A", "u")
	lat := get[*nats.Subscription](t)(a.SubscribeSync("latency.svc"))
	ok(t)(a.Subscribe("svc", func(m *nats.Msg) { _ = m.Respond([]byte("ok")) }))
	noErr(t, a.Flush())
	b := e.connect("B", "u")
	ok(t)(b.Request("svc", nil, 2*time.Second))
	m := get[*nats.Msg](t)(lat.NextMsg(3 * time.Second))
	var sample struct {
		Type      string          `json:"type"`
		Requestor json.RawMessage `json:"requestor"`
		Total     time.Duration   `json:"total"`
	}
	if err := json.Unmarshal(m.Data, &sample); err != nil {
		t.Fatalf("latency sample %q: %v", m.Data, err)
	}
	if sample.Type != "io.nats.server.metric.v1.service_latency" || sample.Total <= 0 || len(sample.Requestor) == 0 {
		t.Errorf("latency sample = %s", m.Data)
	}
}
