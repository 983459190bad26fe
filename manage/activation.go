package manage

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/claims"
	"github.com/natsauth/natsauth/store"
)

// maxToken bounds an activation token read from a file or URL.
const maxToken = 1 << 20

// tokenTimeout bounds fetching or pushing an activation token over HTTP.
const tokenTimeout = 10 * time.Second

// ReadToken reads an activation token from ref: an http(s) URL (such as
// the one PushActivation returns, or any web server) or a file, in nsc's
// decorated form or as the bare JWT. AddImport checks what it holds.
func ReadToken(ctx context.Context, ref string) (string, error) {
	var b []byte
	var err error
	if strings.HasPrefix(ref, "http://") || strings.HasPrefix(ref, "https://") {
		b, err = getToken(ctx, ref)
	} else {
		b, err = readFile(ref)
	}
	if err != nil {
		return "", fmt.Errorf("read activation token %s: %w", store.Redact(ref), err)
	}
	if strings.TrimSpace(string(b)) == "" {
		return "", fmt.Errorf("read activation token %s: it is empty", store.Redact(ref))
	}
	return string(b), nil
}

func readFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxToken))
}

func getToken(ctx context.Context, u string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, tokenTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxToken))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d %s", resp.StatusCode, strings.TrimSpace(string(b[:min(len(b), 200)])))
	}
	return b, nil
}

// ActivationsURL is the activations API of an account server, where
// PushActivation posts tokens: server is the account server's URL (its
// root, its API base .../jwt/v1 or its accounts URL); empty means the
// operator's account_server_url.
func (m *Manager) ActivationsURL(server string) (string, error) {
	if server == "" {
		server = m.home.Operator().AccountServerURL
	}
	if !strings.HasPrefix(server, "http://") && !strings.HasPrefix(server, "https://") {
		return "", fmt.Errorf("push activation: give the account server with --account-server http://HOST:9090 " +
			"(the operator's account_server_url is not an http(s) URL)")
	}
	if _, err := claims.NewAccountServer(server, nil); err != nil {
		return "", fmt.Errorf("push activation: %w", err)
	}
	u, _ := url.Parse(server)
	p := strings.TrimSuffix(strings.TrimRight(u.Path, "/"), "/accounts")
	if p == "" {
		p = "/jwt/v1"
	}
	u.Path, u.RawPath = p+"/activations", ""
	return u.String(), nil
}

// PushActivation posts an activation token to an account server's
// activations API (ActivationsURL), as nsc's generate activation --push
// does with the nats-account-server, and returns the URL the importer
// reads it back from (<api>/<hash>), which add import --token takes.
func PushActivation(ctx context.Context, activationsURL string, act *authority.Activation) (string, error) {
	hash, err := act.Claims.HashID()
	if err != nil {
		return "", fmt.Errorf("push activation: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, tokenTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, activationsURL, strings.NewReader(act.Token))
	if err != nil {
		return "", fmt.Errorf("push activation: %w", err)
	}
	req.Header.Set("Content-Type", "application/jwt")
	shown := store.Redact(activationsURL)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("push activation to %s: %w", shown, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("push activation to %s: status %d %s", shown, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return shown + "/" + hash, nil
}
