package node

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"

	"github.com/natsauth/natsauth/internal/testkit"
	_ "github.com/natsauth/natsauth/store/backends"
)

// fixture is an operator with one account and one user.
type fixture struct {
	op   *testkit.Operator
	acc  *testkit.Account
	user *testkit.User
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	op := testkit.NewOperator(t)
	acc := op.NewAccount(t, "A", func(ac *jwt.AccountClaims) {
		ac.Limits.JetStreamLimits.DiskStorage = 10 << 20
		ac.Limits.JetStreamLimits.MemoryStorage = 10 << 20
	})
	return fixture{op: op, acc: acc, user: acc.NewUser(t, "u", nil)}
}

func (f fixture) config(t *testing.T) Config {
	t.Helper()
	return Config{
		Flags:             ServerFlags{Host: "127.0.0.1", Port: -1},
		OperatorJWT:       f.op.JWT,
		SystemAccountName: "SYS",
		SystemSigner:      f.op.System.KP,
		StoreURL:          "mem://",
		Seed:              map[string]string{f.op.System.Pub: f.op.System.JWT, f.acc.Pub: f.acc.JWT},
	}
}

func startNode(t *testing.T, cfg Config) *Node {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	n, err := New(ctx, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { n.Close() })
	if err := n.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	return n
}

func connect(t *testing.T, url string, u *testkit.User) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, nats.UserJWTAndSeed(u.JWT, seedOf(t, u)), nats.MaxReconnects(0))
	if err != nil {
		t.Fatalf("connect %s: %v", u.Claims.Name, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func seedOf(t *testing.T, u *testkit.User) string {
	t.Helper()
	s, err := u.KP.Seed()
	if err != nil {
		t.Fatal(err)
	}
	return string(s)
}

func TestNodeAuthenticatesThroughStore(t *testing.T) {
	f := newFixture(t)
	n := startNode(t, f.config(t))
	nc := connect(t, n.ClientURL(), f.user)
	sub, err := nc.SubscribeSync("orders.>")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Publish("orders.new", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := sub.NextMsg(2 * time.Second); err != nil {
		t.Fatalf("message not delivered: %v", err)
	}
	// An account the store does not know is refused.
	other := f.op.NewAccount(t, "B", nil).NewUser(t, "stranger", nil)
	if _, err := nats.Connect(n.ClientURL(), nats.UserJWTAndSeed(other.JWT, seedOf(t, other)), nats.MaxReconnects(0)); err == nil {
		t.Fatal("user of an unknown account connected")
	}
}

func TestNodeJetStreamInDefaultDir(t *testing.T) {
	f := newFixture(t)
	cfg := f.config(t)
	cfg.Flags.JetStream = true
	cfg.DefaultJetStreamDir = filepath.Join(t.TempDir(), "js")
	n := startNode(t, cfg)
	nc := connect(t, n.ClientURL(), f.user)
	js, err := nc.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.AddStream(&nats.StreamConfig{Name: "ORDERS", Subjects: []string{"orders.>"}, Storage: nats.FileStorage}); err != nil {
		t.Fatalf("add stream: %v", err)
	}
	if _, err := os.Stat(filepath.Join(cfg.DefaultJetStreamDir, "jetstream")); err != nil {
		t.Fatalf("JetStream data not under the default dir: %v", err)
	}
}

// The walkthrough's nats-server.conf: `system_account: SYS` by name and a
// full resolver directory, which natsauth maps to a dir:// store.
func TestNodeWalkthroughConfig(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	jwtDir := filepath.Join(dir, "jwt")
	conf := fmt.Sprintf(`
port: -1
host: 127.0.0.1
jetstream {
  store_dir: %q
  max_memory_store: 64MB
  max_file_store: 256MB
}
resolver: {
  type: full
  dir: %q
  allow_delete: false
  interval: "2m"
}
system_account: SYS
debug: false
trace: false
logtime: true
max_connections: 10000
max_payload: 1MB
max_pending: 10MB
`, filepath.Join(dir, "js"), jwtDir)
	confPath := filepath.Join(dir, "nats-server.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := f.config(t)
	cfg.Flags = ServerFlags{}
	cfg.ConfigFile, cfg.StoreURL = confPath, ""
	n := startNode(t, cfg)
	if got, want := n.StoreURL(), "dir://"+jwtDir; got != want {
		t.Fatalf("store = %q, want %q", got, want)
	}
	if got, want := n.Options().SystemAccount, f.op.System.Pub; got != want {
		t.Fatalf("system account = %q, want %q", got, want)
	}
	if got, want := n.Options().MaxPayload, int32(1<<20); got != want {
		t.Fatalf("max_payload = %d, want %d", got, want)
	}
	// The seeded account JWT is in the directory in nats-server's format.
	if _, err := os.Stat(filepath.Join(jwtDir, f.acc.Pub+".jwt")); err != nil {
		t.Fatalf("account not in resolver dir: %v", err)
	}
	connect(t, n.ClientURL(), f.user)
}

func TestNodeRejectsUnknownSystemAccountName(t *testing.T) {
	f := newFixture(t)
	confPath := filepath.Join(t.TempDir(), "n.conf")
	if err := os.WriteFile(confPath, []byte("port: -1\nsystem_account: NOPE\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := f.config(t)
	cfg.Flags = ServerFlags{}
	cfg.ConfigFile = confPath
	_, err := New(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), `system_account "NOPE"`) {
		t.Fatalf("err = %v, want a message naming system_account NOPE", err)
	}
}

// SIGHUP-style reload re-reads the file, applies what changed and keeps the
// natsauth resolver, so accounts keep resolving and updates keep applying.
func TestNodeReloadKeepsResolver(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	confPath := filepath.Join(dir, "n.conf")
	write := func(payload string) {
		t.Helper()
		if err := os.WriteFile(confPath, []byte("host: 127.0.0.1\nport: -1\nmax_payload: "+payload+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("1MB")
	cfg := f.config(t)
	cfg.Flags = ServerFlags{}
	cfg.ConfigFile = confPath
	n := startNode(t, cfg)
	write("2KB")
	if err := n.Reload(); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if got := n.Server().AccountResolver(); got != n.Resolver() {
		t.Fatalf("resolver after reload = %T, want natsauth's", got)
	}
	nc := connect(t, n.ClientURL(), f.user)
	if got, want := nc.MaxPayload(), int64(2048); got != want {
		t.Fatalf("max payload after reload = %d, want %d", got, want)
	}
	// A change written to the store after the reload is still applied live.
	f.acc.Reissue(t, 0, func(ac *jwt.AccountClaims) { ac.Revoke(f.user.Pub) })
	if _, err := n.Store().Put(context.Background(), f.acc.Pub, f.acc.JWT); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for nc.IsConnected() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if nc.IsConnected() {
		t.Fatal("revoked user still connected after reload")
	}
}

// nsc push over NATS: the node answers $SYS.REQ.CLAIMS.UPDATE through its
// in-process system connection and persists to the store.
func TestNodeAnswersClaimsUpdate(t *testing.T) {
	f := newFixture(t)
	n := startNode(t, f.config(t))
	sysUser := f.op.System.NewUser(t, "sys", nil)
	nc := connect(t, n.ClientURL(), sysUser)
	newAcc := f.op.NewAccount(t, "C", nil)
	var msg *nats.Msg
	var err error
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		msg, err = nc.Request("$SYS.REQ.CLAIMS.UPDATE", []byte(newAcc.JWT), time.Second)
		if !errors.Is(err, nats.ErrNoResponders) && !errors.Is(err, nats.ErrTimeout) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("claims update: %v", err)
	}
	if !strings.Contains(string(msg.Data), "jwt updated") {
		t.Fatalf("reply = %s, want jwt updated", msg.Data)
	}
	rec, err := n.Store().Get(context.Background(), newAcc.Pub)
	if err != nil || rec.JWT != newAcc.JWT {
		t.Fatalf("pushed account not stored: %v", err)
	}
}

// A cluster change makes nats-server reload authorization, which installs
// the options' resolver: the node must come out of it with its own.
func TestNodeReloadAuthorizationKeepsResolver(t *testing.T) {
	f := newFixture(t)
	confPath := filepath.Join(t.TempDir(), "n.conf")
	write := func(noAdvertise bool) {
		t.Helper()
		c := fmt.Sprintf("host: 127.0.0.1\nport: -1\ncluster { name: c1, host: 127.0.0.1, port: -1, no_advertise: %v }\n", noAdvertise)
		if err := os.WriteFile(confPath, []byte(c), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(false)
	cfg := f.config(t)
	cfg.Flags = ServerFlags{}
	cfg.ConfigFile = confPath
	n := startNode(t, cfg)
	write(true)
	if err := n.Reload(); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if got := n.Server().AccountResolver(); got != n.Resolver() {
		t.Fatalf("resolver after reload = %T, want natsauth's", got)
	}
	// An account first seen after the reload resolves through the store.
	late := f.op.NewAccount(t, "Late", nil)
	if _, err := n.Store().Put(context.Background(), late.Pub, late.JWT); err != nil {
		t.Fatal(err)
	}
	connect(t, n.ClientURL(), late.NewUser(t, "late", nil))
}

// The default sentinel (serve --callout) is part of the options a reload
// rebuilds, so clients without creds keep going through the callout.
func TestDefaultSentinelSurvivesReload(t *testing.T) {
	f := newFixture(t)
	cfg := f.config(t)
	sentinel := f.acc.NewUser(t, "sentinel", func(uc *jwt.UserClaims) { uc.BearerToken = true })
	cfg.DefaultSentinel = sentinel.JWT
	n := startNode(t, cfg)
	opts, _, err := n.buildOptions()
	if err != nil {
		t.Fatal(err)
	}
	if opts.DefaultSentinel != sentinel.JWT {
		t.Fatal("the options a reload applies lack the default sentinel")
	}
	if err := n.Reload(); err != nil {
		t.Fatal(err)
	}
}

// An import applied before the export it needs (a node may see the two
// accounts' new JWTs in either order) works once the exporter's JWT
// arrives: nats-server refreshes importers from the JWT each was loaded
// with, so natsauth puts back the claims it applied since.
func TestImportAppliedBeforeItsExport(t *testing.T) {
	f := newFixture(t)
	b := f.op.NewAccount(t, "B", nil)
	cfg := f.config(t)
	cfg.Seed[b.Pub] = b.JWT
	n := startNode(t, cfg)
	bUser := b.NewUser(t, "bu", nil)
	aConn := connect(t, n.ClientURL(), f.user)
	bConn := connect(t, n.ClientURL(), bUser)
	if _, err := aConn.Subscribe("new.>", func(m *nats.Msg) { _ = m.Respond([]byte("ok")) }); err != nil {
		t.Fatal(err)
	}
	if err := aConn.Flush(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	now := time.Now().Unix()
	withImport := b.Reissue(t, now, func(ac *jwt.AccountClaims) {
		ac.Imports.Add(&jwt.Import{Account: f.acc.Pub, Subject: "new.>", Type: jwt.Service})
	})
	if _, err := n.Resolver().Publish(ctx, b.Pub, withImport); err != nil {
		t.Fatal(err)
	}
	withExport := f.acc.Reissue(t, now, func(ac *jwt.AccountClaims) {
		ac.Exports.Add(&jwt.Export{Subject: "new.>", Type: jwt.Service})
	})
	if _, err := n.Resolver().Publish(ctx, f.acc.Pub, withExport); err != nil {
		t.Fatal(err)
	}
	if _, err := bConn.Request("new.x", nil, 5*time.Second); err != nil {
		t.Fatalf("B's request through an import applied before its export: %v", err)
	}
}
