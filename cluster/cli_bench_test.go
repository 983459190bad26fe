package cluster

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/internal/pgtest"
	"github.com/natsauth/natsauth/node"
)

// BenchmarkRevocationFromCLI measures what an operator sees: from the
// start of `natsauth revocations add-user` (a new process, as in a shell)
// to the close of the revoked user's open connection on each of 3 nodes of
// one cluster on PostgreSQL, started from the home. Reported: p50 and p99
// of the close on the first, second and last node, and the command's own
// run time (it returns once every node has applied the revocation).
func BenchmarkRevocationFromCLI(b *testing.B) {
	bin := filepath.Join(b.TempDir(), "natsauth")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/natsauth").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	h := newHome(b)
	if _, err := h.AddAccount("A", authority.AccountEdit{}); err != nil {
		b.Fatal(err)
	}
	pgURL := pgtest.Start(b).NewDatabase(b)
	base, err := node.FromHome(h)
	if err != nil {
		b.Fatal(err)
	}
	cfgs := clusterConfigs(b, homeRoot(b, h), pgURL, 3, false)
	for i := range cfgs {
		cfgs[i].Home = base.Home
	}
	c := startCluster(b, cfgs)
	cli := func(args ...string) time.Duration {
		start := time.Now()
		cmd := exec.Command(bin, append(args, "--home", h.Dir())...)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("natsauth %v: %v\n%s", args, err, out)
		}
		return time.Since(start)
	}

	var first, second, last, command []time.Duration
	b.ResetTimer()
	b.StopTimer()
	for i := range b.N {
		user := fmt.Sprintf("u%d", i)
		cli("add", "user", "-a", "A", "-n", user, "--allow-sub", ">")
		creds := h.CredsPath("A", user)
		closed := make(chan time.Time, len(c.nodes))
		for _, n := range c.nodes {
			nc, err := nats.Connect(n.ClientURL(), nats.UserCredentials(creds), nats.NoReconnect(),
				nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}))
			if err != nil {
				b.Fatal(err)
			}
			nc.SetClosedHandler(func(*nats.Conn) { closed <- time.Now() })
			defer nc.Close()
		}
		b.StartTimer()
		start := time.Now()
		took := cli("revocations", "add-user", "-a", "A", "-n", user)
		var at []time.Duration
		for range c.nodes {
			select {
			case t := <-closed:
				at = append(at, t.Sub(start))
			case <-time.After(30 * time.Second):
				b.Fatalf("revocation %d: a connection is still open after 30s", i)
			}
		}
		b.StopTimer()
		slices.Sort(at)
		first, second, last = append(first, at[0]), append(second, at[1]), append(last, at[2])
		command = append(command, took)
	}
	for _, m := range []struct {
		name string
		d    []time.Duration
	}{{"first-node", first}, {"second-node", second}, {"last-node", last}, {"command", command}} {
		b.ReportMetric(pct(m.d, 50), m.name+"-p50-ms")
		b.ReportMetric(pct(m.d, 99), m.name+"-p99-ms")
	}
	if os.Getenv(envLog) != "" {
		b.Logf("last node: %v", last)
	}
}

// pct is the p-th percentile of ds, in milliseconds.
func pct(ds []time.Duration, p int) float64 {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	if i > 0 {
		i--
	}
	return float64(s[i].Microseconds()) / 1000
}
