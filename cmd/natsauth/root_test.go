package main

import (
	"strings"
	"testing"
)

// Every command checks the global flags, even one that would not use them.
func TestGlobalFlagsCheckedByEveryCommand(t *testing.T) {
	c := initHome(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--log-level", "loud", "list", "accounts"}, `--log-level "loud"`},
		{[]string{"--store", "foo://bar", "list", "accounts"}, `unknown scheme "foo"`},
		{[]string{"--store", "not a url", "describe", "operator"}, "is not a store URL"},
		{[]string{"--wait", "-1s", "describe", "operator"}, "--wait -1s"},
	} {
		out, _, err := runCLI(t, append(tc.args, "--home", c.dir)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("natsauth %v: err = %v, want %q", tc.args, err, tc.want)
		}
		if out != "" {
			t.Errorf("natsauth %v printed %q before refusing", tc.args, out)
		}
	}
	t.Setenv("NATSAUTH_STORE", "foo://bar")
	if _, _, err := runCLI(t, "list", "accounts", "--home", c.dir); err == nil || !strings.Contains(err.Error(), "NATSAUTH_STORE") {
		t.Errorf("a bad NATSAUTH_STORE: %v", err)
	}
}
