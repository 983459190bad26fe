package console

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/natsauth/natsauth/internal/pgtest"
	"github.com/natsauth/natsauth/sysevents"
)

// Every place auth failures are kept gives back what was added, oldest
// first, once each, and drops what is past the retention or the limit.
func TestFailureStores(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ name, url string }{
		{"sqlite", "sqlite://" + filepath.Join(dir, "accounts.db")},
		{"postgres", pgtest.Start(t).NewDatabase(t)},
		{"file", "dir://" + filepath.Join(dir, "jwts")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			home := filepath.Join(t.TempDir(), "home")
			if err := os.MkdirAll(home, 0o700); err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			st, where, err := openFailureStore(ctx, home, tc.url)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("kept in %s", where)
			now := time.Now().Truncate(time.Microsecond)
			rec := func(ago time.Duration, remote string) sysevents.Record {
				return sysevents.Record{Time: now.Add(-ago), Type: "auth_error", Server: "S1", Remote: remote,
					User: "UABC", Cause: "revoked", Detail: "user revoked"}
			}
			old := rec(FailureRetention+time.Hour, "10.0.0.9")
			if err := st.add(ctx, []sysevents.Record{old, rec(3*time.Minute, "10.0.0.1"), rec(2*time.Minute, "10.0.0.2")}); err != nil {
				t.Fatal(err)
			}
			// The same event from a second console, and a new one.
			if err := st.add(ctx, []sysevents.Record{rec(2*time.Minute, "10.0.0.2"), rec(time.Minute, "10.0.0.3")}); err != nil {
				t.Fatal(err)
			}
			if tc.name != "file" { // a file is not shared: it keeps what it was given
				got, err := st.load(ctx, time.Time{}, 100)
				if err != nil {
					t.Fatal(err)
				}
				if fmt.Sprint(remotes(got)) != "[10.0.0.1 10.0.0.2 10.0.0.3]" {
					t.Errorf("kept %v, want the three within the retention, once each, oldest first", remotes(got))
				}
			}
			st.close()
			// Reopened (a restart): the latest two since 150 s ago, then the last one only.
			st, _, err = openFailureStore(ctx, home, tc.url)
			if err != nil {
				t.Fatal(err)
			}
			defer st.close()
			got, err := st.load(ctx, now.Add(-150*time.Second), 100)
			if err != nil || len(got) == 0 {
				t.Fatalf("after reopening: %v, %v", got, err)
			}
			if r := got[len(got)-1]; r.Remote != "10.0.0.3" || r.Cause != "revoked" || r.Detail != "user revoked" || !r.Time.Equal(now.Add(-time.Minute)) {
				t.Errorf("newest after reopening: %+v", r)
			}
			if got, _ := st.load(ctx, time.Time{}, 1); len(got) != 1 || got[0].Remote != "10.0.0.3" {
				t.Errorf("the newest one: %v", remotes(got))
			}
			// Past the limit the oldest go.
			many := make([]sysevents.Record, FailureKeep+5)
			for i := range many {
				many[i] = rec(time.Duration(len(many)-i)*time.Millisecond, fmt.Sprintf("10.1.%d.%d", i/250, i%250))
			}
			if f, ok := st.(*sqlFailures); ok {
				f.lastTrim = time.Time{}
			}
			if err := st.add(ctx, many); err != nil {
				t.Fatal(err)
			}
			if tc.name == "file" { // trimmed when the file holds twice the limit
				if err := st.add(ctx, many); err != nil {
					t.Fatal(err)
				}
			}
			all, err := st.load(ctx, time.Time{}, 3*FailureKeep)
			if err != nil {
				t.Fatal(err)
			}
			if len(all) > FailureKeep || all[len(all)-1].Remote != many[len(many)-1].Remote {
				t.Errorf("after %d more: %d kept (limit %d), newest %s", len(many), len(all), FailureKeep, all[len(all)-1].Remote)
			}
			if tc.name == "file" {
				if fi, err := os.Stat(filepath.Join(home, FailuresFileName)); err != nil || fi.Mode().Perm() != 0o600 {
					t.Errorf("failures file: %v %v", fi, err)
				}
			}
		})
	}
}

func remotes(recs []sysevents.Record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.Remote)
	}
	return out
}
