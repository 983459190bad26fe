package access

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestWriteUsers(t *testing.T) {
	created := time.Date(2026, 1, 2, 3, 4, 0, 0, time.Local)
	us := []User{
		{Name: "admin", Role: "operator-admin", PasswordHash: "$argon2id$secret", Created: created},
		{Name: "team", Role: "account-admin", Account: "A", PasswordHash: "$argon2id$secret", Created: created},
	}
	var b bytes.Buffer
	if err := WriteUsers(&b, us, false); err != nil {
		t.Fatal(err)
	}
	want := "NAME   ROLE            ACCOUNT  CREATED\n" +
		"admin  operator-admin           2026-01-02 03:04\n" +
		"team   account-admin   A        2026-01-02 03:04\n"
	if got := b.String(); got != want {
		t.Errorf("table: got\n%s\nwant\n%s", got, want)
	}
	b.Reset()
	if err := WriteUsers(&b, us, true); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "secret") || strings.Contains(b.String(), "password_hash") {
		t.Errorf("JSON shows the password hash:\n%s", b.String())
	}
	var got []User
	if err := json.Unmarshal(b.Bytes(), &got); err != nil || len(got) != 2 || got[1].Account != "A" {
		t.Errorf("JSON: got %+v, %v", got, err)
	}
	if us[0].PasswordHash == "" {
		t.Error("WriteUsers changed its argument")
	}
}
