package livetest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/natsauth/natsauth/authority"
)

// asyncErrs collects a connection's asynchronous errors (-ERR from the server).
func asyncErrs() (nats.Option, <-chan error) {
	ch := make(chan error, 16)
	return nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		select {
		case ch <- err:
		default:
		}
	}), ch
}

func waitErr(t *testing.T, ch <-chan error, phrase string) {
	t.Helper()
	select {
	case err := <-ch:
		if !strings.Contains(strings.ToLower(err.Error()), phrase) {
			t.Errorf("async error %q, want %q", err, phrase)
		}
	case <-time.After(3 * time.Second):
		t.Errorf("no async error %q", phrase)
	}
}

func TestUserLimitsConnTypesAndTimeWindows(t *testing.T) {
	h := newHome(t)
	ok(t)(h.AddAccount("A", authority.AccountEdit{}))
	ok(t)(h.AddUser("A", "limited", authority.UserEdit{Subs: authority.Int64(2), Payload: authority.Int64(100), Data: authority.Int64(1000)}))
	ok(t)(h.AddUser("A", "ws", authority.UserEdit{ConnTypes: []string{"websocket"}}))
	ok(t)(h.AddUser("A", "tcp", authority.UserEdit{ConnTypes: []string{"STANDARD", "WEBSOCKET"}}))
	now := time.Now().UTC()
	hm := func(d time.Duration) string { return now.Add(d).Format("15:04:05") }
	ok(t)(h.AddUser("A", "closed", authority.UserEdit{Times: []string{hm(2*time.Hour) + "-" + hm(3*time.Hour)}, Locale: authority.String("UTC")}))
	ok(t)(h.AddUser("A", "open", authority.UserEdit{Times: []string{hm(-time.Hour) + "-" + hm(time.Hour)}, Locale: authority.String("UTC")}))
	e := serve(t, h)

	opt, errs := asyncErrs()
	nc := e.connect("A", "limited", opt)
	for i := 0; i < 2; i++ {
		ok(t)(nc.SubscribeSync("s.>"))
	}
	noErr(t, nc.Flush())
	ok(t)(nc.SubscribeSync("third"))
	_ = nc.Flush()
	waitErr(t, errs, "maximum subscriptions exceeded")
	// Over the user's payload limit the server closes the connection — or,
	// when an INFO of the server has already told the client the user's
	// limit, the client refuses the message itself.
	closed := make(chan struct{})
	pc := e.connect("A", "limited", nats.ClosedHandler(func(*nats.Conn) { close(closed) }))
	if err := pc.Publish("p", make([]byte, 200)); errors.Is(err, nats.ErrMaxPayload) {
		if got := pc.MaxPayload(); got != 100 {
			t.Errorf("the client refused 200 bytes with a max payload of %d, want the user's 100", got)
		}
	} else {
		_ = pc.Flush()
		select {
		case <-closed:
			if err := pc.LastError(); err == nil || !strings.Contains(strings.ToLower(err.Error()), "payload") {
				t.Errorf("closed with %v, want a payload violation", err)
			}
		case <-time.After(3 * time.Second):
			t.Errorf("a 200-byte message from a user limited to 100 bytes did not close the connection")
		}
	}
	noErr(t, e.connect("A", "limited").Publish("p", make([]byte, 100)))

	// Connection types: a websocket-only user cannot connect over TCP.
	if _, err := e.dial("A", "ws"); err == nil || !strings.Contains(strings.ToLower(err.Error()), "authorization") {
		t.Errorf("websocket-only user over TCP: %v, want an authorization violation", err)
	}
	e.connect("A", "tcp")

	// Connect-time windows.
	if _, err := e.dial("A", "closed"); err == nil {
		t.Errorf("user connected outside its time window")
	}
	e.connect("A", "open")
	// Removing the window re-issues the user's creds, which connect.
	ok(t)(h.EditUser("A", "closed", authority.UserEdit{RemoveTimes: []string{hm(2 * time.Hour)}}))
	e.connect("A", "closed")
}

func TestBearerRefusedWhenAccountDisallowsIt(t *testing.T) {
	h := newHome(t)
	a := get[*authority.AccountInfo](t)(h.AddAccount("A", authority.AccountEdit{}))
	nb := get[*authority.AccountInfo](t)(h.AddAccount("NB", authority.AccountEdit{DisallowBearer: authority.Bool(true)}))
	// natsauth refuses to issue a bearer user for NB.
	if _, err := h.AddUser("NB", "b", authority.UserEdit{Bearer: authority.Bool(true)}); !errors.Is(err, authority.ErrInvalid) {
		t.Fatalf("bearer user in NB: %v", err)
	}
	e := serve(t, h)
	// A bearer JWT issued elsewhere with the account key, presented without
	// a nonce signature.
	bearer := func(acc *authority.AccountInfo) nats.Option {
		kp := get[nkeys.KeyPair](t)(h.AccountSigner(acc.Pub))
		ukp := get[nkeys.KeyPair](t)(nkeys.CreateUser())
		uc := jwt.NewUserClaims(get[string](t)(ukp.PublicKey()))
		uc.BearerToken = true
		tok := get[string](t)(uc.Encode(kp))
		return nats.UserJWT(func() (string, error) { return tok, nil }, func([]byte) ([]byte, error) { return nil, nil })
	}
	nc, err := nats.Connect(e.url, bearer(a), nats.MaxReconnects(0))
	if err != nil {
		t.Fatalf("bearer user of A: %v", err)
	}
	nc.Close()
	if nc, err := nats.Connect(e.url, bearer(nb), nats.MaxReconnects(0)); err == nil {
		nc.Close()
		t.Errorf("bearer user of NB connected")
	}
	// Turning it on for A refuses A's bearer users from then on.
	e.publish(get[*authority.AccountInfo](t)(h.EditAccount("A", authority.AccountEdit{DisallowBearer: authority.Bool(true)})))
	within(t, 2*time.Second, "A refuses bearer users", func() bool {
		nc, err := nats.Connect(e.url, bearer(a), nats.MaxReconnects(0))
		if err == nil {
			nc.Close()
		}
		return err != nil
	})
}

func TestDefaultPermissions(t *testing.T) {
	h := newHome(t)
	ok(t)(h.AddAccount("A", authority.AccountEdit{DefaultPermissions: authority.PermissionEdit{
		AllowPub: []string{"ok.>"}, AllowSub: []string{"ok.>", "_INBOX.>"}}}))
	ok(t)(h.AddUser("A", "plain", authority.UserEdit{}))
	ok(t)(h.AddUser("A", "admin", authority.UserEdit{AllowPubSub: []string{">"}}))
	e := serve(t, h)
	admin := e.connect("A", "admin")
	sub := get[*nats.Subscription](t)(admin.SubscribeSync(">"))
	noErr(t, admin.Flush())
	opt, errs := asyncErrs()
	plain := e.connect("A", "plain", opt)
	noErr(t, plain.Publish("no.x", []byte("denied")))
	noErr(t, plain.Publish("ok.x", []byte("allowed")))
	noErr(t, plain.Flush())
	waitErr(t, errs, "permissions violation")
	m := get[*nats.Msg](t)(sub.NextMsg(2 * time.Second))
	if m.Subject != "ok.x" {
		t.Errorf("admin saw %s first, want ok.x (no.x is denied by the default permissions)", m.Subject)
	}
}

func TestJetStreamTierLimits(t *testing.T) {
	h := newHome(t)
	ok(t)(h.AddAccount("A", authority.AccountEdit{JSTier: authority.Int(1), JSDiskStorage: authority.Int64(1 << 20),
		JSMemStorage: authority.Int64(1 << 20), JSStreams: authority.Int64(1), JSMaxBytesRequired: authority.Bool(true),
		JSMaxMemStream: authority.Int64(4096)}))
	ok(t)(h.AddUser("A", "u", authority.UserEdit{}))
	e := serve(t, h)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	js := get[jetstream.JetStream](t)(jetstream.New(e.connect("A", "u")))
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "NOMAX", Subjects: []string{"n"}, Storage: jetstream.MemoryStorage}); err == nil {
		t.Errorf("stream without max bytes created; the tier requires them")
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "BIG", Subjects: []string{"b"}, Storage: jetstream.MemoryStorage, MaxBytes: 8192}); err == nil {
		t.Errorf("memory stream of 8192 bytes created; the tier allows 4096")
	}
	ok(t)(js.CreateStream(ctx, jetstream.StreamConfig{Name: "S1", Subjects: []string{"s1"}, Storage: jetstream.MemoryStorage, MaxBytes: 4096}))
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "S2", Subjects: []string{"s2"}, Storage: jetstream.MemoryStorage, MaxBytes: 1024}); err == nil {
		t.Errorf("second stream created; the tier allows one")
	}
	// Raising the tier's stream limit live lets the second one in.
	e.publish(get[*authority.AccountInfo](t)(h.EditAccount("A", authority.AccountEdit{JSTier: authority.Int(1), JSStreams: authority.Int64(2)})))
	within(t, 5*time.Second, "second stream allowed", func() bool {
		_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "S2", Subjects: []string{"s2"}, Storage: jetstream.MemoryStorage, MaxBytes: 1024})
		return err == nil
	})
}

func TestAccountExpiry(t *testing.T) {
	h := newHome(t)
	exp := time.Now().Add(2 * time.Second)
	ok(t)(h.AddAccount("A", authority.AccountEdit{Expires: &exp}))
	ok(t)(h.AddUser("A", "u", authority.UserEdit{}))
	e := serve(t, h)
	closed := make(chan struct{})
	e.connect("A", "u", nats.ClosedHandler(func(*nats.Conn) { close(closed) }),
		nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}))
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("connection of an expired account still open")
	}
	if _, err := e.dial("A", "u"); err == nil {
		t.Errorf("user of an expired account connected")
	}
}
