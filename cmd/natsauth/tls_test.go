package main

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/internal/tlsgen"
	"github.com/natsauth/natsauth/serving"
)

// bgRun runs `natsauth args...` in the background until the test ends and
// waits until its stdout matches pattern; it returns the first submatch,
// the output and a stop function returning the command's error.
func bgRun(t *testing.T, pattern string, args ...string) (string, *syncBuffer, func() error) {
	t.Helper()
	c := startBackground(t, args...)
	return c.wait(t, c.out, regexp.MustCompile(pattern), 30*time.Second)[1], c.out, c.stop
}

// serveHome runs `natsauth serve` on a random loopback port for the home
// (its default SQLite store) and returns the client URL.
func serveHome(t *testing.T, c *cliHome, args ...string) string {
	t.Helper()
	all := append([]string{"serve", "--home", c.dir, "--store", c.store, "-a", "127.0.0.1", "-p", "-1"}, args...)
	url, _, _ := bgRun(t, `natsauth serving on (\S+)`, all...)
	return url
}

// sqliteHome is an initialized home with account A and user alice whose
// commands publish to the home's SQLite store, as `natsauth serve` reads it.
func sqliteHome(t *testing.T) *cliHome {
	t.Helper()
	c := newCLIHome(t)
	c.store = serving.DefaultStoreURL(c.dir)
	c.must("init", "-n", "O")
	c.must("add", "account", "-n", "A")
	c.must("add", "user", "-a", "A", "-n", "alice", "--allow-pubsub", "tls.>")
	return c
}

func tlsMaterial(t *testing.T, c *cliHome) *tlsgen.Files {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tls")
	out := c.must("generate", "tls", "--out", dir, "--host", "nats.test")
	for _, want := range []string{"ca.pem", "server-cert.pem", "client key (0600)", "--tls-verify", "verify: true", "nats.test"} {
		if !strings.Contains(out, want) {
			t.Errorf("generate tls output lacks %q:\n%s", want, out)
		}
	}
	return &tlsgen.Files{Dir: dir, CA: filepath.Join(dir, tlsgen.CAFile),
		ServerCert: filepath.Join(dir, tlsgen.ServerCertFile), ServerKey: filepath.Join(dir, tlsgen.ServerKeyFile),
		ClientCert: filepath.Join(dir, tlsgen.ClientCertFile), ClientKey: filepath.Join(dir, tlsgen.ClientKeyFile)}
}

// plainConnectGetsPong speaks plain-text NATS to a TLS-only server: it reads
// the INFO (which must require TLS), sends CONNECT and PING and reports
// whether a PONG came back.
func plainConnectGetsPong(t *testing.T, url string) (tlsRequired, pong bool) {
	t.Helper()
	host := strings.TrimPrefix(strings.TrimPrefix(url, "tls://"), "nats://")
	conn, err := net.DialTimeout("tcp", host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(conn)
	info, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("read INFO: %v", err)
	}
	tlsRequired = strings.Contains(info, `"tls_required":true`)
	if _, err := io.WriteString(conn, "CONNECT {\"verbose\":false}\r\nPING\r\n"); err != nil {
		return tlsRequired, false
	}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return tlsRequired, false
		}
		if strings.HasPrefix(line, "PONG") {
			return tlsRequired, true
		}
	}
}

func TestGenerateTLSCommand(t *testing.T) {
	c := newCLIHome(t)
	c.must("init", "-n", "O")
	f := tlsMaterial(t, c)
	if _, _, err := c.run("generate", "tls", "--out", f.Dir); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("second generate tls = %v, want a refusal that names --force", err)
	}
	c.must("generate", "tls", "--out", f.Dir, "--force")
	_, _, err := c.run("generate", "tls", "--out", filepath.Join(t.TempDir(), "x"), "--host", "bad host", "--days", "0")
	if err == nil || !strings.Contains(err.Error(), `"bad host"`) || !strings.Contains(err.Error(), "--days 0") {
		t.Fatalf("bad input = %v, want both problems", err)
	}
	// Default: HOME/tls.
	c.must("generate", "tls")
	if _, err := os.Stat(filepath.Join(c.dir, "tls", tlsgen.ServerKeyFile)); err != nil {
		t.Fatal(err)
	}
}

// Creds clients connect over TLS; plain text is refused; the CA matters.
func TestServeTLSFlags(t *testing.T) {
	c := sqliteHome(t)
	f := tlsMaterial(t, c)
	url := serveHome(t, c, "--tls-cert", f.ServerCert, "--tls-key", f.ServerKey)
	creds := filepath.Join(c.dir, "keys", "creds", "O", "A", "alice.creds")

	nc, err := nats.Connect(url, nats.UserCredentials(creds), nats.RootCAs(f.CA))
	if err != nil {
		t.Fatalf("creds client over TLS: %v", err)
	}
	if !nc.TLSRequired() {
		t.Error("connection does not report TLS")
	}
	if cs, err := nc.TLSConnectionState(); err != nil || !cs.HandshakeComplete {
		t.Errorf("TLS state = %+v, %v", cs, err)
	}
	if err := nc.Publish("tls.hello", nil); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	nc.Close()

	tlsReq, pong := plainConnectGetsPong(t, url)
	if !tlsReq {
		t.Error("INFO does not require TLS")
	}
	if pong {
		t.Error("plain-text client got a PONG from a TLS-only server")
	}
	// A client that does not trust the development CA is refused.
	if nc, err := nats.Connect(url, nats.UserCredentials(creds)); err == nil {
		nc.Close()
		t.Fatal("client without the CA connected")
	}
}

// Mutual TLS from flags and from a nats-server.conf tls block: a client
// without a certificate is refused, one with the generated certificate
// (and creds) gets in.
func TestServeMutualTLS(t *testing.T) {
	c := sqliteHome(t)
	f := tlsMaterial(t, c)
	conf := filepath.Join(t.TempDir(), "nats-server.conf")
	text := fmt.Sprintf("tls {\n  cert_file: %q\n  key_file: %q\n  ca_file: %q\n  verify: true\n}\n", f.ServerCert, f.ServerKey, f.CA)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	creds := filepath.Join(c.dir, "keys", "creds", "O", "A", "alice.creds")
	for name, args := range map[string][]string{
		"flags": {"--tls-cert", f.ServerCert, "--tls-key", f.ServerKey, "--tls-ca", f.CA, "--tls-verify"},
		"conf":  {"-c", conf},
	} {
		t.Run(name, func(t *testing.T) {
			url := serveHome(t, c, args...)
			if nc, err := nats.Connect(url, nats.UserCredentials(creds), nats.RootCAs(f.CA)); err == nil {
				nc.Close()
				t.Fatal("client without a certificate connected under verify")
			}
			nc, err := nats.Connect(url, nats.UserCredentials(creds), nats.RootCAs(f.CA), nats.ClientCert(f.ClientCert, f.ClientKey))
			if err != nil {
				t.Fatalf("client with the generated certificate: %v", err)
			}
			defer nc.Close()
			if err := nc.Flush(); err != nil {
				t.Fatal(err)
			}
			// The certificate alone is not enough: the JWT still decides.
			if nc, err := nats.Connect(url, nats.RootCAs(f.CA), nats.ClientCert(f.ClientCert, f.ClientKey)); err == nil {
				nc.Close()
				t.Fatal("client with a certificate but no creds connected")
			}
			if tlsReq, pong := plainConnectGetsPong(t, url); !tlsReq || pong {
				t.Fatalf("plain text: tls_required=%v pong=%v", tlsReq, pong)
			}
		})
	}
}

func httpsClient(t *testing.T, caFile string, cert *tlsgen.Files) *http.Client {
	t.Helper()
	tc := &tls.Config{}
	if caFile != "" {
		pool, err := tlsgen.LoadCAPool(caFile)
		if err != nil {
			t.Fatal(err)
		}
		tc.RootCAs = pool
	}
	if cert != nil {
		pair, err := tls.LoadX509KeyPair(cert.ClientCert, cert.ClientKey)
		if err != nil {
			t.Fatal(err)
		}
		tc.Certificates = []tls.Certificate{pair}
	}
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: tc}}
}

// The account server over https with the generated material: a client
// trusting the CA reads account JWTs, one that does not is refused; with
// --tls-ca a client certificate is required; and a stock nats-server with
// a URL resolver over https (resolver_tls) authenticates a creds user.
func TestAccountServerTLS(t *testing.T) {
	c := sqliteHome(t)
	f := tlsMaterial(t, c)
	h, err := authority.Open(c.dir)
	if err != nil {
		t.Fatal(err)
	}
	acc, err := h.Account("A")
	if err != nil {
		t.Fatal(err)
	}
	base, _ := asRun(t, "account-server", "--home", c.dir, "--store", c.store, "--listen", "127.0.0.1:0",
		"--tls-cert", f.ServerCert, "--tls-key", f.ServerKey)
	if !strings.HasPrefix(base, "https://") {
		t.Fatalf("account server base %s is not https", base)
	}
	resp, err := httpsClient(t, f.CA, nil).Get(base + acc.Pub)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || strings.TrimSpace(string(body)) != acc.JWT {
		t.Fatalf("GET over https = %d %.80s", resp.StatusCode, body)
	}
	if _, err := httpsClient(t, "", nil).Get(base + acc.Pub); err == nil {
		t.Fatal("client without the CA read over https")
	} else if !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("error = %v, want a certificate error", err)
	}

	// A stock nats-server resolves accounts from it over https.
	dir := t.TempDir()
	conf := filepath.Join(dir, "stock.conf")
	opFile := filepath.Join(dir, "op.jwt")
	if err := os.WriteFile(opFile, []byte(h.OperatorJWT()), 0o600); err != nil {
		t.Fatal(err)
	}
	text := fmt.Sprintf("listen: 127.0.0.1:-1\noperator: %q\nsystem_account: %s\nresolver: URL(%s)\nresolver_tls {\n  ca_file: %q\n}\n",
		opFile, h.SystemAccount(), base, f.CA)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err := server.ProcessConfigFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	opts.NoSigs, opts.NoLog = true, true
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	defer s.Shutdown()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("stock server not ready")
	}
	nc, err := nats.Connect(s.ClientURL(), nats.UserCredentials(filepath.Join(c.dir, "keys", "creds", "O", "A", "alice.creds")))
	if err != nil {
		t.Fatalf("stock URL-resolver server over https refused alice: %v", err)
	}
	nc.Close()

	// Mutual TLS on the account server.
	base2, _ := asRun(t, "account-server", "--home", c.dir, "--store", c.store, "--listen", "127.0.0.1:0",
		"--tls-cert", f.ServerCert, "--tls-key", f.ServerKey, "--tls-ca", f.CA)
	if resp, err := httpsClient(t, f.CA, nil).Get(base2 + acc.Pub); err == nil {
		resp.Body.Close()
		t.Fatal("client without a certificate read from a --tls-ca account server")
	}
	resp, err = httpsClient(t, f.CA, f).Get(base2 + acc.Pub)
	if err != nil {
		t.Fatalf("client with the generated certificate: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET with client certificate = %d", resp.StatusCode)
	}
	if _, _, err := c.run("account-server", "--tls-ca", f.CA); err == nil || !strings.Contains(err.Error(), "--tls-ca needs") {
		t.Fatalf("--tls-ca without a certificate = %v", err)
	}
}
