package probe

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestHealth(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.Error(w, "not ok", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte(`{"status":"ok"}` + "\n"))
	}))
	defer srv.Close()
	body, err := Health(t.Context(), srv.URL+"/healthz", time.Second)
	if got, want := body, `{"status":"ok"}`; err != nil || got != want {
		t.Errorf("healthy: got %q, %v, want %q", got, err, want)
	}
	for _, tc := range []struct {
		url     string
		timeout time.Duration
		want    string
	}{
		{srv.URL + "/down", time.Second, "503 Service Unavailable: not ok"},
		{"ftp://x", time.Second, "want an http:// or https:// URL"},
		{srv.URL, 0, "--timeout 0s"},
		{"http://127.0.0.1:1/healthz", time.Second, "healthcheck:"},
	} {
		if _, err := Health(t.Context(), tc.url, tc.timeout); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.url, err, tc.want)
		}
	}
}
