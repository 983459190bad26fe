package progress

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestProgressOnlyOnTerminals(t *testing.T) {
	var buf bytes.Buffer
	if IsTerminal(&buf) {
		t.Fatal("a buffer is a terminal")
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if IsTerminal(f) {
		t.Fatal("a regular file is a terminal")
	}
	p := New(&buf, "copying")
	p.Step(1, 3)
	p.Done()
	if buf.Len() != 0 {
		t.Fatalf("progress drawn off a terminal: %q", buf.String())
	}
	p = &Bar{w: &buf, label: "copying", enabled: true}
	for i := range 3 {
		p.Step(i+1, 3)
	}
	p.Done()
	if out := buf.String(); !strings.HasPrefix(out, "\rcopying [##########") || !strings.Contains(out, "3/3") || !strings.HasSuffix(out, "\n") {
		t.Fatalf("progress output %q", out)
	}
}
