package cluster

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"

	"github.com/natsauth/natsauth/internal/pgtest"
	"github.com/natsauth/natsauth/internal/testkit"
	"github.com/natsauth/natsauth/store"
	"github.com/natsauth/natsauth/trust"
)

// writerEnv names the spec file of a writer process: TestMain runs the
// writer instead of the tests when it is set.
const writerEnv = "NATSAUTH_CLUSTER_WRITER"

// The burst: each store receives burstAccounts × burstVersions updates.
const (
	burstAccounts = 10
	burstVersions = 100
	// killAfter is how many acknowledged writes every store must have seen
	// before the writer is killed.
	killAfter = 100
)

// writerSpec tells a writer process what to write where.
type writerSpec struct {
	Operator string     `json:"operator"`
	Stores   []string   `json:"stores"`
	Accounts [][]string `json:"accounts"` // per account, its JWTs oldest first
	Pubs     []string   `json:"pubs"`
}

// A writer killed with SIGKILL in the middle of a burst of 1,000 updates
// to each of a dir, a sqlite and a postgres store leaves every store
// readable, each account at one complete version that was written — never
// older than a write the writer saw acknowledged — and writable.
func TestKill9DuringBurst(t *testing.T) {
	op := testkit.NewOperator(t)
	tmp := t.TempDir()
	spec := writerSpec{
		Operator: op.JWT,
		Stores: []string{
			"dir://" + filepath.Join(tmp, "jwt"),
			"sqlite://" + filepath.Join(tmp, "accounts.db"),
			pgtest.Start(t).NewDatabase(t),
		},
	}
	base := time.Now().Unix() - 10*burstVersions
	for a := range burstAccounts {
		acc := op.NewAccount(t, fmt.Sprintf("A%d", a), nil)
		var versions []string
		for v := range burstVersions + 1 { // the last one is written after the kill
			versions = append(versions, acc.Reissue(t, base+int64(v), func(ac *jwt.AccountClaims) {
				ac.Limits.Subs = int64(v) // each version differs in content too
			}))
		}
		spec.Pubs = append(spec.Pubs, acc.Pub)
		spec.Accounts = append(spec.Accounts, versions)
	}
	// Open each store once first, so the schema exists and the kill lands
	// on account writes.
	for _, u := range spec.Stores {
		st, err := store.Open(context.Background(), u, store.Options{Policy: op.Policy()})
		if err != nil {
			t.Fatalf("open %s: %v", store.Redact(u), err)
		}
		st.Close()
	}
	specFile := filepath.Join(tmp, "writer.json")
	data, _ := json.Marshal(spec)
	if err := os.WriteFile(specFile, data, 0o600); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), writerEnv+"="+specFile)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// acked[s][a] is the newest version of account a the writer saw store s
	// accept; counts[s] how many writes store s accepted.
	acked := make([][]int, len(spec.Stores))
	for s := range acked {
		acked[s] = make([]int, burstAccounts)
		for a := range acked[s] {
			acked[s][a] = -1
		}
	}
	counts := make([]int, len(spec.Stores))
	var killedAt []int
	lines := bufio.NewScanner(out)
	for lines.Scan() {
		var s, a, v int
		if _, err := fmt.Sscanf(lines.Text(), "ack %d %d %d", &s, &a, &v); err != nil {
			t.Errorf("writer said %q", lines.Text())
			continue
		}
		acked[s][a] = max(acked[s][a], v)
		counts[s]++
		if killedAt == nil && min(counts[0], counts[1], counts[2]) >= killAfter {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatalf("kill -9 writer: %v", err)
			}
			killedAt = append([]int(nil), counts...)
		}
	}
	err = cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("writer was not killed by SIGKILL mid-burst: %v (stores acknowledged %v of %d each)\n%s",
			err, counts, burstAccounts*burstVersions, stderr.String())
	}
	t.Logf("writer killed with SIGKILL after %v acknowledged writes (dir, sqlite, postgres), %v seen in all",
		killedAt, counts)

	p := op.Policy()
	for s, u := range spec.Stores {
		checkAfterKill(t, u, p, spec, acked[s])
	}
}

// checkAfterKill opens a store written by the killed writer and checks
// every account in it.
func checkAfterKill(t *testing.T, rawURL string, p *trust.Policy, spec writerSpec, acked []int) {
	t.Helper()
	name := store.Redact(rawURL)
	ctx := context.Background()
	st, err := store.Open(ctx, rawURL, store.Options{Policy: p})
	if err != nil {
		t.Fatalf("%s: open after kill -9: %v", name, err)
	}
	defer st.Close()
	keys, err := st.List(ctx)
	if err != nil {
		t.Fatalf("%s: list after kill -9: %v", name, err)
	}
	index := map[string]int{}
	for a, pub := range spec.Pubs {
		index[pub] = a
	}
	listed := map[string]bool{}
	for _, k := range keys {
		if _, ok := index[k]; !ok {
			t.Errorf("%s: lists %q, which was never written", name, k)
		}
		listed[k] = true
	}
	for a, pub := range spec.Pubs {
		if !listed[pub] {
			if acked[a] >= 0 {
				t.Errorf("%s: account %d missing, though version %d was acknowledged", name, a, acked[a])
			}
			continue
		}
		rec, err := st.Get(ctx, pub)
		if err != nil {
			t.Errorf("%s: get account %d: %v", name, a, err)
			continue
		}
		v := -1
		for i, tok := range spec.Accounts[a][:burstVersions] {
			if tok == rec.JWT {
				v = i
			}
		}
		if v < 0 {
			t.Errorf("%s: account %d holds a JWT that is none of the versions written (%d bytes)", name, a, len(rec.JWT))
			continue
		}
		ac, err := p.CheckAccount(pub, rec.JWT)
		if err != nil {
			t.Errorf("%s: account %d version %d fails validation: %v", name, a, v, err)
			continue
		}
		if rec.IssuedAt != ac.IssuedAt || rec.ID != ac.ID || rec.Issuer != ac.Issuer {
			t.Errorf("%s: account %d: record (iat %d, jti %s, iss %s) does not describe its JWT (iat %d, jti %s, iss %s)",
				name, a, rec.IssuedAt, rec.ID, rec.Issuer, ac.IssuedAt, ac.ID, ac.Issuer)
		}
		if v < acked[a] {
			t.Errorf("%s: account %d at version %d, older than the acknowledged version %d", name, a, v, acked[a])
		}
		// Still writable: a newer version goes in.
		if _, err := st.Put(ctx, pub, spec.Accounts[a][burstVersions]); err != nil {
			t.Errorf("%s: account %d: put after kill -9: %v", name, a, err)
		}
	}
}

// runWriter is the writer process: it writes every version of every
// account to every store (one goroutine per store), printing
// "ack <store> <account> <version>" after each accepted write, until it
// is killed. It returns the process exit code.
func runWriter(specFile string) int {
	data, err := os.ReadFile(specFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "writer:", err)
		return 2
	}
	var spec writerSpec
	if err := json.Unmarshal(data, &spec); err != nil {
		fmt.Fprintln(os.Stderr, "writer:", err)
		return 2
	}
	p, err := trust.FromOperatorJWTs(spec.Operator)
	if err != nil {
		fmt.Fprintln(os.Stderr, "writer:", err)
		return 2
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	var failed sync.Once
	code := 0
	for s, u := range spec.Stores {
		wg.Go(func() {
			fail := func(err error) {
				fmt.Fprintf(os.Stderr, "writer: %s: %v\n", store.Redact(u), err)
				failed.Do(func() { code = 1 })
			}
			st, err := store.Open(ctx, u, store.Options{Policy: p})
			if err != nil {
				fail(err)
				return
			}
			defer st.Close()
			for v := range burstVersions {
				for a, pub := range spec.Pubs {
					if _, err := st.Put(ctx, pub, spec.Accounts[a][v]); err != nil {
						fail(err)
						return
					}
					// One write(2) per line: lines from the goroutines never interleave.
					fmt.Fprintf(os.Stdout, "ack %d %d %d\n", s, a, v)
				}
			}
		})
	}
	wg.Wait()
	return code
}
