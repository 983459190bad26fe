package userdb

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

func TestWriteUsers(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	users := []User{{Name: "alice", Groups: []string{"staff", "ops"}, UpdatedAt: at}, {Name: "bob", Disabled: true, UpdatedAt: at}}
	var b bytes.Buffer
	if err := WriteUsers(&b, users, false); err != nil {
		t.Fatal(err)
	}
	want := "NAME   STATE     GROUPS     CHANGED\n" +
		"alice  enabled   staff,ops  2026-01-02 03:04:05\n" +
		"bob    disabled             2026-01-02 03:04:05\n"
	if got := b.String(); got != want {
		t.Errorf("table: got\n%s\nwant\n%s", got, want)
	}
	b.Reset()
	if err := WriteUsers(&b, users, true); err != nil {
		t.Fatal(err)
	}
	var got []User
	if err := json.Unmarshal(b.Bytes(), &got); err != nil || len(got) != 2 || !got[1].Disabled {
		t.Errorf("JSON: got %+v, %v", got, err)
	}
}
