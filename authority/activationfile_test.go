package authority

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/nats-io/jwt/v2"
)

// An activation token is written in nsc's decorated form, readable only by
// its owner even over a file others could read.
func TestActivationWriteFile(t *testing.T) {
	h, _, _, _ := sharingHome(t)
	act := mustActivation(t, h, "A", ActivationSpec{Target: "B", Subject: "svc.priv.>"})
	var b bytes.Buffer
	if err := act.WriteDecorated(&b); err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.ParseDecoratedJWT(b.Bytes())
	if err != nil || tok != act.Token {
		t.Fatalf("decorated token: got %q, %v", tok, err)
	}
	path := filepath.Join(t.TempDir(), "b.jwt")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := act.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, b.Bytes()) {
		t.Errorf("file: got %q, %v", got, err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	if err := act.WriteFile(filepath.Join(t.TempDir(), "no", "such", "dir")); err == nil {
		t.Error("wrote into a missing directory")
	}
}
