package tlsgen

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(raw)
	if b == nil || b.Type != "CERTIFICATE" {
		t.Fatalf("%s holds no certificate", path)
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestGenerateWritesAVerifiableSet(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	f, err := Generate(dir, Options{Hosts: []string{"nats.example.com", "10.1.2.3", "localhost"},
		Validity: 30 * 24 * time.Hour, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o700 {
		t.Errorf("dir mode = %o, want 700", got)
	}
	for path, want := range map[string]os.FileMode{f.CA: 0o644, f.ServerCert: 0o644, f.ServerKey: 0o600,
		f.ClientCert: 0o644, f.ClientKey: 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s mode = %o, want %o", filepath.Base(path), got, want)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 5 {
		t.Errorf("dir holds %d entries, want the 5 files (no CA key, no temporaries)", len(entries))
	}

	ca := readCert(t, f.CA)
	if !ca.IsCA {
		t.Fatal("CA certificate is not a CA")
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	srv := readCert(t, f.ServerCert)
	at := now.Add(time.Hour)
	for _, name := range []string{"localhost", "127.0.0.1", "::1", "nats.example.com", "10.1.2.3"} {
		if _, err := srv.Verify(x509.VerifyOptions{Roots: roots, DNSName: name, CurrentTime: at}); err != nil {
			t.Errorf("server certificate for %s: %v", name, err)
		}
	}
	if _, err := srv.Verify(x509.VerifyOptions{Roots: roots, DNSName: "other.example.com", CurrentTime: at}); err == nil {
		t.Error("server certificate verifies for a name it was not issued for")
	}
	if _, err := srv.Verify(x509.VerifyOptions{Roots: roots, DNSName: "localhost", CurrentTime: now.Add(31 * 24 * time.Hour)}); err == nil {
		t.Error("server certificate still valid after its validity")
	}
	if got, want := strings.Join(f.ServerNames, ","), "localhost,nats.example.com,127.0.0.1,::1,10.1.2.3"; got != want {
		t.Errorf("server names = %s, want %s", got, want)
	}
	cli := readCert(t, f.ClientCert)
	if _, err := cli.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: at,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("client certificate: %v", err)
	}
	if _, err := cli.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: at,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err == nil {
		t.Error("client certificate is usable as a server certificate")
	}
}

// A mutual-TLS handshake over a real socket with the generated set.
func TestGeneratedSetHandshakes(t *testing.T) {
	f, err := Generate(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	srvPair, err := tls.LoadX509KeyPair(f.ServerCert, f.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	cliPair, err := tls.LoadX509KeyPair(f.ClientCert, f.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	caPEM, _ := os.ReadFile(f.CA)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{srvPair},
		ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- err.Error()
			return
		}
		defer c.Close()
		tc := c.(*tls.Conn)
		if err := tc.Handshake(); err != nil {
			got <- err.Error()
			return
		}
		got <- tc.ConnectionState().PeerCertificates[0].Subject.CommonName
		_, _ = io.Copy(io.Discard, c)
	}()
	c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: pool, ServerName: "localhost",
		Certificates: []tls.Certificate{cliPair}})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if cn := <-got; cn != ClientCommonName {
		t.Fatalf("server saw client %q, want %q", cn, ClientCommonName)
	}
}

func TestGenerateRefusesToOverwriteAndBadHosts(t *testing.T) {
	dir := t.TempDir()
	if _, err := Generate(dir, Options{}); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(dir, ServerKeyFile))
	_, err := Generate(dir, Options{})
	if err == nil || !strings.Contains(err.Error(), "already holds") {
		t.Fatalf("second Generate = %v, want a refusal to overwrite", err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, ServerKeyFile))
	if string(before) != string(after) {
		t.Fatal("refused Generate changed the server key")
	}
	if _, err := Generate(dir, Options{Overwrite: true}); err != nil {
		t.Fatalf("overwrite: %v", err)
	}

	empty := filepath.Join(t.TempDir(), "x")
	_, err = Generate(empty, Options{Hosts: []string{"ok.example", "bad host", "-bad.example", "a..b"}})
	if err == nil {
		t.Fatal("bad hosts accepted")
	}
	for _, want := range []string{`"bad host"`, `"-bad.example"`, `"a..b"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	if _, err := os.Stat(empty); !os.IsNotExist(err) {
		t.Error("bad input created the directory")
	}
	if _, err := Generate(t.TempDir(), Options{Validity: -time.Hour}); err == nil {
		t.Error("negative validity accepted")
	}
}

func TestGenerateWarnsAboutASharedDirectory(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := Generate(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !f.DirShared {
		t.Error("DirShared not set for a 0755 directory")
	}
	var b strings.Builder
	f.WriteWarnings(&b)
	if want := "warning: " + dir + " can be read by other users;"; !strings.HasPrefix(b.String(), want) {
		t.Errorf("warning: got %q, want it to start with %q", b.String(), want)
	}
	f.DirShared = false
	b.Reset()
	if f.WriteWarnings(&b); b.Len() != 0 {
		t.Errorf("warning for a private directory: %q", b.String())
	}
}

func TestCheckHosts(t *testing.T) {
	for _, h := range []string{"localhost", "*.example.com", "a-b.c", "::1", "192.168.0.1"} {
		if err := CheckHosts([]string{h}); err != nil {
			t.Errorf("%q: %v", h, err)
		}
	}
	for _, h := range []string{"", "a b", "x.-y", "*.", strings.Repeat("a", 64) + ".com", "ex_ample.com"} {
		if err := CheckHosts([]string{h}); err == nil {
			t.Errorf("%q accepted", h)
		}
	}
}

func TestFilesWriteText(t *testing.T) {
	dir := t.TempDir()
	f, err := Generate(dir, Options{Hosts: []string{"nats.test"}})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	f.WriteText(&b)
	out := b.String()
	for _, want := range []string{
		"wrote development TLS material to " + dir,
		"server certificate for localhost, nats.test",
		"natsauth serve --tls-cert " + f.ServerCert + " --tls-key " + f.ServerKey + " --tls-ca " + f.CA + " --tls-verify",
		"cert_file: \"" + f.ServerCert + "\"",
		"nats.RootCAs(\"" + f.CA + "\")",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the summary lacks %q:\n%s", want, out)
		}
	}
}
