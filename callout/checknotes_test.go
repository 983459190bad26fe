package callout_test

import (
	"strings"
	"testing"

	"github.com/natsauth/natsauth/callout"
)

func TestCheckInputWriteNotes(t *testing.T) {
	for _, tc := range []struct {
		in   callout.CheckInput
		want string
	}{
		{callout.CheckInput{Token: "t"}, ""},
		{callout.CheckInput{Token: "t", NoVerify: true}, "(token not verified: --no-verify)\n"},
		{callout.CheckInput{Username: "alice"}, "(password not checked: give --password-stdin to check it)\n"},
		{callout.CheckInput{Username: "alice", Password: "pw"}, ""},
	} {
		var b strings.Builder
		tc.in.WriteNotes(&b)
		if got := b.String(); got != tc.want {
			t.Errorf("%+v: got %q, want %q", tc.in, got, tc.want)
		}
	}
}
