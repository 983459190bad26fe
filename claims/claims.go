// Package claims is a client for the two protocols that distribute account
// JWTs to nats-servers: the system-account claims protocol that `full`
// resolvers and `natsauth serve` answer ($SYS.REQ.CLAIMS.UPDATE, LOOKUP,
// LIST, DELETE — what `nsc push` and `nsc pull` send), and the HTTP API of
// an account server (nats-account-server, `natsauth account-server`).
//
// Every server of a cluster answers a claims request, so a Client publishes
// each request with its own reply inbox and gathers every answer that
// arrives within its wait window, as nsc does.
package claims

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// Subjects of the claims protocol.
const (
	SubjectUpdate = "$SYS.REQ.CLAIMS.UPDATE"
	SubjectList   = "$SYS.REQ.CLAIMS.LIST"
	SubjectDelete = "$SYS.REQ.CLAIMS.DELETE"
)

// LookupSubject is the subject that asks for one account's JWT.
func LookupSubject(account string) string {
	return "$SYS.REQ.ACCOUNT." + account + ".CLAIMS.LOOKUP"
}

// DefaultWait is how long a Client gathers answers to one request.
const DefaultWait = 2 * time.Second

// ErrNoResponders means no server answers the claims protocol on that
// connection: its resolver is neither `full` nor natsauth's (a URL or
// memory resolver does not answer), or the user may not publish there.
var ErrNoResponders = errors.New("no server answers the claims protocol (is its resolver `full`, or natsauth serve?)")

// ErrNoAnswer means a request got no answer within the wait window.
var ErrNoAnswer = errors.New("no server answered in time")

// ServerInfo names the server that answered, as nats-server stamps its
// system messages.
type ServerInfo struct {
	Name    string `json:"name"`
	Host    string `json:"host,omitempty"`
	ID      string `json:"id"`
	Cluster string `json:"cluster,omitempty"`
	Version string `json:"ver,omitempty"`
}

// String is the server's name, and its ID when the name is not the ID.
func (s ServerInfo) String() string {
	switch {
	case s.Name == "" && s.ID == "":
		return "unnamed server"
	case s.Name == "" || s.Name == s.ID:
		return s.ID
	case s.ID == "":
		return s.Name
	}
	return s.Name + " (" + s.ID + ")"
}

// Reply is one server's answer to an update or delete request.
type Reply struct {
	Server  ServerInfo
	Account string // the account the answer is about ("" for deletes)
	Code    int    // 200 when accepted
	Message string // the server's message, or its error description
	Failed  bool   // the server refused or failed
}

// OK reports whether the server accepted the request.
func (r Reply) OK() bool { return !r.Failed }

// Listing is one server's answer to a list request.
type Listing struct {
	Server   ServerInfo
	Accounts []string
}

// Client sends claims requests over a NATS connection of a system-account
// user. It does not own the connection.
type Client struct {
	nc   *nats.Conn
	wait time.Duration
}

// NewClient returns a Client on nc that gathers answers for wait (0 means
// DefaultWait).
func NewClient(nc *nats.Conn, wait time.Duration) *Client {
	if wait <= 0 {
		wait = DefaultWait
	}
	return &Client{nc: nc, wait: wait}
}

// Update pushes an account JWT ($SYS.REQ.CLAIMS.UPDATE) and returns every
// server's answer. It fails when no server answers. Like every request of
// a Client, it returns the answers it could read together with an error
// for those it could not.
func (c *Client) Update(ctx context.Context, token string) ([]Reply, error) {
	return c.replies(ctx, "push account", SubjectUpdate, []byte(token))
}

// Delete sends an operator-signed delete request (see DeleteRequest) and
// returns every server's answer.
func (c *Client) Delete(ctx context.Context, request string) ([]Reply, error) {
	return c.replies(ctx, "delete accounts", SubjectDelete, []byte(request))
}

// List asks every server for the accounts it stores.
func (c *Client) List(ctx context.Context) ([]Listing, error) {
	var out []Listing
	err := c.gather(ctx, "list accounts", SubjectList, nil, func(m *nats.Msg) error {
		var resp struct {
			Server *ServerInfo    `json:"server"`
			Data   []string       `json:"data"`
			Error  *responseError `json:"error"`
		}
		if err := json.Unmarshal(m.Data, &resp); err != nil {
			return fmt.Errorf("unreadable answer %.200q: %w", m.Data, err)
		}
		if resp.Error != nil {
			return fmt.Errorf("server %s: %s", serverOf(resp.Server), resp.Error.Description)
		}
		out = append(out, Listing{Server: serverOf(resp.Server), Accounts: resp.Data})
		return nil
	})
	return out, err
}

// Lookup asks every server for an account's JWT. It returns one entry per
// answer: the JWT, or "" from a server that does not have the account. The
// JWTs are not validated: that is the caller's job.
func (c *Client) Lookup(ctx context.Context, account string) ([]string, error) {
	if !nkeys.IsValidPublicAccountKey(account) {
		return nil, fmt.Errorf("lookup %.60q: not an account public key", account)
	}
	var out []string
	err := c.gather(ctx, "lookup account "+account, LookupSubject(account), nil, func(m *nats.Msg) error {
		out = append(out, strings.TrimSpace(string(m.Data)))
		return nil
	})
	return out, err
}

// DeleteRequest builds the request that deletes accounts from `full`
// resolvers, as nsc builds it: a generic JWT, issued and signed by an
// operator key (its identity or a signing key), whose data lists the
// account keys.
func DeleteRequest(operator nkeys.KeyPair, accounts []string) (string, error) {
	pub, err := operator.PublicKey()
	if err != nil {
		return "", fmt.Errorf("delete request: operator key: %w", err)
	}
	if !nkeys.IsValidPublicOperatorKey(pub) {
		return "", fmt.Errorf("delete request: %s is not an operator key", pub)
	}
	if len(accounts) == 0 {
		return "", errors.New("delete request: no accounts")
	}
	for _, a := range accounts {
		if !nkeys.IsValidPublicAccountKey(a) {
			return "", fmt.Errorf("delete request: %.60q is not an account public key", a)
		}
	}
	gc := jwt.NewGenericClaims(pub)
	gc.Data["accounts"] = append([]string(nil), accounts...)
	tok, err := gc.Encode(operator)
	if err != nil {
		return "", fmt.Errorf("delete request: sign: %w", err)
	}
	return tok, nil
}

type responseError struct {
	Account     string `json:"account"`
	Code        int    `json:"code"`
	Description string `json:"description"`
}

// replies gathers update/delete answers in the full resolver's JSON shape.
func (c *Client) replies(ctx context.Context, op, subject string, data []byte) ([]Reply, error) {
	var out []Reply
	err := c.gather(ctx, op, subject, data, func(m *nats.Msg) error {
		var resp struct {
			Server *ServerInfo    `json:"server"`
			Data   any            `json:"data"`
			Error  *responseError `json:"error"`
		}
		if err := json.Unmarshal(m.Data, &resp); err != nil {
			return fmt.Errorf("unreadable answer %.200q: %w", m.Data, err)
		}
		r := Reply{Server: serverOf(resp.Server)}
		switch d := resp.Data.(type) {
		case map[string]any:
			r.Account, _ = d["account"].(string)
			if code, ok := d["code"].(float64); ok {
				r.Code = int(code)
			}
			r.Message, _ = d["message"].(string)
		case nil:
		default:
			r.Message = fmt.Sprint(d)
		}
		switch {
		case resp.Error != nil:
			r.Failed = true
			r.Account, r.Code, r.Message = resp.Error.Account, resp.Error.Code, resp.Error.Description
		case resp.Data == nil:
			r.Failed = true
			r.Message = fmt.Sprintf("answer without data or error: %.200s", m.Data)
		}
		out = append(out, r)
		return nil
	})
	return out, err
}

func serverOf(s *ServerInfo) ServerInfo {
	if s == nil {
		return ServerInfo{}
	}
	return *s
}

// gather publishes one request with a fresh reply inbox and hands every
// answer that arrives within the wait window (or until ctx ends) to each.
// An answer each cannot read fails the whole request: it is reported, not
// skipped.
func (c *Client) gather(ctx context.Context, op, subject string, data []byte, each func(*nats.Msg) error) error {
	inbox := c.nc.NewInbox()
	sub, err := c.nc.SubscribeSync(inbox)
	if err != nil {
		return fmt.Errorf("%s: subscribe to the reply inbox: %w", op, err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := c.nc.PublishRequest(subject, inbox, data); err != nil {
		return fmt.Errorf("%s: publish %s: %w", op, subject, err)
	}
	wctx, cancel := context.WithTimeout(ctx, c.wait)
	defer cancel()
	answers := 0
	var errs []error
	for {
		m, err := sub.NextMsgWithContext(wctx)
		switch {
		case err == nil:
		case errors.Is(err, nats.ErrNoResponders):
			if answers == 0 {
				return fmt.Errorf("%s: %w", op, ErrNoResponders)
			}
			continue
		case ctx.Err() != nil:
			return fmt.Errorf("%s: %w", op, ctx.Err())
		case errors.Is(err, context.DeadlineExceeded):
			if answers == 0 && len(errs) == 0 {
				return fmt.Errorf("%s: %w (waited %s)", op, ErrNoAnswer, c.wait)
			}
			return errors.Join(errs...)
		default:
			return fmt.Errorf("%s: %w", op, err)
		}
		answers++
		if err := each(m); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", op, err))
		}
	}
}

// CheckNATSURL reports whether s is a NATS URL a claims Client can be
// connected to: nats, tls, ws or wss with a host.
func CheckNATSURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return fmt.Errorf("server %q: not a URL (nats://host:4222)", redactRaw(s))
	}
	switch u.Scheme {
	case "nats", "tls", "ws", "wss":
		return nil
	}
	return fmt.Errorf("server %s: scheme %q is not a NATS scheme (nats, tls, ws, wss); use an account server for http(s)",
		redact(u), u.Scheme)
}

func redactRaw(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "<unparseable url>"
	}
	return redact(u)
}
