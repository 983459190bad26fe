package manage_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/natsauth/natsauth/manage"
	"github.com/natsauth/natsauth/serving"
	"github.com/natsauth/natsauth/store"
)

func TestResultWriteText(t *testing.T) {
	srv := serving.Server{PID: 42}
	for _, tc := range []struct {
		name string
		res  *manage.Result
		want string
	}{
		{"nil", nil, ""},
		{"no server runs", &manage.Result{Deliveries: []manage.Delivery{
			{Account: "A", Target: "sqlite:///h/accounts.db", Change: store.Created},
		}}, "published account A to sqlite:///h/accounts.db (created); no natsauth serve is running from this home (servers read the store when they start)\n"},
		{"read and applied", &manage.Result{Servers: []serving.Server{srv}, Deliveries: []manage.Delivery{
			{Account: "A", Target: "dir:///jwt", Change: store.Updated, Readers: []string{"serve pid 42"}},
			{Account: "A", Target: "serve pid 42", Server: &srv, Took: 12345678 * time.Nanosecond},
			{Account: "B", Target: "mem://", Deleted: true},
			{Account: "C", Target: "serve pid 42", Server: &srv, Note: "stopped meanwhile"},
			{Account: "D", Target: "mem://", Err: errors.New("down")},
		}}, "published account A to dir:///jwt (updated), read by serve pid 42\n" +
			"applied account A on serve pid 42 (12ms)\n" +
			"deleted account B from mem://; no running server reads it\n" +
			"  serve pid 42: stopped meanwhile\n"},
	} {
		var b strings.Builder
		tc.res.WriteText(&b)
		if got := b.String(); got != tc.want {
			t.Errorf("%s: got\n%q\nwant\n%q", tc.name, got, tc.want)
		}
	}
}

func TestCopySummaryWriteText(t *testing.T) {
	sum := manage.CopySummary{Copied: 3, Unchanged: 1, Skipped: 1, Refused: 1,
		Skips:    []manage.CopyIssue{{Account: "AA", Reason: "the destination holds a newer JWT"}},
		Refusals: []manage.CopyIssue{{Account: "AB", Reason: "not signed by the operator"}}}
	var b strings.Builder
	sum.WriteText(&b)
	want := "skipped AA: the destination holds a newer JWT\nrefused AB: not signed by the operator\ncopied 3, unchanged 1, skipped 1, refused 1\n"
	if got := b.String(); got != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
}
