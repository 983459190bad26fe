package cluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/natsauth/natsauth/internal/testkit"
	"github.com/natsauth/natsauth/store"
)

// startStock runs n stock nats-servers as one cluster, each with its own
// `full` resolver directory preloaded with the system account and
// accounts — the setup `nsc push` serves. Nothing of natsauth runs in
// them: they are configured from a nats-server.conf alone.
func startStock(t testing.TB, op *testkit.Operator, accounts []*testkit.Account, n int) []*server.Server {
	t.Helper()
	dir := t.TempDir()
	opFile := filepath.Join(dir, "operator.jwt")
	if err := os.WriteFile(opFile, []byte(op.JWT), 0o600); err != nil {
		t.Fatal(err)
	}
	ports := freePorts(t, n)
	routes := ""
	for i, p := range ports {
		if i > 0 {
			routes += ", "
		}
		routes += fmt.Sprintf("%q", fmt.Sprintf("nats://127.0.0.1:%d", p))
	}
	servers := make([]*server.Server, n)
	for i := range servers {
		jwtDir := filepath.Join(dir, fmt.Sprintf("jwt%d", i+1))
		preload(t, op, jwtDir, append([]*testkit.Account{op.System}, accounts...))
		conf := fmt.Sprintf(`server_name: stock%d
host: 127.0.0.1
port: -1
operator: %q
system_account: %s
resolver: { type: full, dir: %q, allow_delete: false, interval: "2m" }
cluster { name: stock, host: 127.0.0.1, port: %d, routes: [%s] }
`, i+1, opFile, op.System.Pub, jwtDir, ports[i], routes)
		confFile := filepath.Join(dir, fmt.Sprintf("stock%d.conf", i+1))
		if err := os.WriteFile(confFile, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		opts, err := server.ProcessConfigFile(confFile)
		if err != nil {
			t.Fatalf("stock server %d: %v", i+1, err)
		}
		opts.NoSigs = true
		s, err := server.NewServer(opts)
		if err != nil {
			t.Fatalf("stock server %d: %v", i+1, err)
		}
		s.Start()
		t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
		if !s.ReadyForConnections(10 * time.Second) {
			t.Fatalf("stock server %d not ready", i+1)
		}
		servers[i] = s
	}
	await(t, 30*time.Second, "a full mesh of stock routes", func() bool { return meshed(servers) })
	return servers
}

// preload writes account JWTs into a full resolver directory, in its
// format, before the server starts.
func preload(t testing.TB, op *testkit.Operator, dir string, accounts []*testkit.Account) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, "dir://"+dir, store.Options{Policy: op.Policy()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, a := range accounts {
		if _, err := st.Put(ctx, a.Pub, a.JWT); err != nil {
			t.Fatalf("preload %s: %v", a.Claims.Name, err)
		}
	}
}
