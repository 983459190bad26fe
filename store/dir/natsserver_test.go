package dir_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/natsauth/natsauth/internal/testkit"
	"github.com/natsauth/natsauth/store"
)

// startFullResolver starts a stock nats-server from a configuration file
// with `resolver: {type: full, dir: jwtDir}`, as an operator would.
func startFullResolver(t *testing.T, op *testkit.Operator, jwtDir string) *server.Server {
	t.Helper()
	tmp := t.TempDir()
	opFile := filepath.Join(tmp, "op.jwt")
	if err := os.WriteFile(opFile, []byte(op.JWT), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(tmp, "nats.conf")
	cfg := fmt.Sprintf("listen: 127.0.0.1:-1\noperator: %q\nsystem_account: %s\n"+
		"resolver: { type: full, dir: %q, allow_delete: true, interval: \"2m\" }\n",
		opFile, op.System.Pub, jwtDir)
	if err := os.WriteFile(conf, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err := server.ProcessConfigFile(conf)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	opts.NoLog, opts.NoSigs = true, true
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("new server: %v", err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	t.Cleanup(s.Shutdown)
	return s
}

func connect(t *testing.T, s *server.Server, u *testkit.User) (*nats.Conn, error) {
	t.Helper()
	nc, err := nats.Connect(s.ClientURL(), nats.UserCredentials(u.CredsFile(t)), nats.MaxReconnects(0))
	if err == nil {
		t.Cleanup(nc.Close)
	}
	return nc, err
}

// A stock nats-server's full resolver serves the JWTs this store wrote, and
// this store (and its watchers) see what that server writes when pushed.
func TestStockFullResolverSharesTheDirectory(t *testing.T) {
	op := testkit.NewOperator(t)
	jwtDir := filepath.Join(t.TempDir(), "jwt")
	st, err := store.Open(t.Context(), "dir://"+jwtDir+"?watch=inotify", store.Options{Policy: op.Policy()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	acc := op.NewAccount(t, "A", nil)
	for _, a := range []*testkit.Account{op.System, acc} {
		if _, err := st.Put(t.Context(), a.Pub, a.JWT); err != nil {
			t.Fatal(err)
		}
	}
	s := startFullResolver(t, op, jwtDir)

	// Our files authenticate users.
	nc, err := connect(t, s, acc.NewUser(t, "alice", nil))
	if err != nil {
		t.Fatalf("user of an account in our directory refused: %v", err)
	}
	sub, _ := nc.SubscribeSync("hello")
	if err := nc.Publish("hello", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := sub.NextMsg(5 * time.Second); err != nil {
		t.Fatalf("round trip: %v", err)
	}
	// An account that is not in the directory is refused.
	if _, err := connect(t, s, op.NewAccount(t, "Z", nil).NewUser(t, "z", nil)); err == nil {
		t.Fatal("user of an unknown account connected")
	}

	events, err := st.(store.Watcher).Watch(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	sys, err := connect(t, s, op.System.NewUser(t, "sys", nil))
	if err != nil {
		t.Fatalf("system user: %v", err)
	}
	push := func(token string) {
		t.Helper()
		msg, err := sys.Request("$SYS.REQ.CLAIMS.UPDATE", []byte(token), 5*time.Second)
		if err != nil {
			t.Fatalf("push: %v", err)
		}
		if !strings.Contains(string(msg.Data), `"code":200`) {
			t.Fatalf("push refused: %s", msg.Data)
		}
	}
	wantEvent := func(account, token string) {
		t.Helper()
		select {
		case ev := <-events:
			if ev.Kind != store.EventPut || ev.Account != account || ev.JWT != token {
				t.Fatalf("event %v %s, want put %s with the pushed jwt", ev.Kind, ev.Account, account)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no event for nats-server's write")
		}
	}
	// nats-server writes the pushed update into the directory: we see it.
	newer := acc.Reissue(t, time.Now().Unix()+10, func(ac *jwt.AccountClaims) { ac.Limits.Conn = 9 })
	push(newer)
	wantEvent(acc.Pub, newer)
	if rec, err := st.Get(t.Context(), acc.Pub); err != nil || rec.JWT != newer {
		t.Fatalf("get after push: %v", err)
	}
	fresh := op.NewAccount(t, "B", nil)
	push(fresh.JWT)
	wantEvent(fresh.Pub, fresh.JWT)
	keys, err := st.List(t.Context())
	if err != nil || len(keys) != 3 {
		t.Fatalf("list after push = %v, %v", keys, err)
	}
	// And newer-only holds against what nats-server wrote.
	if _, err := st.Put(t.Context(), acc.Pub, acc.Reissue(t, 1000, nil)); err == nil {
		t.Fatal("older jwt replaced the one nats-server stored")
	}
}
