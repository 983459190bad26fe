package claims_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/natsauth/natsauth/internal/testkit"
)

// startStock starts an unmodified nats-server in operator mode whose
// configuration file has the given resolver lines, and returns it once it
// accepts connections.
func startStock(t *testing.T, op *testkit.Operator, resolver string, extra string) *server.Server {
	t.Helper()
	dir := t.TempDir()
	opFile := filepath.Join(dir, "operator.jwt")
	if err := os.WriteFile(opFile, []byte(op.JWT), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf("listen: \"127.0.0.1:-1\"\noperator: %q\nsystem_account: %s\n%s\n%s\n",
		opFile, op.System.Pub, resolver, extra)
	conf = strings.ReplaceAll(conf, `"DIR"`, fmt.Sprintf("%q", filepath.Join(dir, "jwt")))
	confFile := filepath.Join(dir, "nats-server.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err := server.ProcessConfigFile(confFile)
	if err != nil {
		t.Fatalf("process config: %v\n%s", err, conf)
	}
	opts.NoLog, opts.NoSigs = true, true
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("start nats-server: %v", err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s
}

// fullResolver is a stock `full` resolver block with the system account
// preloaded; DIR is replaced by a fresh directory.
func fullResolver(op *testkit.Operator) string {
	return fmt.Sprintf("resolver: { type: full, dir: %q, allow_delete: true, interval: \"2m\" }\nresolver_preload: { %s: %q }",
		"DIR", op.System.Pub, op.System.JWT)
}

// sysConn connects a system-account user to s.
func sysConn(t *testing.T, op *testkit.Operator, s *server.Server) *nats.Conn {
	t.Helper()
	u := op.System.NewUser(t, "sys", nil)
	nc, err := nats.Connect(s.ClientURL(), nats.UserCredentials(u.CredsFile(t)))
	if err != nil {
		t.Fatalf("connect system user: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc
}
