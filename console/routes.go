package console

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/natsauth/natsauth/audit"
	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/console/access"
	"github.com/natsauth/natsauth/manage"
)

// table is every API route: the mux registers it and the OpenAPI
// document describes it.
func (s *Server) table() []route {
	page := []param{{"q", "search text"}, {"offset", "first row (default 0)"}, {"limit", "rows (default 50, at most 500)"}}
	return []route{
		{Method: "GET", Path: "/api/openapi.json", Summary: "This API's OpenAPI 3.1 document", Need: public, h: s.openapi},
		{Method: "POST", Path: "/api/login", Summary: "Sign in; sets the session cookie and returns the CSRF token", Need: public,
			Body: LoginRequest{}, Reply: SessionInfo{}, h: s.login},
		{Method: "POST", Path: "/api/logout", Summary: "Sign out", Need: signed, Change: true, h: s.logout},
		{Method: "GET", Path: "/api/session", Summary: "The signed-in user and the CSRF token", Need: signed, Reply: SessionInfo{}, h: s.session},
		{Method: "GET", Path: "/api/overview", Summary: "Operator, nodes, accounts, connections, auth failures of the last hour", Need: opRead, Reply: Overview{}, h: s.overview},
		{Method: "GET", Path: "/api/operator", Summary: "The operator", Need: signed, Reply: OperatorView{}, h: s.operator},
		{Method: "GET", Path: "/api/nodes", Summary: "The running servers (VARZ over the system account)", Need: opRead, Reply: []manage.NodeState{}, h: s.nodes},
		{Method: "GET", Path: "/api/accounts", Summary: "Accounts, searched and paged", Need: signed, Query: page, Reply: manage.AccountPage{}, h: s.listAccounts},
		{Method: "POST", Path: "/api/accounts", Summary: "Create an account", Need: opAdmin, Change: true, Body: AccountRequest{}, Reply: ChangeResult{}, h: s.createAccount},
		{Method: "GET", Path: "/api/accounts/{account}", Summary: "One account: limits, signing keys, revocations, exports, imports", Need: signed, Reply: AccountDetail{}, h: s.getAccount},
		{Method: "PATCH", Path: "/api/accounts/{account}", Summary: "Edit an account's limits, JetStream, expiry, description, tags", Need: signed, Change: true, Body: AccountRequest{}, Reply: ChangeResult{}, h: s.editAccount},
		{Method: "DELETE", Path: "/api/accounts/{account}", Summary: "Delete an account with its users", Need: opAdmin, Change: true, Reply: ChangeResult{}, h: s.deleteAccount},
		{Method: "POST", Path: "/api/accounts/{account}/signing-keys", Summary: "Generate a signing key", Need: signed, Change: true, Reply: ChangeResult{}, h: s.addSigningKey},
		{Method: "DELETE", Path: "/api/accounts/{account}/signing-keys/{key}", Summary: "Remove a signing key", Need: signed, Change: true, Reply: ChangeResult{}, h: s.removeSigningKey},
		{Method: "GET", Path: "/api/accounts/{account}/revocations", Summary: "Revoked users of an account", Need: signed, Reply: []RevocationView{}, h: s.revocations},
		{Method: "GET", Path: "/api/accounts/{account}/users", Summary: "Users of an account, searched and paged; expiry flagged", Need: signed,
			Query: append(page, param{"expiring_within", "flag users expiring within this duration (default 168h)"}), Reply: manage.UserPage{}, h: s.listUsers},
		{Method: "POST", Path: "/api/accounts/{account}/users", Summary: "Create a user with the walkthrough's permission options", Need: signed, Change: true, Body: UserRequest{}, Reply: ChangeResult{}, h: s.createUser},
		{Method: "GET", Path: "/api/accounts/{account}/users/{user}", Summary: "One user with its claims", Need: signed, Reply: UserDetail{}, h: s.getUser},
		{Method: "PATCH", Path: "/api/accounts/{account}/users/{user}", Summary: "Edit a user's permissions, limits and expiry (re-issues its JWT)", Need: signed, Change: true, Body: UserRequest{}, Reply: ChangeResult{}, h: s.editUser},
		{Method: "DELETE", Path: "/api/accounts/{account}/users/{user}", Summary: "Delete a user (revoke=true revokes it first)", Need: signed, Change: true,
			Query: []param{{"revoke", "revoke the user's JWTs before deleting it (true/false, default true)"}}, Reply: ChangeResult{}, h: s.deleteUser},
		{Method: "POST", Path: "/api/accounts/{account}/users/{user}/creds", Summary: "Download the user's creds file, once per user JWT", Need: signed, Change: true, h: s.takeCreds},
		{Method: "POST", Path: "/api/accounts/{account}/users/{user}/revoke", Summary: "Revoke the user: servers close its connections", Need: signed, Change: true, Reply: ChangeResult{}, h: s.revokeUser},
		{Method: "DELETE", Path: "/api/accounts/{account}/users/{user}/revoke", Summary: "Remove the user's revocation", Need: signed, Change: true, Reply: ChangeResult{}, h: s.unrevokeUser},
		{Method: "GET", Path: "/api/accounts/{account}/connections", Summary: "Live connections of an account on every server", Need: signed, Reply: ConnectionsView{}, h: s.connections},
		{Method: "POST", Path: "/api/accounts/{account}/connections/{server}/{cid}/kick", Summary: "Close one connection (it may reconnect; revoke to keep it out)", Need: signed, Change: true, h: s.kick},
		{Method: "GET", Path: "/api/accounts/{account}/jetstream", Summary: "JetStream usage of an account", Need: signed, Reply: manage.JetStreamUsage{}, h: s.jetstream},
		{Method: "GET", Path: "/api/auth-failures", Summary: "Failed authentications: who, why, from where", Need: signed,
			Query: []param{{"since", "RFC 3339 time or a duration ago (default 1h)"}, {"account", "account name"}, {"limit", "rows (default 200)"}}, Reply: FailuresView{}, h: s.failures},
		{Method: "GET", Path: "/api/audit", Summary: "Audit log: who changed what, with the claims before and after", Need: signed,
			Query: []param{{"account", "account name"}, {"actor", "console user, OS user or address contains"}, {"action", "action contains"},
				{"since", "RFC 3339 time or a duration ago"}, {"until", "RFC 3339 time"}, {"limit", "rows, newest first (default 100)"}}, Reply: AuditView{}, h: s.auditLog},
		{Method: "GET", Path: "/api/console-users", Summary: "Console users", Need: opAdmin, Reply: []UserView{}, h: s.listConsoleUsers},
		{Method: "POST", Path: "/api/console-users", Summary: "Add a console user", Need: opAdmin, Change: true, Body: ConsoleUserRequest{}, Reply: UserView{}, h: s.addConsoleUser},
		{Method: "PATCH", Path: "/api/console-users/{name}", Summary: "Change a console user's role or password", Need: signed, Change: true, Body: ConsoleUserRequest{}, Reply: UserView{}, h: s.editConsoleUser},
		{Method: "DELETE", Path: "/api/console-users/{name}", Summary: "Delete a console user", Need: opAdmin, Change: true, h: s.deleteConsoleUser},
		{Method: "GET", Path: "/api/tokens", Summary: "API tokens (yours; every user's for operator admins)", Need: signed, Reply: []access.Token{}, h: s.listTokens},
		{Method: "POST", Path: "/api/tokens", Summary: "Make an API token; its secret is shown once", Need: signed, Change: true, Body: TokenRequest{}, Reply: TokenCreated{}, h: s.addToken},
		{Method: "DELETE", Path: "/api/tokens/{id}", Summary: "Delete an API token", Need: signed, Change: true, h: s.deleteToken},
	}
}

// decode reads a JSON body; only application/json is accepted, which
// also keeps cross-site HTML forms out.
func decode(r *http.Request, v any) error {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/json" {
		return problem(http.StatusUnsupportedMediaType, "media-type", "Send JSON", "Content-Type must be application/json")
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return badRequest("the body is empty: send a JSON object")
		}
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) {
			return badRequest("a field has the wrong type", fieldErr(ute.Field, "want "+ute.Type.String()))
		}
		msg := err.Error()
		if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
			return badRequest("unknown field "+f, fieldErr(strings.Trim(f, `"`), "no such field (see /api/openapi.json)"))
		}
		return badRequest("the body is not valid JSON: " + msg)
	}
	return nil
}

func fieldErr(field, detail string) access.FieldError {
	return access.FieldError{Field: field, Detail: detail}
}

func intParam(r *http.Request, name string, def, maxV int) int {
	n, err := strconv.Atoi(r.URL.Query().Get(name))
	if err != nil || n <= 0 {
		return def
	}
	return min(n, maxV)
}

// parseTimeOrAgo reads an RFC 3339 time or a duration before now.
func parseTimeOrAgo(v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return time.Now().Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time nor a duration like 24h", v)
}

// account reads the account of the path and checks the user may read it
// (and change it, with change).
func (c *call) account(change bool) (*authority.AccountInfo, error) {
	name := c.r.PathValue("account")
	if err := c.authorize(name, change); err != nil {
		return nil, err
	}
	return c.s.m.Home().Account(name)
}

// ChangeResult answers a change: what it made and where it went.
type ChangeResult struct {
	Account *manage.AccountSummary `json:"account,omitempty"`
	User    *manage.UserSummary    `json:"user,omitempty"`
	// Applied lists the running servers that acknowledged the change.
	Applied []string `json:"applied,omitempty"`
	// CredsURL is where to POST once to download a new user's creds.
	CredsURL string `json:"creds_url,omitempty"`
}

// respond writes a change's answer: 200 (201 when created) when every
// server applied it, 202 with the failures when it is saved in the home
// but did not reach every server (a *manage.PublishError).
func respond(c *call, status int, out ChangeResult, res *manage.Result, err error) error {
	var pe *manage.PublishError
	if errors.As(err, &pe) {
		p := notApplied(pe)
		writeProblem(c.w, p)
		return nil
	}
	if err != nil {
		return err
	}
	if res != nil {
		for _, d := range res.Deliveries {
			if d.Server != nil && d.Err == nil {
				out.Applied = append(out.Applied, d.Target)
			}
		}
	}
	writeJSON(c.w, status, out)
	return nil
}

// OperatorView is the operator as the API shows it.
type OperatorView struct {
	Name             string   `json:"name"`
	Pub              string   `json:"pub"`
	SystemAccount    string   `json:"system_account"`
	SigningKeys      []string `json:"signing_keys"`
	RequireSigning   bool     `json:"require_signing_keys"`
	AccountServerURL string   `json:"account_server_url,omitempty"`
	Home             string   `json:"home"`
	Store            string   `json:"store"`
}

func operatorView(m *manage.Manager) OperatorView {
	h := m.Home()
	op := h.Operator()
	return OperatorView{Name: h.OperatorName(), Pub: op.Subject, SystemAccount: op.SystemAccount,
		SigningKeys: append([]string{}, op.SigningKeys...), RequireSigning: op.StrictSigningKeyUsage,
		AccountServerURL: op.AccountServerURL, Home: h.Dir(), Store: redact(m.StoreURL())}
}

func (s *Server) operator(c *call) error {
	v := operatorView(s.m)
	if c.user.Role.Scoped() {
		v.Home, v.Store = "", ""
	}
	writeJSON(c.w, http.StatusOK, v)
	return nil
}

// AuditView is a page of the audit log, newest first.
type AuditView struct {
	Entries []audit.Entry `json:"entries"`
	Total   int           `json:"total"`
}

func (s *Server) auditLog(c *call) error {
	q := c.r.URL.Query()
	aq := audit.Query{Account: q.Get("account")}
	if c.user.Role.Scoped() {
		if aq.Account != "" && aq.Account != c.user.Account {
			return forbidden("your role is scoped to account " + c.user.Account)
		}
		aq.Account = c.user.Account
	}
	var until time.Time
	var bad []access.FieldError
	if v := q.Get("since"); v != "" {
		t, err := parseTimeOrAgo(v)
		if err != nil {
			bad = append(bad, fieldErr("since", err.Error()))
		}
		aq.Since = t
	}
	if v := q.Get("until"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			bad = append(bad, fieldErr("until", "want an RFC 3339 time"))
		}
		until = t
	}
	if len(bad) > 0 {
		return badRequest("bad filter", bad...)
	}
	entries, err := s.m.Audit(c.ctx, aq)
	if err != nil {
		return err
	}
	actor, action := strings.ToLower(q.Get("actor")), strings.ToLower(q.Get("action"))
	limit := intParam(c.r, "limit", 100, 5000)
	out := AuditView{Entries: []audit.Entry{}}
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		if !until.IsZero() && e.Time.After(until) {
			continue
		}
		if actor != "" && !strings.Contains(strings.ToLower(e.Principal+" "+e.OSUser+" "+e.Remote+" "+e.Via), actor) {
			continue
		}
		if action != "" && !strings.Contains(strings.ToLower(e.Action), action) {
			continue
		}
		out.Total++
		if len(out.Entries) < limit {
			out.Entries = append(out.Entries, e)
		}
	}
	writeJSON(c.w, http.StatusOK, out)
	return nil
}
