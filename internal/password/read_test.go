package password

import (
	"strings"
	"testing"
)

func TestReadLineAndSecret(t *testing.T) {
	for in, want := range map[string]string{"s3cret\nrest\n": "s3cret", "s3cret\r\n": "s3cret", "s3cret": "s3cret", "": ""} {
		got, err := ReadLine(strings.NewReader(in))
		if err != nil || got != want {
			t.Errorf("ReadLine(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if got, err := ReadSecret(strings.NewReader("pw\n")); err != nil || got != "pw" {
		t.Errorf("ReadSecret = %q, %v", got, err)
	}
	for _, in := range []string{"", "\n"} {
		if _, err := ReadSecret(strings.NewReader(in)); err == nil || err.Error() != "no password on stdin" {
			t.Errorf("ReadSecret(%q): err = %v, want no password on stdin", in, err)
		}
	}
}
