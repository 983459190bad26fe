package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/internal/pgtest"
)

// The tests of this file run `natsauth serve` in one process and the CLI in
// others, as a user does in two shells, for every way a server can be
// started from a home: a limit change, a new user and a revocation made by
// the CLI are enforced when the command returns (it waits for every
// running server of the home to apply them), and changes written into the
// home's files by another tool (as nsc writes them) are applied too.

var (
	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "natsauth-test-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	pgtest.Main(runThenClean{m, dir})
}

type runThenClean struct {
	m   *testing.M
	dir string
}

func (r runThenClean) Run() int {
	code := r.m.Run()
	os.RemoveAll(r.dir)
	return code
}

// natsauthBinary builds cmd/natsauth once for the whole test binary.
func natsauthBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		binPath = filepath.Join(binDir, "natsauth")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// shell is one shell of a user: the natsauth binary run as its own process
// in a working directory, with NATSAUTH_HOME set.
type shell struct {
	t        *testing.T
	bin, dir string
	env      []string
}

func newShell(t *testing.T, home, dir string, env ...string) *shell {
	return &shell{t: t, bin: natsauthBinary(t), dir: dir, env: append([]string{"NATSAUTH_HOME=" + home}, env...)}
}

func (s *shell) cmd(args ...string) *exec.Cmd {
	c := exec.Command(s.bin, args...)
	c.Dir = s.dir
	c.Env = append(os.Environ(), s.env...)
	return c
}

// must runs natsauth and wants exit code 0; it returns stdout.
func (s *shell) must(args ...string) string {
	s.t.Helper()
	var out, errOut strings.Builder
	c := s.cmd(args...)
	c.Stdout, c.Stderr = &out, &errOut
	if err := c.Run(); err != nil {
		s.t.Fatalf("natsauth %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, out.String(), errOut.String())
	}
	return out.String()
}

// serve starts `natsauth serve args...` in this shell on free ports and
// waits until it serves.
func (s *shell) serve(args ...string) *serveProcess {
	s.t.Helper()
	t := s.t
	p := &serveProcess{stdout: &syncBuffer{}, stderr: &syncBuffer{}, exited: make(chan struct{})}
	p.cmd = s.cmd(append([]string{"serve", "-a", "127.0.0.1", "-p", strconv.Itoa(freePort(t))}, args...)...)
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.waitErr = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("serve stdout:\n%s\nserve stderr:\n%s", p.stdout.String(), p.stderr.String())
		}
	})
	deadline := time.After(time.Minute)
	for {
		if m := servingRe.FindStringSubmatch(p.stdout.String()); m != nil {
			p.url = m[1]
			return p
		}
		select {
		case <-p.exited:
			t.Fatalf("serve exited: %v\n%s", p.waitErr, p.stderr.String())
		case <-deadline:
			t.Fatalf("serve did not start:\n%s", p.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// reachForm is one way of starting a server from a home.
type reachForm struct {
	name string
	// setup writes what the form needs into dir and returns the serve
	// arguments and, for the URL resolver, the account server to start.
	setup func(t *testing.T, sh *shell, dir string) []string
}

func reachForms() []reachForm {
	conf := func(t *testing.T, dir, body string) []string {
		p := filepath.Join(dir, "nats-server.conf")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return []string{"-c", p}
	}
	return []reachForm{
		{"default", func(*testing.T, *shell, string) []string { return nil }},
		{"conf_full_resolver", func(t *testing.T, _ *shell, dir string) []string {
			return conf(t, dir, "resolver: { type: full, dir: \"./jwt\" }\n")
		}},
		{"conf_memory_preload", func(t *testing.T, sh *shell, dir string) []string {
			sys := strings.TrimSpace(sh.must("describe", "account", "SYS", "--raw"))
			ac, err := jwt.DecodeAccountClaims(sys)
			if err != nil {
				t.Fatal(err)
			}
			return conf(t, dir, fmt.Sprintf("resolver: MEMORY\nresolver_preload: {\n  %s: %q\n}\n", ac.Subject, sys))
		}},
		{"conf_url_resolver", func(t *testing.T, sh *shell, dir string) []string {
			store := "sqlite://" + filepath.Join(dir, "accountserver.db")
			port := freePort(t)
			as := sh.cmd("account-server", "--store", store, "--listen", fmt.Sprintf("127.0.0.1:%d", port))
			var out syncBuffer
			as.Stdout, as.Stderr = &out, &out
			if err := as.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = as.Process.Kill(); _ = as.Wait() })
			within(t, time.Minute, "account server up", func() bool { return strings.Contains(out.String(), "listening") })
			// The account server must already hold the system account.
			sh.must("push", "-A", "--account-server", fmt.Sprintf("http://127.0.0.1:%d", port))
			return conf(t, dir, fmt.Sprintf("resolver: URL(http://127.0.0.1:%d/jwt/v1/accounts/)\n", port))
		}},
		{"store_sqlite", func(_ *testing.T, _ *shell, dir string) []string {
			return []string{"--store", "sqlite://" + filepath.Join(dir, "serve.db")}
		}},
		{"store_dir", func(_ *testing.T, _ *shell, dir string) []string {
			return []string{"--store", "dir://" + filepath.Join(dir, "jwts")}
		}},
		{"store_postgres", func(t *testing.T, _ *shell, _ string) []string {
			return []string{"--store", pgtest.Start(t).NewDatabase(t)}
		}},
	}
}

// TestChangesReachEveryServeForm is the defect of issue 9 and its
// variants: serve in one shell, plain natsauth commands in another.
func TestChangesReachEveryServeForm(t *testing.T) {
	for _, form := range reachForms() {
		t.Run(form.name, func(t *testing.T) {
			dir := t.TempDir()
			home := filepath.Join(dir, "home")
			sh := newShell(t, home, dir)
			sh.must("init", "--name", "Op")
			sh.must("add", "account", "-n", "A")
			sh.must("add", "user", "-n", "u", "-a", "A", "--allow-pubsub", ">")
			sh.must("add", "user", "-n", "w", "-a", "A", "--allow-pubsub", ">")
			srv := sh.serve(form.setup(t, sh, dir)...)
			creds := func(u string) string { return filepath.Join(home, "keys", "creds", "Op", "A", u+".creds") }

			// u stays connected; its connection must close on revocation.
			u := connectCreds(t, srv.url, creds("u"))
			closed := make(chan struct{})
			u.SetClosedHandler(func(*nats.Conn) { close(closed) })
			if got := u.MaxPayload(); got <= 100 {
				t.Fatalf("max payload %d before the edit", got)
			}

			start := time.Now()
			out := sh.must("edit", "account", "A", "--max-payload", "100")
			took := time.Since(start)
			if !strings.Contains(out, "applied account A on serve pid") {
				t.Errorf("edit account does not say which server applied it:\n%s", out)
			}
			if got := connectCreds(t, srv.url, creds("w")).MaxPayload(); got != 100 {
				t.Fatalf("max payload after the edit returned = %d, want 100", got)
			}
			t.Logf("%s: edit account returned (applied) after %s", form.name, took)

			sh.must("add", "user", "-n", "v", "-a", "A", "--allow-pubsub", ">")
			connectCreds(t, srv.url, creds("v")) // a new user connects at once

			start = time.Now()
			sh.must("revocations", "add-user", "-a", "A", "-n", "u")
			select {
			case <-closed:
				t.Logf("%s: revoked connection closed %s after the command started", form.name, time.Since(start))
			case <-time.After(10 * time.Second):
				t.Fatal("the revoked user's connection is still open")
			}
			if nc, err := nats.Connect(srv.url, nats.UserCredentials(creds("u")), nats.NoReconnect()); err == nil {
				nc.Close()
				t.Fatal("the revoked user connected again")
			}

			// Another tool (nsc) writes the home's files: revoke v.
			v := connectCreds(t, srv.url, creds("v"))
			vClosed := make(chan struct{})
			v.SetClosedHandler(func(*nats.Conn) { close(vClosed) })
			start = time.Now()
			nscRevoke(t, home, "Op", "A", "v")
			select {
			case <-vClosed:
				t.Logf("%s: nsc-style revocation applied after %s", form.name, time.Since(start))
			case <-time.After(10 * time.Second):
				t.Fatal("a revocation written into the home's files did not reach the running serve")
			}
		})
	}
}

// nscRevoke revokes the user of nc in the home's account JWT the way nsc
// does: re-signed with the operator signing key from the keystore and
// written in place (not through natsauth).
func nscRevoke(t *testing.T, home, op, account, user string) {
	t.Helper()
	h, err := authority.Open(home)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(home, "stores", op, "accounts", account, account+".jwt")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ac, err := jwt.DecodeAccountClaims(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	u, err := h.User(account, user)
	if err != nil {
		t.Fatal(err)
	}
	ac.RevokeAt(u.Pub, time.Now())
	skp := operatorSigningKey(t, home, h.Operator().SigningKeys[0])
	tok, err := ac.Encode(skp)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(tok), 0o600); err != nil {
		t.Fatal(err)
	}
}

// operatorSigningKey reads a seed from the home's nsc keystore.
func operatorSigningKey(t *testing.T, home, pub string) nkeys.KeyPair {
	t.Helper()
	seed, err := os.ReadFile(filepath.Join(home, "keys", "keys", pub[:1], pub[1:3], pub+".nk"))
	if err != nil {
		t.Fatal(err)
	}
	kp, err := nkeys.FromSeed([]byte(strings.TrimSpace(string(seed))))
	if err != nil {
		t.Fatal(err)
	}
	return kp
}
