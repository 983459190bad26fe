package main

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/natsauth/natsauth/accountserver"
	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/serving"
	"github.com/natsauth/natsauth/store"
	"github.com/natsauth/natsauth/store/mem"
)

// Every generated configuration is loaded by a stock nats-server, which
// then authenticates a real client with creds from the home.
func TestGenerateConfigStockServerAuthenticates(t *testing.T) {
	c := interopHome(t)
	c.must("add", "account", "-n", "A")
	c.must("add", "user", "-a", "A", "-n", "alice", "--allow-pubsub", "orders.>")
	h, err := authority.Open(c.dir)
	if err != nil {
		t.Fatal(err)
	}

	// An account server over the home's accounts, for the url resolver.
	st := store.Wrap(mem.New(), store.Options{Policy: h.Policy()})
	t.Cleanup(func() { _ = st.Close() })
	jwts, err := h.AccountJWTs()
	if err != nil {
		t.Fatal(err)
	}
	for pub, tok := range jwts {
		if _, err := st.Put(context.Background(), pub, tok); err != nil {
			t.Fatal(err)
		}
	}
	as := accountserver.New(st, accountserver.Options{OperatorJWT: h.OperatorJWT(), Policy: h.Policy()})
	t.Cleanup(func() { _ = as.Close() })
	hs := httptest.NewServer(as)
	t.Cleanup(hs.Close)

	cases := []struct {
		name string
		args []string
		// who can connect right after start: the full resolver starts with
		// the system account only (the others are pushed; see the push
		// tests), the others with every account.
		account, user string
	}{
		{"full", []string{"--resolver", "full", "--dir", filepath.Join(t.TempDir(), "jwt")}, "SYS", "sys"},
		{"full inline", []string{"--resolver", "full", "--operator-inline", "--dir", filepath.Join(t.TempDir(), "jwt")}, "SYS", "sys"},
		{"url", []string{"--resolver", "url", "--url", hs.URL + "/jwt/v1/accounts/"}, "A", "alice"},
		{"url inline", []string{"--resolver", "url", "--operator-inline", "--url", hs.URL + "/jwt/v1/accounts/"}, "A", "alice"},
		{"memory", []string{"--resolver", "memory"}, "A", "alice"},
		{"memory inline", []string{"--resolver", "memory", "--operator-inline"}, "A", "alice"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			conf := interopConfig(t, c, tc.args...)
			inline := strings.Contains(tc.name, "inline")
			if got := strings.Contains(conf, h.OperatorJWTPath()); got == inline {
				t.Errorf("operator by path = %v, want %v:\n%s", got, !inline, conf)
			}
			if !strings.Contains(conf, "system_account: "+h.SystemAccount()) {
				t.Errorf("no system_account line:\n%s", conf)
			}
			s := startStockServer(t, conf)
			nc := interopMustConnect(t, s.ClientURL(), c, tc.account, tc.user)
			if tc.account == "A" {
				sub, err := nc.SubscribeSync("orders.1")
				if err != nil {
					t.Fatal(err)
				}
				if err := nc.Publish("orders.1", []byte("x")); err != nil {
					t.Fatal(err)
				}
				if _, err := sub.NextMsg(5 * time.Second); err != nil {
					t.Fatalf("alice did not get her own message: %v", err)
				}
			}
		})
	}
}

// The memory resolver preloads every account of the home, the full
// resolver only the system account.
func TestGenerateConfigPreloads(t *testing.T) {
	c := interopHome(t)
	c.must("add", "account", "-n", "A")
	c.must("add", "account", "-n", "B")
	h, err := authority.Open(c.dir)
	if err != nil {
		t.Fatal(err)
	}
	accs, err := h.Accounts()
	if err != nil {
		t.Fatal(err)
	}
	mem := c.must("generate", "config", "--resolver", "memory")
	full := c.must("generate", "config", "--resolver", "full")
	for _, acc := range accs {
		if !strings.Contains(mem, acc.Pub+`: "`+acc.JWT+`"`) {
			t.Errorf("memory config does not preload %s", acc.Name)
		}
		if got := strings.Contains(full, acc.Pub+`: "`); got != acc.System {
			t.Errorf("full config preloads %s: %v, want %v", acc.Name, got, acc.System)
		}
	}
	for _, want := range []string{"type: full", `dir: "./jwt"`, "allow_delete: false", `interval: "2m"`} {
		if !strings.Contains(full, want) {
			t.Errorf("full config lacks %q:\n%s", want, full)
		}
	}
	url := c.must("generate", "config", "--resolver", "url")
	if !strings.Contains(url, "resolver: URL("+serving.DefaultResolverURL+")") || strings.Contains(url, "resolver_preload") {
		t.Errorf("url config:\n%s", url)
	}
}

func TestGenerateConfigOutputFile(t *testing.T) {
	c := interopHome(t)
	file := filepath.Join(t.TempDir(), "nats-server.conf")
	out, errOut, err := c.run("generate", "config", "--resolver", "memory", "-o", file)
	if err != nil || out != "" || !strings.Contains(errOut, file) {
		t.Fatalf("generate -o: %v, stdout %q, stderr %q", err, out, errOut)
	}
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", fi.Mode().Perm())
	}
	b, _ := os.ReadFile(file)
	if string(b) != c.must("generate", "config", "--resolver", "memory") {
		t.Error("the file differs from what stdout gets")
	}
}

func TestGenerateConfigBadFlags(t *testing.T) {
	c := interopHome(t)
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{nil, []string{"--resolver is required"}},
		{[]string{"--resolver", "cache"}, []string{`--resolver "cache"`}},
		{[]string{"--resolver", "url", "--url", "nats://h:4222"}, []string{"--url", "http"}},
		{[]string{"--resolver", "url", "--url", "http://h:9090/a b"}, []string{"--url"}},
		{[]string{"--resolver", "memory", "--allow-delete"}, []string{"--allow-delete applies to the full resolver only"}},
		{[]string{"--resolver", "full", "--dir", ""}, []string{"--dir must not be empty"}},
		{[]string{"--resolver", "url", "--url", "ftp://x", "--allow-delete"}, []string{"2 problems", "--url", "--allow-delete"}},
	} {
		out, _, err := c.run(append([]string{"generate", "config"}, tc.args...)...)
		if err == nil {
			t.Errorf("%v: no error; output:\n%s", tc.args, out)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: error %q lacks %q", tc.args, err, w)
			}
		}
		if out != "" {
			t.Errorf("%v: wrote output despite the error", tc.args)
		}
	}
}
