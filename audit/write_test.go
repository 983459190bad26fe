package audit_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/natsauth/natsauth/audit"
)

func TestWrite(t *testing.T) {
	entries := []audit.Entry{
		{Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Action: "add-account"},
		{Time: time.Date(2026, 1, 2, 3, 4, 6, 0, time.UTC), Action: "add-user"},
	}
	var b bytes.Buffer
	audit.Write(&b, entries, false)
	if got, want := b.String(), entries[0].String()+"\n"+entries[1].String()+"\n"; got != want {
		t.Errorf("text: got %q, want %q", got, want)
	}
	b.Reset()
	audit.Write(&b, entries, true)
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("JSON: got %d lines, want 2", len(lines))
	}
	var e audit.Entry
	if err := json.Unmarshal([]byte(lines[1]), &e); err != nil || e.Action != "add-user" {
		t.Errorf("JSON line 2: got %+v, %v", e, err)
	}
}
