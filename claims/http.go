package claims

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/nats-io/nkeys"
)

// ErrNotFound means the account server does not have the account.
var ErrNotFound = errors.New("account not found")

// maxAnswer bounds what is read from an account server: a JWT is at most
// 1 MiB.
const maxAnswer = 2 << 20

// AccountServer is a client of the account-server HTTP API
// (nats-account-server, `natsauth account-server`).
type AccountServer struct {
	base string // .../jwt/v1, no trailing slash
	hc   *http.Client
}

// NewAccountServer returns a client for the account server at rawURL:
// its root (http://host:9090), its API base (…/jwt/v1, what nsc takes) or
// its accounts URL (…/jwt/v1/accounts/, what a nats-server resolver
// takes). hc nil means http.DefaultClient.
func NewAccountServer(rawURL string, hc *http.Client) (*AccountServer, error) {
	u, err := url.Parse(strings.TrimSpace(rawURL))
	if err != nil {
		return nil, fmt.Errorf("account server url: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("account server url %s: scheme must be http or https", redact(u))
	}
	if u.Host == "" {
		return nil, fmt.Errorf("account server url %s: no host", redact(u))
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("account server url %s: no query or fragment allowed", redact(u))
	}
	p := strings.TrimRight(u.Path, "/")
	p = strings.TrimSuffix(p, "/accounts")
	if p == "" {
		p = "/jwt/v1"
	}
	u.Path, u.RawPath = p, ""
	if hc == nil {
		hc = http.DefaultClient
	}
	return &AccountServer{base: u.String(), hc: hc}, nil
}

// URL is the API base the client talks to (…/jwt/v1).
func (a *AccountServer) URL() string {
	u, err := url.Parse(a.base)
	if err != nil {
		return a.base
	}
	return redact(u)
}

func redact(u *url.URL) string {
	if u.User == nil {
		return u.String()
	}
	c := *u
	c.User = url.User(u.User.Username())
	return c.String()
}

func (a *AccountServer) accountURL(account string) (string, error) {
	if !nkeys.IsValidPublicAccountKey(account) {
		return "", fmt.Errorf("%.60q is not an account public key", account)
	}
	return a.base + "/accounts/" + account, nil
}

// Post stores an account JWT (POST /jwt/v1/accounts/<pub>). A refusal
// (any status but 200) is a Reply with Failed set and the server's reason;
// the error is for requests that got no answer.
func (a *AccountServer) Post(ctx context.Context, account, token string) (Reply, error) {
	u, err := a.accountURL(account)
	if err != nil {
		return Reply{}, fmt.Errorf("post account: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(token))
	if err != nil {
		return Reply{}, fmt.Errorf("post account %s: %w", account, err)
	}
	req.Header.Set("Content-Type", "application/jwt")
	resp, err := a.hc.Do(req)
	if err != nil {
		return Reply{}, fmt.Errorf("post account %s: %w", account, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	r := Reply{Server: ServerInfo{Name: a.URL()}, Account: account, Code: resp.StatusCode,
		Message: answerText(body), Failed: resp.StatusCode != http.StatusOK}
	if r.Message == "" {
		r.Message = http.StatusText(resp.StatusCode)
	}
	return r, nil
}

// Get fetches an account's JWT (GET /jwt/v1/accounts/<pub>). An unknown
// account is ErrNotFound. The JWT is not validated: that is the caller's
// job.
func (a *AccountServer) Get(ctx context.Context, account string) (string, error) {
	u, err := a.accountURL(account)
	if err != nil {
		return "", fmt.Errorf("get account: %w", err)
	}
	body, status, err := a.get(ctx, u)
	if err != nil {
		return "", fmt.Errorf("get account %s: %w", account, err)
	}
	switch status {
	case http.StatusOK:
		return strings.TrimSpace(string(body)), nil
	case http.StatusNotFound:
		return "", fmt.Errorf("get account %s from %s: %w", account, a.URL(), ErrNotFound)
	}
	return "", fmt.Errorf("get account %s from %s: status %d: %s", account, a.URL(), status, answerText(body))
}

// List returns the accounts the server stores (GET
// /jwt/v1/accounts/?list=true, a natsauth extension that the
// nats-account-server does not have).
func (a *AccountServer) List(ctx context.Context) ([]string, error) {
	body, status, err := a.get(ctx, a.base+"/accounts/?list=true")
	if err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("list accounts at %s: status %d: %s", a.URL(), status, answerText(body))
	}
	var ids []string
	if err := json.Unmarshal(body, &ids); err != nil {
		return nil, fmt.Errorf("list accounts at %s: not a natsauth account server (%.100q): %w", a.URL(), body, err)
	}
	return ids, nil
}

func (a *AccountServer) get(ctx context.Context, u string) ([]byte, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, 0, err
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return nil, 0, fmt.Errorf("read answer: %w", err)
	}
	return body, resp.StatusCode, nil
}

// answerText makes a short, single-line message of an answer body: the
// "error" or "message" field of a JSON body, else the text.
func answerText(body []byte) string {
	var j struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &j) == nil {
		if j.Error != "" {
			return j.Error
		}
		if j.Message != "" {
			return j.Message
		}
	}
	s := strings.Join(strings.Fields(string(body)), " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
