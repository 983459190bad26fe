package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// buildBinary builds cmd/natsauth with `go build` into a temporary
// directory and returns the path of the binary.
func buildBinary(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the process test builds natsauth with the go command, which is not on PATH: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "natsauth")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// serveProcess is `natsauth serve` running as a real process.
type serveProcess struct {
	cmd            *exec.Cmd
	stdout, stderr *syncBuffer
	url, monitor   string
	exited         chan struct{}
	waitErr        error
}

// startServe runs the binary's serve for home on free ports with a -c file
// and waits until it accepts connections; it is killed when the test ends
// if still running.
func startServe(t *testing.T, bin, home, conf string) *serveProcess {
	t.Helper()
	p := &serveProcess{stdout: &syncBuffer{}, stderr: &syncBuffer{}, exited: make(chan struct{})}
	clientPort, httpPort := freePort(t), freePort(t)
	p.cmd = exec.Command(bin, "serve", "--home", home, "-c", conf, "-a", "127.0.0.1",
		"-p", strconv.Itoa(clientPort), "-m", strconv.Itoa(httpPort), "--js")
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
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
	deadline := time.After(60 * time.Second)
	for {
		if m := servingRe.FindStringSubmatch(p.stdout.String()); m != nil {
			p.url = m[1]
			p.monitor = fmt.Sprintf("http://127.0.0.1:%d", httpPort)
			return p
		}
		select {
		case <-p.exited:
			t.Fatalf("serve exited early: %v\nstdout: %s\nstderr: %s", p.waitErr, p.stdout.String(), p.stderr.String())
		case <-deadline:
			t.Fatalf("serve did not start:\nstdout: %s\nstderr: %s", p.stdout.String(), p.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// stop sends sig and wants a clean exit: code 0 and a "shutting down" log line.
func (p *serveProcess) stop(t *testing.T, sig os.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v: %v", sig, err)
	}
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("serve still running 30s after %v", sig)
	}
	if p.waitErr != nil {
		t.Fatalf("serve after %v: %v (exit code %d)\nstderr: %s", sig, p.waitErr, p.cmd.ProcessState.ExitCode(), p.stderr.String())
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit code after %v = %d, want 0", sig, code)
	}
	if !strings.Contains(p.stderr.String(), "shutting down") {
		t.Fatalf("no \"shutting down\" log line after %v:\n%s", sig, p.stderr.String())
	}
}

// connectCreds connects with a creds file and flushes, so the INFO that
// follows CONNECT (with the connection's max_payload) has been read.
func connectCreds(t *testing.T, url, creds string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, nats.UserCredentials(creds), nats.NoReconnect())
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(nc.Close)
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return nc
}

func writeConf(t *testing.T, path string, maxPayload int) {
	t.Helper()
	conf := fmt.Sprintf("# natsauth process test\nmax_payload: %d\nmax_connections: 100\n", maxPayload)
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
}

// The built binary serves with monitoring, reloads on SIGHUP and shuts
// down cleanly on SIGTERM and SIGINT.
func TestProcessServe(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	h := newE2EHome(t)
	h.must("add", "account", "-n", "MyAccount", "--js-disk-storage", "100MB", "--js-mem-storage", "10MB")
	h.must("add", "user", "-n", "admin", "--allow-pubsub", ">")
	conf := filepath.Join(t.TempDir(), "nats-server.conf")
	writeConf(t, conf, 100_000)

	t.Run("monitoring_sighup_sigterm", func(t *testing.T) {
		p := startServe(t, bin, h.dir, conf)
		for _, path := range []string{"/varz", "/connz", "/subsz", "/accountz", "/healthz", "/jsz"} {
			body := httpGet(t, p.monitor+path)
			if !json.Valid(body) {
				t.Errorf("%s: body is not JSON: %.200s", path, body)
			}
		}
		var varz struct {
			MaxPayload int `json:"max_payload"`
		}
		if err := json.Unmarshal(httpGet(t, p.monitor+"/varz"), &varz); err != nil || varz.MaxPayload != 100_000 {
			t.Fatalf("/varz max_payload = %d (%v), want 100000 from the -c file", varz.MaxPayload, err)
		}
		if got := connectCreds(t, p.url, h.creds("MyAccount", "admin")).MaxPayload(); got != 100_000 {
			t.Fatalf("INFO max_payload = %d, want 100000", got)
		}

		writeConf(t, conf, 200_000)
		if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		within(t, 10*time.Second, "new max_payload after SIGHUP", func() bool {
			nc, err := nats.Connect(p.url, nats.UserCredentials(h.creds("MyAccount", "admin")), nats.NoReconnect())
			if err != nil {
				return false
			}
			defer nc.Close()
			return nc.Flush() == nil && nc.MaxPayload() == 200_000
		})

		// Still serving, with natsauth's resolver: an account and user
		// added now are fetched from the store.
		h.must("add", "account", "-n", "Later")
		h.must("add", "user", "-n", "late", "-a", "Later", "--allow-pubsub", "later.>")
		late := connectCreds(t, p.url, h.creds("Later", "late"))
		sub, err := late.SubscribeSync("later.x")
		if err != nil {
			t.Fatal(err)
		}
		if err := late.Flush(); err != nil {
			t.Fatal(err)
		}
		if err := late.Publish("later.x", []byte("after reload")); err != nil {
			t.Fatal(err)
		}
		if got := receive(t, sub); got != "after reload" {
			t.Fatalf("got %q", got)
		}
		// Live changes still apply after the reload.
		h.must("edit", "account", "Later", "--max-payload", "1K")
		within(t, liveDeadline, "--max-payload 1K applied after SIGHUP", func() bool {
			nc, err := nats.Connect(p.url, nats.UserCredentials(h.creds("Later", "late")), nats.NoReconnect())
			if err != nil {
				return false
			}
			defer nc.Close()
			return nc.Flush() == nil && nc.MaxPayload() == 1000
		})
		if httpStatus(t, p.monitor+"/healthz") != http.StatusOK {
			t.Fatal("/healthz not OK after reload")
		}
		// nats-server's reload would swap natsauth's resolver for the
		// file's one: the server must still resolve through natsauth's.
		if m := string(httpGet(t, p.monitor+"/metrics")); !strings.Contains(m, "\nnatsauth_resolver_active 1\n") {
			t.Fatalf("after SIGHUP the server does not resolve through natsauth's resolver:\n%s", grepLines(m, "natsauth_resolver_active"))
		}
		p.stop(t, syscall.SIGTERM)
	})

	t.Run("sigint", func(t *testing.T) {
		p := startServe(t, bin, h.dir, conf)
		connectCreds(t, p.url, h.creds("MyAccount", "admin"))
		p.stop(t, syscall.SIGINT)
	})
}

// httpGet wants 200 from url and returns the body.
func httpGet(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %.200s", url, resp.Status, body)
	}
	return body
}

func httpStatus(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// grepLines returns the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
