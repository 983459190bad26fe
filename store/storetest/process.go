package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/natsauth/natsauth/internal/testkit"
	"github.com/natsauth/natsauth/store"
	"github.com/natsauth/natsauth/trust"
)

// childEnv names the spec file a child process of CrossProcess works from.
const childEnv = "NATSAUTH_STORETEST_CHILD"

// processSpec is what each child process is told to do.
type processSpec struct {
	URL      string   `json:"url"`
	Operator string   `json:"operator"`
	Account  string   `json:"account"`
	JWTs     []string `json:"jwts"`
	Child    int      `json:"child"`
	Procs    int      `json:"procs"`
}

// CrossProcess checks that newer-only holds between operating-system
// processes: it re-runs the calling test (testName) as `procs` child
// processes that race to put ever newer versions of one account into
// rawURL (child k puts versions k, k+procs, k+2*procs, ...). After each of
// its writes succeeds, a child reads back a version at least as new: no
// other process's older write may overwrite it. At the end the newest
// version must be stored.
//
// The test calling it must do nothing else before the call: in the child
// processes CrossProcess does the child's work and returns.
func CrossProcess(t *testing.T, testName, rawURL string, procs, versions int) {
	if spec := os.Getenv(childEnv); spec != "" {
		if err := runChild(spec); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(3)
		}
		return
	}
	op := testkit.NewOperator(t)
	acc := op.NewAccount(t, "X", nil)
	spec := processSpec{URL: rawURL, Operator: op.JWT, Account: acc.Pub, Procs: procs}
	for i := range versions {
		spec.JWTs = append(spec.JWTs, acc.Reissue(t, int64(1000+i), nil))
	}
	cmds := make([]*exec.Cmd, procs)
	for i := range cmds {
		spec.Child = i
		data, _ := json.Marshal(spec)
		f := filepath.Join(t.TempDir(), "spec.json")
		if err := os.WriteFile(f, data, 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(os.Args[0], "-test.run=^"+testName+"$", "-test.count=1")
		cmd.Env = append(os.Environ(), childEnv+"="+f)
		cmds[i] = cmd
	}
	outs := make([][]byte, procs)
	errs := make(chan error, procs)
	for i, cmd := range cmds {
		go func() {
			out, err := cmd.CombinedOutput()
			outs[i] = out
			errs <- err
		}()
	}
	for range cmds {
		if err := <-errs; err != nil {
			t.Errorf("child process: %v", err)
		}
	}
	if t.Failed() {
		for i, o := range outs {
			t.Logf("child %d output:\n%s", i, o)
		}
		t.FailNow()
	}
	s, err := store.Open(context.Background(), rawURL, store.Options{Policy: op.Policy()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rec, err := s.Get(context.Background(), acc.Pub)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(1000 + versions - 1); rec.IssuedAt != want || rec.JWT != spec.JWTs[versions-1] {
		t.Fatalf("after %d processes raced, stored iat = %d, want the newest, %d (lost update)", procs, rec.IssuedAt, want)
	}
}

func runChild(specFile string) error {
	data, err := os.ReadFile(specFile)
	if err != nil {
		return err
	}
	var spec processSpec
	if err := json.Unmarshal(data, &spec); err != nil {
		return err
	}
	p, err := trust.FromOperatorJWTs(spec.Operator)
	if err != nil {
		return err
	}
	ctx := context.Background()
	s, err := store.Open(ctx, spec.URL, store.Options{Policy: p})
	if err != nil {
		return err
	}
	defer s.Close()
	for i := spec.Child; i < len(spec.JWTs); i += spec.Procs {
		_, err := s.Put(ctx, spec.Account, spec.JWTs[i])
		if errors.Is(err, store.ErrStale) {
			continue
		}
		if err != nil {
			return fmt.Errorf("put version %d: %w", i, err)
		}
		rec, err := s.Get(ctx, spec.Account)
		if err != nil {
			return fmt.Errorf("get after version %d: %w", i, err)
		}
		if rec.IssuedAt < int64(1000+i) {
			return fmt.Errorf("version %d was stored, then replaced by the older iat %d (lost update)", i, rec.IssuedAt)
		}
	}
	return nil
}
