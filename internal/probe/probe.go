// Package probe asks a health endpoint whether it is healthy: what
// `natsauth healthcheck` runs in a container image that has no curl.
package probe

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Health GETs url (http or https) within timeout and returns the start of
// the body when it answers 200 OK; any other answer, or none, is an error
// with the reason. Errors start with "healthcheck".
func Health(ctx context.Context, url string, timeout time.Duration) (string, error) {
	if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
		return "", fmt.Errorf("healthcheck: --url %q: want an http:// or https:// URL", url)
	}
	if timeout <= 0 {
		return "", fmt.Errorf("healthcheck: --timeout %v: want a positive duration", timeout)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", fmt.Errorf("healthcheck %s: %w", url, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	text := strings.TrimSpace(string(body))
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("healthcheck %s: %s: %s", url, resp.Status, text)
	}
	return text, nil
}
