package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsauth/natsauth/internal/testkit"
)

// sharingHome is a home with accounts A (the exporter), B and C, a user u
// without permissions (everything allowed) in each, and serve running.
func sharingHome(t *testing.T, serveArgs ...string) (*e2eHome, *e2eServer) {
	t.Helper()
	h := newE2EHome(t)
	for _, acc := range []string{"A", "B", "C"} {
		h.must("add", "account", "-n", acc)
		h.must("add", "user", "-n", "u", "-a", acc)
	}
	return h, h.serve(serveArgs...)
}

// applied runs a change that must succeed and checks it returned only
// after the running serve applied the account.
func (h *e2eHome) applied(account string, args ...string) string {
	h.t.Helper()
	out := h.must(args...)
	if !strings.Contains(out, "applied account "+account+" on ") {
		h.t.Fatalf("natsauth %s: no acknowledgement from serve for account %s:\n%s", strings.Join(args, " "), account, out)
	}
	return out
}

// Service and stream sharing through the CLI while serve runs, each
// change asserted right after its command returned: a service import with
// subject remapping, a private stream import with an activation token
// from a file, revoking that activation, and deleting a public export.
func TestE2ESharing(t *testing.T) {
	t.Parallel()
	h, s := sharingHome(t)
	a, b, c := s.connect(t, "A", "u"), s.connect(t, "B", "u"), s.connect(t, "C", "u")

	t.Run("service_import_with_remapping", func(t *testing.T) {
		h.applied("A", "add", "export", "-a", "A", "-s", "time.>", "--service", "--latency", "latency.time", "--sampling", "100")
		h.applied("B", "add", "import", "-a", "B", "--src-account", "A", "--remote-subject", "time.>",
			"-s", "a.time.>", "--service", "--share")
		lat, err := a.SubscribeSync("latency.time")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.Subscribe("time.>", func(m *nats.Msg) { _ = m.Respond([]byte("A answers " + m.Subject)) }); err != nil {
			t.Fatal(err)
		}
		a.flush(t)
		m, err := b.Request("a.time.utc", nil, 2*time.Second)
		if err != nil || string(m.Data) != "A answers time.utc" {
			t.Fatalf("B's request on a.time.utc: %v %q, want the exporter's answer on time.utc", err, msgData(m))
		}
		if _, err := b.Request("time.utc", nil, 200*time.Millisecond); err == nil {
			t.Errorf("B reached the service on the unmapped subject")
		}
		if _, err := c.Request("a.time.utc", nil, 200*time.Millisecond); err == nil {
			t.Errorf("C reached A's service without an import")
		}
		if got := receive(t, lat); !strings.Contains(got, "service_latency") {
			t.Errorf("latency sample = %s", got)
		}
	})

	t.Run("service_response_type_stream", func(t *testing.T) {
		h.applied("A", "add", "export", "-a", "A", "-s", "many", "--service", "--response-type", "Stream")
		h.applied("B", "add", "import", "-a", "B", "--src-account", "A", "--remote-subject", "many", "--service")
		if _, err := a.Subscribe("many", func(m *nats.Msg) {
			for i := range 3 {
				_ = m.Respond([]byte{byte('0' + i)})
			}
		}); err != nil {
			t.Fatal(err)
		}
		a.flush(t)
		inbox := nats.NewInbox()
		replies, err := b.SubscribeSync(inbox)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.PublishRequest("many", inbox, nil); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			if got := receive(t, replies); got != fmt.Sprint(i) {
				t.Fatalf("reply %d = %q", i, got)
			}
		}
	})

	tok := filepath.Join(t.TempDir(), "c-feed.jwt")
	t.Run("private_stream_import_with_token", func(t *testing.T) {
		h.applied("A", "add", "export", "-a", "A", "-s", "feed.priv.>", "--private")
		// Without a token the import is refused and the home is untouched.
		before := testkit.TreeHash(t, h.dir)
		_, _, err := h.run("add", "import", "-a", "C", "--src-account", "A", "--remote-subject", "feed.priv.>")
		if err == nil || !strings.Contains(err.Error(), "needs an activation token") {
			t.Fatalf("private import without a token: %v", err)
		}
		if testkit.TreeHash(t, h.dir) != before {
			t.Fatal("a refused import changed the home")
		}
		out := h.must("generate", "activation", "-a", "A", "-t", "C", "-s", "feed.priv.>", "--expiry", "30d", "-o", tok)
		if !strings.Contains(out, "natsauth add import -a C -u "+tok) {
			t.Errorf("generate activation output:\n%s", out)
		}
		if fi, err := os.Stat(tok); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("token file: %v %v", fi, err)
		}
		// The token is C's: B cannot use it.
		if _, _, err := h.run("add", "import", "-a", "B", "-u", tok); err == nil || !strings.Contains(err.Error(), "not for B") {
			t.Errorf("B importing with C's token: %v", err)
		}
		h.applied("C", "add", "import", "-a", "C", "-u", tok, "-s", "c.feed.>")
		csub, err := c.SubscribeSync("c.feed.>")
		if err != nil {
			t.Fatal(err)
		}
		c.flush(t)
		if err := a.Publish("feed.priv.x", []byte("private")); err != nil {
			t.Fatal(err)
		}
		a.flush(t)
		m, err := csub.NextMsg(5 * time.Second)
		if err != nil || m.Subject != "c.feed.x" || string(m.Data) != "private" {
			t.Fatalf("C got %v %v, want private on c.feed.x", msgSubject(m), err)
		}

		// Revoking C's activation stops delivery as soon as the command returns.
		h.applied("A", "revocations", "add-activation", "-a", "A", "-s", "feed.priv.>", "-t", "C")
		if err := a.Publish("feed.priv.y", []byte("after revocation")); err != nil {
			t.Fatal(err)
		}
		a.flush(t)
		c.flush(t)
		nothing(t, csub)
		list := h.must("revocations", "list-activations", "-a", "A")
		if !strings.Contains(list, "feed.priv.>") || !strings.Contains(list, " C ") {
			t.Errorf("list-activations:\n%s", list)
		}
		imports := h.must("list", "imports")
		if !regexp.MustCompile(`(?m)^C .*feed\.priv\.>.*BROKEN: activation token .* is revoked`).MatchString(imports) {
			t.Errorf("list imports does not show C's revoked import:\n%s", imports)
		}
		h.applied("A", "revocations", "delete-activation", "-a", "A", "-s", "feed.priv.>", "-t", "C")
		if strings.Contains(h.must("revocations", "list-activations", "-a", "A"), "feed.priv.>") {
			t.Errorf("revocation still listed after delete-activation")
		}
		// Removing the revocation restores delivery, on the running server.
		if err := a.Publish("feed.priv.z", []byte("restored")); err != nil {
			t.Fatal(err)
		}
		a.flush(t)
		if m, err := csub.NextMsg(5 * time.Second); err != nil || m.Subject != "c.feed.z" {
			t.Fatalf("after delete-activation C got %v %v, want restored on c.feed.z", msgSubject(m), err)
		}
	})

	t.Run("delete_export_breaks_importer", func(t *testing.T) {
		h.applied("A", "add", "export", "-a", "A", "-s", "feed.pub.>")
		h.applied("B", "add", "import", "-a", "B", "--src-account", "A", "--remote-subject", "feed.pub.>", "-s", "from.a.>")
		bsub, err := b.SubscribeSync("from.a.>")
		if err != nil {
			t.Fatal(err)
		}
		b.flush(t)
		if err := a.Publish("feed.pub.1", []byte("public")); err != nil {
			t.Fatal(err)
		}
		if got := receive(t, bsub); got != "public" {
			t.Fatalf("B got %q", got)
		}
		out := h.applied("A", "delete", "export", "-a", "A", "-s", "feed.pub.>")
		if !strings.Contains(out, "lose it: [B]") {
			t.Errorf("delete export does not name the importer:\n%s", out)
		}
		if err := a.Publish("feed.pub.2", []byte("gone")); err != nil {
			t.Fatal(err)
		}
		a.flush(t)
		b.flush(t)
		nothing(t, bsub)
		if !strings.Contains(h.must("list", "imports"), "BROKEN: account A has no stream export covering") {
			t.Errorf("list imports does not show B's broken import")
		}
		h.applied("B", "delete", "import", "-a", "B", "-s", "feed.pub.>", "--src-account", "A")
	})
}

func msgData(m *nats.Msg) string {
	if m == nil {
		return ""
	}
	return string(m.Data)
}

func msgSubject(m *nats.Msg) string {
	if m == nil {
		return ""
	}
	return m.Subject
}

var apiPrefixRe = regexp.MustCompile(`JetStream API prefix for B's clients: (\S+)`)

// Cross-account JetStream through `add consumer-grant`: B pulls from and
// is pushed to by durable consumers of A's stream, acking every message;
// `delete consumer-grant` cuts B off as soon as it returns.
func TestE2EConsumerGrant(t *testing.T) {
	t.Parallel()
	h := newE2EHome(t)
	h.must("add", "account", "-n", "A", "--js-mem-storage", "64MB", "--js-disk-storage", "64MB")
	h.must("add", "account", "-n", "B")
	h.must("add", "user", "-n", "u", "-a", "A")
	h.must("add", "user", "-n", "u", "-a", "B")
	s := h.serve("--js")
	out := h.applied("B", "add", "consumer-grant", "-a", "A", "-t", "B", "--stream", "ORDERS", "--consumer", "pull")
	m := apiPrefixRe.FindStringSubmatch(out)
	if m == nil || m[1] != "JS.A.API" {
		t.Fatalf("add consumer-grant does not print the API prefix:\n%s", out)
	}
	prefix := m[1]
	h.applied("B", "add", "consumer-grant", "-a", "A", "-t", "B", "--stream", "ORDERS", "--consumer", "push", "--deliver-subject", "deliver.b.orders")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ajs, err := jetstream.New(s.connect(t, "A", "u").Conn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ajs.CreateStream(ctx, jetstream.StreamConfig{Name: "ORDERS", Subjects: []string{"orders.>"}, Storage: jetstream.MemoryStorage}); err != nil {
		t.Fatal(err)
	}
	if _, err := ajs.CreateOrUpdateConsumer(ctx, "ORDERS", jetstream.ConsumerConfig{Durable: "pull", AckPolicy: jetstream.AckExplicitPolicy}); err != nil {
		t.Fatal(err)
	}
	if _, err := ajs.CreateOrUpdateConsumer(ctx, "ORDERS", jetstream.ConsumerConfig{Durable: "push", AckPolicy: jetstream.AckExplicitPolicy,
		DeliverSubject: "deliver.b.orders", FlowControl: true, IdleHeartbeat: time.Second}); err != nil {
		t.Fatal(err)
	}
	const n = 5
	for i := range n {
		if _, err := ajs.Publish(ctx, fmt.Sprintf("orders.%d", i), []byte("order")); err != nil {
			t.Fatal(err)
		}
	}

	bjs, err := jetstream.NewWithAPIPrefix(s.connect(t, "B", "u").Conn, prefix)
	if err != nil {
		t.Fatal(err)
	}
	pull, err := bjs.Consumer(ctx, "ORDERS", "pull")
	if err != nil {
		t.Fatalf("B looks up the granted pull consumer: %v", err)
	}
	batch, err := pull.Fetch(n, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for msg := range batch.Messages() {
		if err := msg.DoubleAck(ctx); err != nil {
			t.Fatalf("ack: %v", err)
		}
		got++
	}
	if err := batch.Error(); err != nil || got != n {
		t.Fatalf("pulled %d of %d messages: %v", got, n, err)
	}

	push, err := bjs.PushConsumer(ctx, "ORDERS", "push")
	if err != nil {
		t.Fatalf("B looks up the granted push consumer: %v", err)
	}
	acked := make(chan struct{}, n)
	cc, err := push.Consume(func(msg jetstream.Msg) {
		if msg.DoubleAck(ctx) == nil {
			acked <- struct{}{}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		select {
		case <-acked:
		case <-ctx.Done():
			t.Fatalf("push: %d of %d messages acked", i, n)
		}
	}
	cc.Stop()
	for _, name := range []string{"pull", "push"} {
		within(t, 5*time.Second, name+" consumer fully acked in A", func() bool {
			var info *jetstream.ConsumerInfo
			if c, err := ajs.Consumer(ctx, "ORDERS", name); err == nil {
				info, err = c.Info(ctx)
			} else if pc, err := ajs.PushConsumer(ctx, "ORDERS", name); err == nil {
				info, err = pc.Info(ctx)
			}
			return info != nil && info.NumAckPending == 0 && info.AckFloor.Stream == n
		})
	}

	// Removing the pull grant cuts B off as soon as the command returns.
	h.applied("B", "delete", "consumer-grant", "-a", "A", "-t", "B", "--stream", "ORDERS", "--consumer", "pull")
	short, cancelShort := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancelShort()
	if _, err := bjs.Consumer(short, "ORDERS", "pull"); err == nil {
		t.Errorf("B still reaches the consumer after delete consumer-grant")
	} else if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, nats.ErrNoResponders) {
		t.Logf("B's lookup after the revocation: %v", err)
	}
}
