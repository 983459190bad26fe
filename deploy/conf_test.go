// Package deploy_test loads every nats-server.conf in deploy/ — in natsauth's
// node, and the URL-resolver one also in a stock nats-server — with the
// container paths replaced by temporary ones, and connects real clients
// with the walkthrough's creds, so none of the files rots.
package deploy_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/natsauth/natsauth/accountserver"
	"github.com/natsauth/natsauth/examples/walkthrough"
	"github.com/natsauth/natsauth/node"
	"github.com/natsauth/natsauth/store"
)

// loadConf copies deploy/<name> to a temporary file with each old string
// replaced by its new one; every old string must occur, so a change to the
// file that the test no longer matches fails loudly.
func loadConf(t *testing.T, name string, repl ...string) string {
	t.Helper()
	raw, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	for i := 0; i+1 < len(repl); i += 2 {
		if !strings.Contains(s, repl[i]) {
			t.Fatalf("%s no longer contains %q: update the test with the file", name, repl[i])
		}
		s = strings.ReplaceAll(s, repl[i], repl[i+1])
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// serveConf runs natsauth's node on a conf file, listening on loopback.
func serveConf(t *testing.T, s *walkthrough.Setup, conf string) *node.Node {
	t.Helper()
	cfg := s.NodeConfig(conf)
	cfg.Flags.Host = "127.0.0.1"
	return s.Serve(cfg)
}

func healthz(t *testing.T, n *node.Node) {
	t.Helper()
	addr := n.Server().MonitorAddr()
	if addr == nil {
		t.Fatal("monitoring is off")
	}
	resp, err := http.Get("http://" + addr.String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz: %s", resp.Status)
	}
}

// pubSub checks alice receives what admin publishes on orders.alice.>.
func pubSub(t *testing.T, alice, admin *nats.Conn) {
	t.Helper()
	sub, err := alice.SubscribeSync("orders.alice.>")
	if err != nil {
		t.Fatal(err)
	}
	if err := alice.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := admin.Publish("orders.alice.1", []byte("Order #123")); err != nil {
		t.Fatal(err)
	}
	m, err := sub.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatalf("alice received nothing: %v", err)
	}
	if string(m.Data) != "Order #123" {
		t.Errorf("alice received %q", m.Data)
	}
}

func TestWalkthroughConf(t *testing.T) {
	s := walkthrough.NewHome(t)
	data := t.TempDir()
	conf := loadConf(t, "nats-server.conf", "/data/", data+"/", "port: 4222", "port: -1", "http_port: 8222", "http_port: -1")
	n := serveConf(t, s, conf)

	// The full resolver maps to natsauth's dir store, with the home's accounts.
	if want := "dir://" + filepath.ToSlash(filepath.Join(data, "jwt")); n.StoreURL() != want {
		t.Errorf("store %s, want %s", n.StoreURL(), want)
	}
	acc, err := s.Home.Account(walkthrough.Account)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(data, "jwt", acc.Pub+".jwt")); err != nil {
		t.Errorf("MyAccount not published to the resolver directory: %v", err)
	}
	opts := n.Options()
	if opts.StoreDir != filepath.Join(data, "jetstream") || opts.JetStreamMaxStore != 10<<30 || opts.JetStreamMaxMemory != 1<<30 {
		t.Errorf("jetstream: dir %s, max file %d, max memory %d", opts.StoreDir, opts.JetStreamMaxStore, opts.JetStreamMaxMemory)
	}
	if opts.MaxConn != 10000 || opts.MaxPayload != 1<<20 || opts.MaxPending != 10<<20 || !opts.Logtime {
		t.Errorf("limits: max_connections %d, max_payload %d, max_pending %d, logtime %v", opts.MaxConn, opts.MaxPayload, opts.MaxPending, opts.Logtime)
	}
	if opts.SystemAccount != s.Home.SystemAccount() {
		t.Errorf("system_account SYS mapped to %s, want %s", opts.SystemAccount, s.Home.SystemAccount())
	}
	healthz(t, n)

	url := n.ClientURL()
	alice := walkthrough.Connect(t, url, s.Creds("alice"))
	admin := walkthrough.Connect(t, url, s.Creds("admin"))
	pubSub(t, alice, admin)

	// JetStream works for MyAccount, stored under the configured directory.
	js, err := admin.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.AddStream(&nats.StreamConfig{Name: "ORDERS", Subjects: []string{"orders.>"}, Storage: nats.FileStorage}); err != nil {
		t.Fatalf("add stream: %v", err)
	}
	if _, err := js.Publish("orders.new", []byte("Order #123")); err != nil {
		t.Fatalf("publish to stream: %v", err)
	}
	if _, err := os.Stat(filepath.Join(data, "jetstream", "jetstream", acc.Pub, "streams", "ORDERS")); err != nil {
		t.Errorf("stream not stored under store_dir: %v", err)
	}

	// An unknown user is refused.
	if nc, err := nats.Connect(url); err == nil {
		nc.Close()
		t.Error("a client without creds connected")
	}
}

func TestTLSConf(t *testing.T) {
	s := walkthrough.NewHome(t)
	tlsDir := t.TempDir()
	ca, clientCert, clientKey := writeCerts(t, tlsDir)
	conf := loadConf(t, "nats-server-tls.conf", "/config/tls/", tlsDir+"/", "port: 4222", "port: -1", "http_port: 8222", "http_port: -1")
	n := serveConf(t, s, conf)
	if tc := n.Options().TLSConfig; tc == nil || tc.ClientAuth != tls.RequireAndVerifyClientCert {
		t.Error("verify: true not applied")
	}
	healthz(t, n)
	url := strings.Replace(n.ClientURL(), "nats://", "tls://", 1)

	alice := walkthrough.Connect(t, url, s.Creds("alice"), nats.RootCAs(ca), nats.ClientCert(clientCert, clientKey))
	admin := walkthrough.Connect(t, url, s.Creds("admin"), nats.RootCAs(ca), nats.ClientCert(clientCert, clientKey))
	if !alice.TLSRequired() {
		t.Error("connection is not TLS")
	}
	pubSub(t, alice, admin)

	// Creds alone are not enough: the server requires a client certificate.
	if nc, err := nats.Connect(url, nats.UserCredentials(s.Creds("alice")), nats.RootCAs(ca)); err == nil {
		nc.Close()
		t.Error("connected without a client certificate")
	}
	// A client certificate alone is not enough either.
	if nc, err := nats.Connect(url, nats.RootCAs(ca), nats.ClientCert(clientCert, clientKey)); err == nil {
		nc.Close()
		t.Error("connected without creds")
	}
}

// startAccountServer serves the home's accounts with natsauth's account
// server, as `natsauth account-server` does.
func startAccountServer(t *testing.T, s *walkthrough.Setup) string {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, "mem://", store.Options{Policy: s.Home.Policy()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	jwts, err := s.Home.AccountJWTs()
	if err != nil {
		t.Fatal(err)
	}
	for pub, tok := range jwts {
		if _, err := st.Put(ctx, pub, tok); err != nil {
			t.Fatal(err)
		}
	}
	as := accountserver.New(st, accountserver.Options{OperatorJWT: s.Home.OperatorJWT(), Policy: s.Home.Policy()})
	t.Cleanup(func() { as.Close() })
	hs := httptest.NewServer(as)
	t.Cleanup(hs.Close)
	return hs.URL
}

func TestURLResolverConfStockServer(t *testing.T) {
	s := walkthrough.NewHome(t)
	base := startAccountServer(t, s)
	conf := loadConf(t, "nats-server-url-resolver.conf",
		"/data/", s.Dir+"/", "http://account-server:9090", base, "port: 4222", "port: -1", "http_port: 8222", "http_port: -1")

	// A stock nats-server, configured only by the file.
	opts, err := server.ProcessConfigFile(conf)
	if err != nil {
		t.Fatalf("nats-server rejects %s: %v", conf, err)
	}
	opts.Host = "127.0.0.1"
	opts.NoSigs = true
	srv, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	t.Cleanup(srv.Shutdown)
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("stock nats-server did not start")
	}
	if opts.SystemAccount != s.Home.SystemAccount() {
		t.Errorf("system account %q, want the operator JWT's %s", opts.SystemAccount, s.Home.SystemAccount())
	}
	url := srv.ClientURL()
	alice := walkthrough.Connect(t, url, s.Creds("alice"))
	admin := walkthrough.Connect(t, url, s.Creds("admin"))
	pubSub(t, alice, admin)
	// The system user works too (system events, $SYS requests).
	sys := walkthrough.Connect(t, url, s.SysCreds())
	if _, err := sys.Request("$SYS.REQ.SERVER.PING", nil, 5*time.Second); err != nil {
		t.Errorf("system account request: %v", err)
	}
}

func TestURLResolverConfNatsauth(t *testing.T) {
	s := walkthrough.NewHome(t)
	base := startAccountServer(t, s)
	conf := loadConf(t, "nats-server-url-resolver.conf",
		"/data/", s.Dir+"/", "http://account-server:9090", base, "port: 4222", "port: -1", "http_port: 8222", "http_port: -1")
	n := serveConf(t, s, conf)
	if want := base + "/jwt/v1/accounts/"; n.StoreURL() != want {
		t.Errorf("URL(...) mapped to store %s, want %s", n.StoreURL(), want)
	}
	alice := walkthrough.Connect(t, n.ClientURL(), s.Creds("alice"))
	admin := walkthrough.Connect(t, n.ClientURL(), s.Creds("admin"))
	pubSub(t, alice, admin)
}

// writeCerts makes a CA, a server certificate for 127.0.0.1/localhost and a
// client certificate under dir, named as nats-server-tls.conf expects.
func writeCerts(t *testing.T, dir string) (caFile, clientCert, clientKey string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "natsauth test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	issue := func(serial int64, name string, usage x509.ExtKeyUsage, certFile, keyFile string) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kb, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		writePEM(t, filepath.Join(dir, certFile), "CERTIFICATE", der)
		writePEM(t, filepath.Join(dir, keyFile), "EC PRIVATE KEY", kb)
	}
	writePEM(t, filepath.Join(dir, "ca.pem"), "CERTIFICATE", caDER)
	issue(2, "localhost", x509.ExtKeyUsageServerAuth, "server-cert.pem", "server-key.pem")
	issue(3, "alice", x509.ExtKeyUsageClientAuth, "client-cert.pem", "client-key.pem")
	// The files must be a valid pair for Go's TLS too.
	if _, err := tls.LoadX509KeyPair(filepath.Join(dir, "client-cert.pem"), filepath.Join(dir, "client-key.pem")); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "ca.pem"), filepath.Join(dir, "client-cert.pem"), filepath.Join(dir, "client-key.pem")
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}
