package manage_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/natsauth/natsauth/declare"
	"github.com/natsauth/natsauth/manage"
)

// Benchmarks of plan and apply at scale: NATSAUTH_BENCH_ACCOUNTS accounts
// (default 10,000) with NATSAUTH_BENCH_USERS users each (default 10), on
// the home's default SQLite store (NATSAUTH_BENCH_STORE picks another).
// docs/BENCHMARKS.md has the figures and the command:
//
//	go test ./manage -run '^$' -bench 'Plan|Apply' -benchtime 1x -timeout 60m

func benchSize() (accounts, users int) {
	accounts, users = 10000, 10
	if v, err := strconv.Atoi(os.Getenv("NATSAUTH_BENCH_ACCOUNTS")); err == nil && v > 0 {
		accounts = v
	}
	if v, err := strconv.Atoi(os.Getenv("NATSAUTH_BENCH_USERS")); err == nil && v >= 0 {
		users = v
	}
	return accounts, users
}

// benchFile is an authority file of n accounts with u users each: limits,
// JetStream, a service export of every tenth account that the next nine
// import, users with permissions.
func benchFile(n, u int, payload string) []byte {
	var b strings.Builder
	b.WriteString("version: 1\naccounts:\n")
	for i := range n {
		fmt.Fprintf(&b, "  tenant%05d:\n    limits:\n      max-connections: 1000\n      max-payload: %s\n      max-subscriptions: 10000\n", i, payload)
		b.WriteString("    jetstream:\n      disk-storage: 1GB\n      streams: 10\n")
		if i%10 == 0 {
			fmt.Fprintf(&b, "    exports:\n      - subject: svc%05d.>\n        type: service\n", i)
		} else {
			fmt.Fprintf(&b, "    imports:\n      - account: tenant%05d\n        subject: svc%05d.>\n        type: service\n", i-i%10, i-i%10)
		}
		if u > 0 {
			b.WriteString("    users:\n")
		}
		for j := range u {
			fmt.Fprintf(&b, "      user%02d:\n        allow-pub: [orders.>, \"svc%05d.>\"]\n        allow-sub: [orders.user%02d.>, _INBOX.>]\n", j, i-i%10, j)
		}
	}
	return []byte(b.String())
}

// benchHome is a home that holds the benchmark file applied, made once.
var benchHome = struct {
	sync.Once
	cfg  manage.Config
	data []byte
	err  error
}{}

func appliedHome(b *testing.B) (manage.Config, []byte) {
	b.Helper()
	benchHome.Do(func() {
		n, u := benchSize()
		benchHome.data = benchFile(n, u, "1MB")
		// NATSAUTH_BENCH_HOME keeps the applied home between runs.
		dir := os.Getenv("NATSAUTH_BENCH_HOME")
		if dir != "" {
			benchHome.cfg = benchConfig(dir)
			if _, err := os.Stat(filepath.Join(dir, "home")); err == nil {
				return
			}
		} else {
			var err error
			if dir, err = os.MkdirTemp("", "natsauth-bench-"); err != nil {
				benchHome.err = err
				return
			}
			benchHome.cfg = benchConfig(dir)
		}
		m, _, err := manage.Init(context.Background(), benchHome.cfg, "Bench")
		if err != nil {
			benchHome.err = err
			return
		}
		defer m.Close()
		f, err := declare.Parse("bench.yaml", benchHome.data, declare.Options{})
		if err != nil {
			benchHome.err = err
			return
		}
		_, benchHome.err = m.Apply(context.Background(), f, manage.ApplyOptions{})
	})
	if benchHome.err != nil {
		b.Fatal(benchHome.err)
	}
	return benchHome.cfg, benchHome.data
}

// cpuTime is the CPU time (user and system) this process has used: on a
// shared machine it says what an operation costs when wall time cannot.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// measure runs op b.N times and reports its CPU time per run beside the
// wall time.
func measure(b *testing.B, op func()) {
	b.Helper()
	start := cpuTime()
	n := 0
	for b.Loop() {
		op()
		n++
	}
	b.ReportMetric((cpuTime()-start).Seconds()/float64(n), "cpu-s/op")
}

func benchConfig(dir string) manage.Config {
	cfg := manage.Config{Home: filepath.Join(dir, "home"), ApplyTimeout: -1}
	if s := os.Getenv("NATSAUTH_BENCH_STORE"); s != "" {
		cfg.Store = strings.ReplaceAll(s, "$DIR", dir)
	}
	return cfg
}

// BenchmarkParse reads the file alone.
func BenchmarkParse(b *testing.B) {
	n, u := benchSize()
	data := benchFile(n, u, "1MB")
	b.SetBytes(int64(len(data)))
	measure(b, func() {
		if _, err := declare.Parse("bench.yaml", data, declare.Options{}); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkPlanEmptyHome plans the file on a home that has none of it.
func BenchmarkPlanEmptyHome(b *testing.B) {
	n, u := benchSize()
	data := benchFile(n, u, "1MB")
	dir := b.TempDir()
	m, _, err := manage.Init(context.Background(), benchConfig(dir), "Bench")
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	measure(b, func() {
		// As natsauth plan does: the file parsed while the home is read.
		p, err := m.Plan(context.Background(), declare.Load("bench.yaml", data, declare.Options{}), manage.PlanOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if c, _, _ := p.Counts(); c != n*(u+1) {
			b.Fatalf("%d to create", c)
		}
	})
}

// BenchmarkApplyEmptyHome applies the file to a home that has none of it
// (the first home it makes is reused by the benchmarks below).
func BenchmarkApplyEmptyHome(b *testing.B) {
	measure(b, func() {
		benchHome.Once = sync.Once{}
		if d := os.Getenv("NATSAUTH_BENCH_HOME"); d != "" {
			if err := os.RemoveAll(d); err != nil {
				b.Fatal(err)
			}
		}
		appliedHome(b)
	})
}

// BenchmarkPlanNoChanges plans the file on the home it was applied to.
func BenchmarkPlanNoChanges(b *testing.B) {
	cfg, data := appliedHome(b)
	m, err := manage.Open(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	measure(b, func() {
		// As natsauth plan does: the file parsed while the home is read.
		p, err := m.Plan(context.Background(), declare.Load("bench.yaml", data, declare.Options{}), manage.PlanOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if !p.Empty() {
			b.Fatalf("plan of the applied file: %d changes, %d drifted", len(p.Changes), len(p.Drift))
		}
	})
}

// BenchmarkApplyOneLimit applies the file with max-payload changed in
// every account (10,000 accounts re-signed and published, users as they
// are), then the file as it was: one op is two applies.
func BenchmarkApplyOneLimit(b *testing.B) {
	cfg, _ := appliedHome(b)
	n, u := benchSize()
	m, err := manage.Open(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	files := [2][]byte{benchFile(n, u, "2MB"), benchFile(n, u, "1MB")}
	measure(b, func() {
		for _, data := range files {
			f, err := declare.Parse("bench.yaml", data, declare.Options{})
			if err != nil {
				b.Fatal(err)
			}
			out, err := m.Apply(context.Background(), f, manage.ApplyOptions{})
			if err != nil {
				b.Fatal(err)
			}
			if _, up, _ := out.Plan.Counts(); up != n {
				b.Fatalf("%d updated, want %d", up, n)
			}
		}
	})
}
