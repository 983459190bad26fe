package serving

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/natsauth/natsauth/authority"
)

func TestStockConfigWriteFile(t *testing.T) {
	dir := t.TempDir()
	h, err := authority.Init(filepath.Join(dir, "home"), "Op")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "nats-server.conf")
	c := StockConfig{Resolver: "full", Dir: "./jwt"}
	if err := c.WriteFile(h, path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want, err := c.Render(h)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != want {
		t.Errorf("file:\n%s\nwant:\n%s", b, want)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", fi.Mode().Perm())
	}
	err = StockConfig{Resolver: "nope"}.WriteFile(h, filepath.Join(dir, "bad.conf"))
	if err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("bad resolver: got %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "bad.conf")); !os.IsNotExist(err) {
		t.Errorf("a refused configuration was written: %v", err)
	}
}
