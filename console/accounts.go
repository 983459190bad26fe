package console

import (
	"bytes"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/nats-io/jwt/v2"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/console/access"
	"github.com/natsauth/natsauth/internal/units"
	"github.com/natsauth/natsauth/manage"
	"github.com/natsauth/natsauth/store"
)

func redact(u string) string { return store.Redact(u) }

// Num is a limit: a JSON number, or a string with a unit ("1MB", "10K")
// or "unlimited" (-1).
type Num struct {
	raw string
}

// UnmarshalJSON keeps the raw value; AccountRequest checks it.
func (n *Num) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		n.raw = s
		return nil
	}
	n.raw = string(b)
	return nil
}

func (n *Num) parse(size bool) (int64, error) {
	s := strings.TrimSpace(n.raw)
	if strings.EqualFold(s, "unlimited") {
		return -1, nil
	}
	if size {
		return units.ParseSize(s)
	}
	return units.ParseCount(s)
}

// AccountRequest creates or edits an account. Absent fields are left as
// they are; limits take -1 (or "unlimited") for no limit, sizes take
// units ("1MB").
type AccountRequest struct {
	Name             string   `json:"name,omitempty" doc:"account name (create only)"`
	MaxConnections   *Num     `json:"max_connections,omitempty"`
	MaxLeafnodes     *Num     `json:"max_leafnodes,omitempty"`
	MaxData          *Num     `json:"max_data,omitempty" doc:"bytes in flight, e.g. 10GB"`
	MaxExports       *Num     `json:"max_exports,omitempty"`
	MaxImports       *Num     `json:"max_imports,omitempty"`
	MaxPayload       *Num     `json:"max_payload,omitempty" doc:"bytes, e.g. 1MB"`
	MaxSubscriptions *Num     `json:"max_subscriptions,omitempty"`
	JSMemStorage     *Num     `json:"js_mem_storage,omitempty" doc:"JetStream memory, e.g. 256MB; with js_disk_storage enables JetStream"`
	JSDiskStorage    *Num     `json:"js_disk_storage,omitempty" doc:"JetStream disk, e.g. 1GB"`
	JSStreams        *Num     `json:"js_streams,omitempty"`
	JSConsumer       *Num     `json:"js_consumer,omitempty"`
	JSDisable        bool     `json:"js_disable,omitempty" doc:"remove every JetStream limit"`
	Expires          *string  `json:"expires,omitempty" doc:"expiry: 30d, 2w, 1y, yyyy-mm-dd, RFC 3339, or 0 for never"`
	Description      *string  `json:"description,omitempty"`
	Tags             []string `json:"tags,omitempty"`
	RemoveTags       []string `json:"remove_tags,omitempty"`
}

// edit converts the request, reporting every bad field at once.
func (q AccountRequest) edit() (authority.AccountEdit, []access.FieldError) {
	var e authority.AccountEdit
	var bad []access.FieldError
	for _, f := range []struct {
		name string
		n    *Num
		dst  **int64
		size bool
	}{
		{"max_connections", q.MaxConnections, &e.Conns, false}, {"max_leafnodes", q.MaxLeafnodes, &e.LeafConns, false},
		{"max_data", q.MaxData, &e.Data, true}, {"max_exports", q.MaxExports, &e.Exports, false},
		{"max_imports", q.MaxImports, &e.Imports, false}, {"max_payload", q.MaxPayload, &e.Payload, true},
		{"max_subscriptions", q.MaxSubscriptions, &e.Subs, false}, {"js_mem_storage", q.JSMemStorage, &e.JSMemStorage, true},
		{"js_disk_storage", q.JSDiskStorage, &e.JSDiskStorage, true}, {"js_streams", q.JSStreams, &e.JSStreams, false},
		{"js_consumer", q.JSConsumer, &e.JSConsumer, false},
	} {
		if f.n == nil {
			continue
		}
		v, err := f.n.parse(f.size)
		if err != nil {
			bad = append(bad, fieldErr(f.name, err.Error()))
			continue
		}
		*f.dst = &v
	}
	e.JSDisable = q.JSDisable
	if q.Expires != nil {
		t, err := parseExpiry(*q.Expires)
		if err != nil {
			bad = append(bad, fieldErr("expires", err.Error()))
		}
		e.Expires = &t
	}
	e.Description, e.Tags, e.RemoveTags = q.Description, q.Tags, q.RemoveTags
	return e, bad
}

// parseExpiry reads an expiry the CLI's way, or RFC 3339; "0" is never.
func parseExpiry(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "0" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return units.ParseExpiry(s, time.Now())
}

// fieldsOf lists the JSON field names of a request type, for naming the
// field of a validation problem.
func fieldsOf(v any) map[string]bool {
	out := map[string]bool{}
	if v == nil {
		return out
	}
	t := reflect.TypeOf(v)
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out[name] = true
		}
	}
	return out
}

func (s *Server) listAccounts(c *call) error {
	q := c.r.URL.Query()
	aq := manage.AccountQuery{Search: q.Get("q"), Offset: intParam(c.r, "offset", 0, 1<<30), Limit: intParam(c.r, "limit", 50, 500)}
	if c.user.Role.Scoped() {
		acc, err := s.m.Home().Account(c.user.Account)
		if err != nil {
			return err
		}
		sum := manage.Summarize(acc)
		page := &manage.AccountPage{Total: 1, Limit: aq.Limit, Accounts: []manage.AccountSummary{sum}}
		writeJSON(c.w, http.StatusOK, page)
		return nil
	}
	page, err := s.m.QueryAccounts(c.ctx, aq)
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, page)
	return nil
}

func (s *Server) createAccount(c *call) error {
	var req AccountRequest
	if err := decode(c.r, &req); err != nil {
		return err
	}
	e, bad := req.edit()
	if req.Name == "" {
		bad = append(bad, fieldErr("name", "give the account a name"))
	}
	if len(bad) > 0 {
		return badRequest("some fields are not valid", bad...)
	}
	acc, res, err := s.m.AddAccount(c.ctx, req.Name, e)
	out := ChangeResult{}
	if acc != nil {
		sum := manage.Summarize(acc)
		out.Account = &sum
	}
	return respond(c, http.StatusCreated, out, res, err)
}

// AccountDetail is one account: its summary, its claims as signed (limits,
// exports, imports, revocations, signing keys) and names for its keys.
type AccountDetail struct {
	manage.AccountSummary
	Claims      *jwt.AccountClaims `json:"claims"`
	Users       int                `json:"users"`
	Revocations []RevocationView   `json:"revocation_list"`
	SigningKeys []SigningKeyView   `json:"signing_key_list"`
	Imports     []ImportView       `json:"imports"`
	Exports     []ExportView       `json:"exports"`
}

// RevocationView is one revoked user.
type RevocationView struct {
	User     string    `json:"user"`
	UserName string    `json:"user_name,omitempty"`
	Before   time.Time `json:"before" doc:"JWTs issued at or before this are refused"`
}

// SigningKeyView is one account signing key.
type SigningKeyView struct {
	Key    string `json:"key"`
	Role   string `json:"role,omitempty"`
	Scoped bool   `json:"scoped"`
}

// ExportView is one export of the account.
type ExportView struct {
	Name     string `json:"name,omitempty"`
	Subject  string `json:"subject"`
	Type     string `json:"type"`
	Private  bool   `json:"private"`
	Response string `json:"response_type,omitempty"`
}

// ImportView is one import of the account.
type ImportView struct {
	Name         string `json:"name,omitempty"`
	Subject      string `json:"subject"`
	Account      string `json:"account"`
	AccountName  string `json:"account_name,omitempty"`
	LocalSubject string `json:"local_subject,omitempty"`
	Type         string `json:"type"`
}

func (s *Server) getAccount(c *call) error {
	acc, err := c.account(false)
	if err != nil {
		return err
	}
	users, err := s.m.Home().Users(acc.Name)
	if err != nil {
		return err
	}
	d := AccountDetail{AccountSummary: manage.Summarize(acc), Claims: acc.Claims, Users: len(users),
		Revocations: revocationList(acc, users), SigningKeys: []SigningKeyView{}, Imports: []ImportView{}, Exports: []ExportView{}}
	for _, k := range acc.Claims.SigningKeys.Keys() {
		v := SigningKeyView{Key: k}
		if sc, ok := acc.Claims.SigningKeys[k]; ok && sc != nil {
			if us, ok := sc.(*jwt.UserScope); ok {
				v.Role, v.Scoped = us.Role, true
			}
		}
		d.SigningKeys = append(d.SigningKeys, v)
	}
	for _, x := range acc.Claims.Exports {
		d.Exports = append(d.Exports, ExportView{Name: x.Name, Subject: string(x.Subject), Type: x.Type.String(),
			Private: x.TokenReq, Response: string(x.ResponseType)})
	}
	for _, im := range acc.Claims.Imports {
		v := ImportView{Name: im.Name, Subject: string(im.Subject), Account: im.Account,
			LocalSubject: string(im.LocalSubject), Type: im.Type.String()}
		v.AccountName = s.m.AccountName(c.ctx, im.Account)
		d.Imports = append(d.Imports, v)
	}
	writeJSON(c.w, http.StatusOK, d)
	return nil
}

func revocationList(acc *authority.AccountInfo, users []authority.UserInfo) []RevocationView {
	names := map[string]string{}
	for _, u := range users {
		names[u.Pub] = u.Name
	}
	out := []RevocationView{}
	for pub, at := range acc.Claims.Revocations {
		out = append(out, RevocationView{User: pub, UserName: names[pub], Before: time.Unix(at, 0).UTC()})
	}
	return out
}

func (s *Server) revocations(c *call) error {
	acc, err := c.account(false)
	if err != nil {
		return err
	}
	users, err := s.m.Home().Users(acc.Name)
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, revocationList(acc, users))
	return nil
}

func (s *Server) editAccount(c *call) error {
	name := c.r.PathValue("account")
	if err := c.authorize(name, true); err != nil {
		return err
	}
	var req AccountRequest
	if err := decode(c.r, &req); err != nil {
		return err
	}
	e, bad := req.edit()
	if req.Name != "" && req.Name != name {
		bad = append(bad, fieldErr("name", "an account cannot be renamed"))
	}
	if len(bad) > 0 {
		return badRequest("some fields are not valid", bad...)
	}
	if e.IsZero() {
		return badRequest("nothing to change: give a limit or setting")
	}
	acc, res, err := s.m.EditAccount(c.ctx, name, e)
	out := ChangeResult{}
	if acc != nil {
		sum := manage.Summarize(acc)
		out.Account = &sum
	}
	return respond(c, http.StatusOK, out, res, err)
}

func (s *Server) deleteAccount(c *call) error {
	acc, res, err := s.m.DeleteAccount(c.ctx, c.r.PathValue("account"))
	out := ChangeResult{}
	if acc != nil {
		sum := manage.Summarize(acc)
		out.Account = &sum
	}
	return respond(c, http.StatusOK, out, res, err)
}

func (s *Server) addSigningKey(c *call) error {
	name := c.r.PathValue("account")
	if err := c.authorize(name, true); err != nil {
		return err
	}
	acc, res, err := s.m.EditAccount(c.ctx, name, authority.AccountEdit{AddSigningKeys: []string{""}})
	out := ChangeResult{}
	if acc != nil {
		sum := manage.Summarize(acc)
		out.Account = &sum
	}
	return respond(c, http.StatusCreated, out, res, err)
}

func (s *Server) removeSigningKey(c *call) error {
	name := c.r.PathValue("account")
	if err := c.authorize(name, true); err != nil {
		return err
	}
	acc, res, err := s.m.EditAccount(c.ctx, name, authority.AccountEdit{RemoveSigningKeys: []string{c.r.PathValue("key")}})
	out := ChangeResult{}
	if acc != nil {
		sum := manage.Summarize(acc)
		out.Account = &sum
	}
	return respond(c, http.StatusOK, out, res, err)
}
