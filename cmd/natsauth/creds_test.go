package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/nats-io/jwt/v2"

	"github.com/natsauth/natsauth/authority"
)

func TestGenerateCreds(t *testing.T) {
	c := initHome(t)
	c.must("add", "account", "-n", "MyAccount")
	c.must("add", "user", "-n", "alice", "--allow-pub", "orders.>")
	h, err := authority.Open(c.dir)
	if err != nil {
		t.Fatal(err)
	}
	want, err := h.Creds("MyAccount", "alice")
	if err != nil {
		t.Fatal(err)
	}

	out, errOut, err := c.run("generate", "creds", "-a", "MyAccount", "-n", "alice")
	if err != nil || out != string(want) || errOut != "" {
		t.Fatalf("stdout creds differ (err %v, stderr %q)", err, errOut)
	}
	u, _ := h.User("MyAccount", "alice")
	if tok, _ := jwt.ParseDecoratedJWT([]byte(out)); tok != u.JWT {
		t.Errorf("creds JWT is not alice's")
	}
	kp, err := jwt.ParseDecoratedNKey([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	if pub, _ := kp.PublicKey(); pub != u.Pub {
		t.Errorf("creds seed is not alice's")
	}

	file := filepath.Join(t.TempDir(), "alice.creds")
	if err := os.WriteFile(file, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	out = c.must("generate", "creds", "-n", "alice", "-o", file)
	if out != "" {
		t.Errorf("stdout with -o: %q", out)
	}
	got, err := os.ReadFile(file)
	if err != nil || string(got) != string(want) {
		t.Errorf("creds file differs: %v", err)
	}
	if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o600 {
		t.Errorf("creds file mode %v, want 0600", fi.Mode().Perm())
	}
}
