package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var monitorRe = regexp.MustCompile(`monitoring on (http://[0-9.:]+)`)

func TestHealthcheckRealServer(t *testing.T) {
	_, out := startDemo(t, filepath.Join(t.TempDir(), "home"))
	m := monitorRe.FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("demo printed no monitoring address:\n%s", out.String())
	}
	stdout, stderr, err := runCLI(t, "healthcheck", "--url", m[1]+"/healthz")
	if err != nil {
		t.Fatalf("healthcheck of a running natsauth: %v\n%s%s", err, stdout, stderr)
	}
	if !strings.Contains(stdout, `"status":"ok"`) {
		t.Errorf("healthcheck output %q lacks nats-server's status", stdout)
	}
	// The URL may also be given as the argument.
	if stdout, stderr, err := runCLI(t, "healthcheck", m[1]+"/healthz"); err != nil || !strings.Contains(stdout, `"status":"ok"`) {
		t.Fatalf("healthcheck URL: %v\n%s%s", err, stdout, stderr)
	}
}

func TestHealthcheckFailures(t *testing.T) {
	unhealthy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, `{"status":"unavailable","error":"JetStream not current"}`, http.StatusServiceUnavailable)
	}))
	defer unhealthy.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String() + "/healthz"
	l.Close()

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unhealthy", []string{"--url", unhealthy.URL + "/healthz"}, "503 Service Unavailable: {\"status\":\"unavailable\""},
		{"nothing listening", []string{"--url", closed}, "connection refused"},
		{"not http", []string{"--url", "nats://127.0.0.1:4222"}, `want an http:// or https:// URL`},
		{"bad timeout", []string{"--timeout", "0s"}, "want a positive duration"},
		{"positional not http", []string{"nats://127.0.0.1:4222"}, `want an http:// or https:// URL`},
		{"two urls", []string{"http://a/healthz", "--url", "http://b/healthz"}, "give the URL once"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, _, err := runCLI(t, append([]string{"healthcheck"}, tc.args...)...)
			if err == nil {
				t.Fatalf("healthcheck %v succeeded: %s", tc.args, stdout)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q lacks %q", err, tc.want)
			}
		})
	}
}
