package declare

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadFile(t *testing.T) {
	text := "version: 1\naccounts:\n  ${NAME}:\n    limits:\n      max-connections: 5\n"
	path := filepath.Join(t.TempDir(), "authority.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, stdin string }{{path, ""}, {"-", text}} {
		src, err := LoadFile(tc.path, strings.NewReader(tc.stdin), []string{"NAME=Orders"})
		if err != nil {
			t.Fatal(err)
		}
		f, err := src.Parsed()
		if err != nil {
			t.Fatal(err)
		}
		if f.Name != tc.path || len(f.Accounts) != 1 || f.Accounts[0].Name != "Orders" {
			t.Errorf("%s: got %s with %+v", tc.path, f.Name, f.Accounts)
		}
	}
	if _, err := LoadFile(filepath.Join(t.TempDir(), "missing.yaml"), nil, nil); err == nil || !strings.Contains(err.Error(), "read ") {
		t.Errorf("a missing file: err = %v", err)
	}
	if _, err := LoadFile(path, nil, []string{"novalue"}); err == nil || !strings.Contains(err.Error(), "--set") {
		t.Errorf("a bad --set: err = %v", err)
	}
}
