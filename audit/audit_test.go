package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/natsauth/natsauth/audit"
)

func TestAttributeFromContext(t *testing.T) {
	ctx := audit.WithActor(context.Background(), audit.Actor{Via: audit.ViaHTTP, Remote: "10.1.2.3:4567"})
	e := audit.Attribute(ctx, audit.Entry{Action: audit.ActionStorePut, Signer: "OSIGNER"})
	if e.Via != audit.ViaHTTP || e.Remote != "10.1.2.3:4567" || e.Signer != "OSIGNER" {
		t.Errorf("attributed entry = %+v", e)
	}
	if e.OSUser == "" {
		t.Error("OS user not filled from the process")
	}
	if e.Time.IsZero() || e.Time.Location() != time.UTC {
		t.Errorf("time = %v, want now in UTC", e.Time)
	}

	// Without an actor: this process, via local.
	e = audit.Attribute(context.Background(), audit.Entry{Action: audit.ActionInit})
	if e.Via != audit.ViaLocal || e.OSUser == "" {
		t.Errorf("default actor = %+v", e)
	}
}

func TestQueryMatch(t *testing.T) {
	now := time.Now()
	e := audit.Entry{Time: now, Action: audit.ActionEditAccount, Account: "AKEY", AccountName: "MyAccount"}
	for _, tc := range []struct {
		q    audit.Query
		want bool
	}{
		{audit.Query{}, true},
		{audit.Query{Account: "AKEY"}, true},
		{audit.Query{Account: "MyAccount"}, true},
		{audit.Query{Account: "Other"}, false},
		{audit.Query{Since: now.Add(-time.Minute)}, true},
		{audit.Query{Since: now.Add(time.Minute)}, false},
	} {
		if got := tc.q.Match(e); got != tc.want {
			t.Errorf("%+v.Match = %v, want %v", tc.q, got, tc.want)
		}
	}
	bad := audit.Entry{Action: audit.ActionUnreadable}
	if !(audit.Query{Account: "Other", Since: now}).Match(bad) {
		t.Error("unreadable markers must always be selected")
	}
}

func TestFileAppendRead(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), audit.FileName)
	f := audit.NewFile(path)
	got, err := f.Read(ctx, audit.Query{})
	if err != nil || len(got) != 0 {
		t.Fatalf("read of a missing log = %v, %v; want empty", got, err)
	}
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	entries := []audit.Entry{
		{Time: t0, Action: audit.ActionAddAccount, Account: "AONE", AccountName: "One", NewJTI: "J1"},
		{Time: t0.Add(time.Hour), Action: audit.ActionEditAccount, Account: "AONE", AccountName: "One", OldJTI: "J1", NewJTI: "J2"},
		{Time: t0.Add(2 * time.Hour), Action: audit.ActionAddAccount, Account: "ATWO", AccountName: "Two", NewJTI: "J3"},
	}
	for _, e := range entries {
		if err := f.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", fi.Mode().Perm())
	}
	got, err = f.Read(ctx, audit.Query{Account: "One"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[1].OldJTI != "J1" || got[1].NewJTI != "J2" {
		t.Errorf("account One = %+v", got)
	}
	got, _ = f.Read(ctx, audit.Query{Since: t0.Add(90 * time.Minute)})
	if len(got) != 1 || got[0].Account != "ATWO" {
		t.Errorf("since = %+v", got)
	}
}

func TestFileUnreadableLines(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), audit.FileName)
	good, _ := json.Marshal(audit.Entry{Time: time.Now(), Action: audit.ActionAddUser, UserName: "alice"})
	content := string(good) + "\n" +
		"this is not json\n" +
		"\n" +
		strings.Repeat("x", 70<<10) + "\n" +
		`{"action":"unreadable","detail":"forged"}` + "\n" +
		string(good) + "\n" +
		`{"time":"2025-01-01T00:00:00Z","act` // torn last write
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := audit.NewFile(path).Read(ctx, audit.Query{})
	if err != nil {
		t.Fatal(err)
	}
	var bad []string
	users := 0
	for _, e := range got {
		switch e.Action {
		case audit.ActionUnreadable:
			bad = append(bad, e.Detail)
		case audit.ActionAddUser:
			users++
		}
	}
	if users != 2 {
		t.Errorf("readable entries = %d, want 2", users)
	}
	want := []string{"line 2: not an audit entry", "line 4: longer than 64 KiB", "line 5: not an audit entry", "line 7: not an audit entry"}
	if len(bad) != len(want) {
		t.Fatalf("unreadable = %q, want %q", bad, want)
	}
	for i := range want {
		if !strings.HasSuffix(bad[i], want[i]) || !strings.Contains(bad[i], path) {
			t.Errorf("unreadable[%d] = %q, want the file and %q", i, bad[i], want[i])
		}
	}
}

// Concurrent appends (here goroutines; O_APPEND makes processes the same)
// never interleave within a line.
func TestFileConcurrentAppends(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), audit.FileName)
	const writers, each = 8, 50
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f := audit.NewFile(path) // one File per writer, like separate processes
			for i := range each {
				e := audit.Entry{Time: time.Now(), Action: audit.ActionStorePut, Detail: fmt.Sprintf("w%d-%d %s", w, i, strings.Repeat("y", 2000))}
				if err := f.Append(ctx, e); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	got, err := audit.NewFile(path).Read(ctx, audit.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != writers*each {
		t.Fatalf("entries = %d, want %d", len(got), writers*each)
	}
	for _, e := range got {
		if e.Action != audit.ActionStorePut {
			t.Fatalf("damaged entry: %+v", e)
		}
	}
}

func TestMemoryKeepsNewest(t *testing.T) {
	ctx := context.Background()
	m := &audit.Memory{Max: 3}
	t0 := time.Now()
	for i := range 5 {
		_ = m.Append(ctx, audit.Entry{Time: t0.Add(time.Duration(i) * time.Second), Action: audit.ActionStorePut, NewJTI: fmt.Sprint(i)})
	}
	got, _ := m.Read(ctx, audit.Query{})
	if len(got) != 3 || got[0].NewJTI != "2" || got[2].NewJTI != "4" {
		t.Errorf("kept %+v, want the newest 3", got)
	}
}

func TestEntryString(t *testing.T) {
	e := audit.Entry{
		Time: time.Now(), Action: audit.ActionRevokeUser, OSUser: "ops", Via: audit.ViaCLI,
		Command: "natsauth revocations add-user", Signer: "OSK", Account: "AKEY", AccountName: "MyAccount",
		User: "UKEY", UserName: "bob", OldJTI: "J1", NewJTI: "J2",
	}
	s := e.String()
	for _, want := range []string{"revoke user bob UKEY in account MyAccount AKEY", "jti J1→J2", "by ops", "via cli (natsauth revocations add-user)", "signed by OSK"} {
		if !strings.Contains(s, want) {
			t.Errorf("%q lacks %q", s, want)
		}
	}
}

func FuzzReadLines(f *testing.F) {
	good, _ := json.Marshal(audit.Entry{Time: time.Now(), Action: audit.ActionAddUser, UserName: "alice"})
	f.Add(append(good, '\n'))
	f.Add([]byte("{}\n\n{\"action\":\"x\"}"))
	f.Add([]byte(`{"time":"bad","action":"a"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := audit.ReadLines(context.Background(), bytes.NewReader(data), "fuzz", audit.Query{})
		if err != nil {
			t.Fatalf("read of an in-memory log failed: %v", err)
		}
		lines := bytes.Count(data, []byte("\n")) + 1
		if len(got) > lines {
			t.Fatalf("%d entries from %d lines", len(got), lines)
		}
		for _, e := range got {
			if e.Action == "" {
				t.Fatalf("entry without an action: %+v", e)
			}
		}
	})
}
