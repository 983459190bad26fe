package accountserver_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/natsauth/natsauth/accountserver"
	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/internal/testkit"
	"github.com/natsauth/natsauth/internal/tlsgen"

	_ "github.com/natsauth/natsauth/store/backends"
)

// A ListenConfig opens its store by URL, keeps activations in its
// directory and serves HTTPS with client certificates when asked.
func TestListenConfigServesTheStoreOverHTTPS(t *testing.T) {
	op := testkit.NewOperator(t)
	dir := t.TempDir()
	f, err := tlsgen.Generate(filepath.Join(dir, "tls"), tlsgen.Options{})
	if err != nil {
		t.Fatal(err)
	}
	acc := op.NewAccount(t, "A", nil)
	storeDir := filepath.Join(dir, "jwt")
	l, err := accountserver.ListenConfig{
		Options:  accountserver.Options{OperatorJWT: op.JWT, Policy: op.Policy()},
		StoreURL: "dir://" + storeDir, Addr: "127.0.0.1:0",
		TLSCert: f.ServerCert, TLSKey: f.ServerKey, TLSCA: f.CA,
		ActivationsDir: filepath.Join(dir, "activations"),
	}.Listen(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if !strings.HasPrefix(l.URL(), "https://") {
		t.Fatalf("URL %s is not https", l.URL())
	}
	if _, err := os.Stat(filepath.Join(dir, "activations")); err != nil {
		t.Errorf("the activations directory was not made: %v", err)
	}
	pem, _ := os.ReadFile(f.CA)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	cert, err := tls.LoadX509KeyPair(f.ClientCert, f.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}}}}
	resp, err := client.Post(l.URL()+acc.Pub, "application/jwt", strings.NewReader(acc.JWT))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = client.Get(l.URL() + acc.Pub)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != acc.JWT {
		t.Fatalf("GET %s: %s %q", acc.Pub, resp.Status, body)
	}
	// Without a client certificate the handshake fails.
	bare := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	if resp, err := bare.Get(l.URL() + acc.Pub); err == nil {
		resp.Body.Close()
		t.Fatal("served a client without a certificate")
	}
}

func TestListenConfigErrors(t *testing.T) {
	op := testkit.NewOperator(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		c    accountserver.ListenConfig
		want string
	}{
		{accountserver.ListenConfig{StoreURL: "nope://x"}, "account-server: "},
		{accountserver.ListenConfig{StoreURL: "mem://", TLSCert: filepath.Join(dir, "c.pem"), TLSKey: filepath.Join(dir, "k.pem")}, "account-server: load tls key pair"},
		{accountserver.ListenConfig{StoreURL: "mem://", NATSURL: "nats://127.0.0.1:1", Creds: filepath.Join(dir, "missing.creds")}, "account-server: creds"},
	} {
		tc.c.Options = accountserver.Options{OperatorJWT: op.JWT, Policy: op.Policy()}
		tc.c.Addr = "127.0.0.1:0"
		l, err := tc.c.Listen(t.Context())
		if err == nil {
			l.Close()
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: err = %v, want it to mention %q", tc.c, err, tc.want)
		}
	}
}

// Check names the flags of a combination Listen cannot serve.
func TestListenConfigCheck(t *testing.T) {
	for _, tc := range []struct {
		c    accountserver.ListenConfig
		want string
	}{
		{accountserver.ListenConfig{}, ""},
		{accountserver.ListenConfig{TLSCert: "c.pem"}, "--tls-cert and --tls-key go together"},
		{accountserver.ListenConfig{TLSCA: "ca.pem"}, "--tls-ca needs --tls-cert"},
		{accountserver.ListenConfig{Creds: "sys.creds"}, "--creds needs --nats"},
		{accountserver.ListenConfig{TLSCert: "c", TLSKey: "k", TLSCA: "ca", NATSURL: "nats://x", Creds: "c"}, ""},
	} {
		err := tc.c.Check()
		if got := fmt.Sprint(err); (tc.want == "") != (err == nil) || !strings.Contains(got, tc.want) {
			t.Errorf("%+v: got %v, want %q", tc.c, err, tc.want)
		}
	}
}

// WithHome takes the system user's creds and the activations directory
// from the home, and keeps what is given.
func TestListenConfigWithHome(t *testing.T) {
	h, err := authority.Init(filepath.Join(t.TempDir(), "home"), "O")
	if err != nil {
		t.Fatal(err)
	}
	sys, err := h.SystemUserCreds()
	if err != nil {
		t.Fatal(err)
	}
	c, err := accountserver.ListenConfig{NATSURL: "nats://127.0.0.1:4222"}.WithHome(h)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Creds, sys; got != want {
		t.Errorf("creds: got %q, want %q", got, want)
	}
	if got, want := c.ActivationsDir, filepath.Join(h.Dir(), "activations"); got != want {
		t.Errorf("activations: got %q, want %q", got, want)
	}
	c, err = accountserver.ListenConfig{ActivationsDir: "/x", Creds: "my.creds", NATSURL: "nats://h"}.WithHome(h)
	if err != nil || c.ActivationsDir != "/x" || c.Creds != "my.creds" {
		t.Errorf("given values: got %+v, %v", c, err)
	}
	if _, err := (accountserver.ListenConfig{NATSURL: "nats://h"}).WithHome(nil); err == nil || !strings.Contains(err.Error(), "--nats needs --creds") {
		t.Errorf("no home: got %v", err)
	}
	if c, err := (accountserver.ListenConfig{}).WithHome(nil); err != nil || c.ActivationsDir != "" {
		t.Errorf("no home, no nats: got %+v, %v", c, err)
	}
}

// Wait serves until its context ends, then closes the listener.
func TestListenerWait(t *testing.T) {
	op := testkit.NewOperator(t)
	l, err := accountserver.ListenConfig{
		Options:  accountserver.Options{OperatorJWT: op.JWT, Policy: op.Policy()},
		StoreURL: "dir://" + filepath.Join(t.TempDir(), "jwt"), Addr: "127.0.0.1:0",
	}.Listen(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- l.Wait(ctx) }()
	resp, err := http.Get(strings.TrimSuffix(l.URL(), "jwt/v1/accounts/") + "healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	select {
	case err := <-done:
		t.Fatalf("Wait returned before its context ended: %v", err)
	default:
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Wait: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Wait did not return")
	}
	if _, err := http.Get(l.URL()); err == nil {
		t.Error("still serving after Wait returned")
	}
}
