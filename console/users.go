package console

import (
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/jwt/v2"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/console/access"
	"github.com/natsauth/natsauth/internal/units"
	"github.com/natsauth/natsauth/manage"
)

// UserRequest creates or edits a user with the walkthrough's options
// (nsc's add/edit user flags). On edit, lists add to what the user has;
// remove takes subjects out.
type UserRequest struct {
	Name             string   `json:"name,omitempty" doc:"user name (create only)"`
	AllowPub         []string `json:"allow_pub,omitempty" doc:"subjects the user may publish to, e.g. orders.>"`
	AllowSub         []string `json:"allow_sub,omitempty" doc:"subjects (or 'subject queue') the user may subscribe to"`
	AllowPubSub      []string `json:"allow_pubsub,omitempty"`
	DenyPub          []string `json:"deny_pub,omitempty"`
	DenySub          []string `json:"deny_sub,omitempty"`
	DenyPubSub       []string `json:"deny_pubsub,omitempty"`
	Remove           []string `json:"remove,omitempty" doc:"edit only: subjects taken out of every list"`
	AllowPubResponse *int     `json:"allow_pub_response,omitempty" doc:"may answer requests: responses per request (-1 unlimited)"`
	ResponseTTL      string   `json:"response_ttl,omitempty" doc:"how long after a request a response may be sent, e.g. 5s"`
	RemoveResponse   bool     `json:"remove_response,omitempty"`
	Expiry           *string  `json:"expiry,omitempty" doc:"30d, 2w, 3M, 1y, 90m, yyyy-mm-dd, RFC 3339, or 0 for never"`
	Bearer           *bool    `json:"bearer,omitempty"`
	SourceNetworks   []string `json:"source_networks,omitempty" doc:"CIDRs the user may connect from"`
	Tags             []string `json:"tags,omitempty"`
	SigningKey       string   `json:"signing_key,omitempty" doc:"create only: role or public key of the account signing key to sign with"`
}

func (q UserRequest) edit() (authority.UserEdit, []access.FieldError) {
	e := authority.UserEdit{AllowPub: q.AllowPub, AllowSub: q.AllowSub, AllowPubSub: q.AllowPubSub,
		DenyPub: q.DenyPub, DenySub: q.DenySub, DenyPubSub: q.DenyPubSub, Remove: q.Remove,
		RespMax: q.AllowPubResponse, RemoveResp: q.RemoveResponse, Bearer: q.Bearer, Src: q.SourceNetworks, Tags: q.Tags}
	var bad []access.FieldError
	if q.ResponseTTL != "" {
		d, err := units.ParseTTL(q.ResponseTTL)
		if err != nil {
			bad = append(bad, fieldErr("response_ttl", err.Error()))
		} else {
			e.RespTTL = &d
			if e.RespMax == nil {
				one := 1
				e.RespMax = &one
			}
		}
	}
	if q.Expiry != nil {
		t, err := parseExpiry(*q.Expiry)
		if err != nil {
			bad = append(bad, fieldErr("expiry", err.Error()))
		}
		e.Expires = &t
	}
	return e, bad
}

func (s *Server) listUsers(c *call) error {
	acc, err := c.account(false)
	if err != nil {
		return err
	}
	q := manage.UserQuery{Search: c.r.URL.Query().Get("q"), Offset: intParam(c.r, "offset", 0, 1<<30), Limit: intParam(c.r, "limit", 50, 500)}
	if v := c.r.URL.Query().Get("expiring_within"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return badRequest("bad filter", fieldErr("expiring_within", "a duration like 168h"))
		}
		q.ExpiringWithin = d
	}
	page, err := s.m.QueryUsers(c.ctx, acc.Name, q)
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, page)
	return nil
}

func (s *Server) userSummary(account, user string) *manage.UserSummary {
	acc, err := s.m.Home().Account(account)
	if err != nil {
		return nil
	}
	u, err := s.m.Home().User(account, user)
	if err != nil {
		return nil
	}
	_, cerr := os.Stat(s.m.Home().CredsPath(account, user))
	sum := manage.SummarizeUser(acc, u, time.Now(), 0, cerr == nil)
	return &sum
}

func credsURL(account, user string) string {
	return "/api/accounts/" + url.PathEscape(account) + "/users/" + url.PathEscape(user) + "/creds"
}

func (s *Server) createUser(c *call) error {
	account := c.r.PathValue("account")
	if err := c.authorize(account, true); err != nil {
		return err
	}
	var req UserRequest
	if err := decode(c.r, &req); err != nil {
		return err
	}
	e, bad := req.edit()
	if req.Name == "" {
		bad = append(bad, fieldErr("name", "give the user a name"))
	}
	if len(req.Remove) > 0 || req.RemoveResponse {
		bad = append(bad, fieldErr("remove", "removing applies only when editing a user"))
	}
	if len(bad) > 0 {
		return badRequest("some fields are not valid", bad...)
	}
	u, err := s.m.AddUser(c.ctx, account, req.Name, e, authority.UserIssue{SigningKey: req.SigningKey})
	if err != nil {
		return err
	}
	out := ChangeResult{User: s.userSummary(account, u.Name), CredsURL: credsURL(account, u.Name)}
	writeJSON(c.w, http.StatusCreated, out)
	return nil
}

// UserDetail is one user with its claims as signed.
type UserDetail struct {
	manage.UserSummary
	Claims *jwt.UserClaims `json:"claims"`
}

func (s *Server) getUser(c *call) error {
	acc, err := c.account(false)
	if err != nil {
		return err
	}
	u, err := s.m.Home().User(acc.Name, c.r.PathValue("user"))
	if err != nil {
		return err
	}
	_, cerr := os.Stat(s.m.Home().CredsPath(acc.Name, u.Name))
	writeJSON(c.w, http.StatusOK, UserDetail{UserSummary: manage.SummarizeUser(acc, u, time.Now(), 0, cerr == nil), Claims: u.Claims})
	return nil
}

func (s *Server) editUser(c *call) error {
	account, name := c.r.PathValue("account"), c.r.PathValue("user")
	if err := c.authorize(account, true); err != nil {
		return err
	}
	var req UserRequest
	if err := decode(c.r, &req); err != nil {
		return err
	}
	e, bad := req.edit()
	if req.Name != "" && req.Name != name {
		bad = append(bad, fieldErr("name", "a user cannot be renamed"))
	}
	if req.SigningKey != "" {
		bad = append(bad, fieldErr("signing_key", "applies only when creating a user"))
	}
	if len(bad) > 0 {
		return badRequest("some fields are not valid", bad...)
	}
	u, _, err := s.m.EditUser(c.ctx, account, name, e)
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, ChangeResult{User: s.userSummary(account, u.Name), CredsURL: credsURL(account, u.Name)})
	return nil
}

func (s *Server) deleteUser(c *call) error {
	account, name := c.r.PathValue("account"), c.r.PathValue("user")
	if err := c.authorize(account, true); err != nil {
		return err
	}
	revoke := true
	if v := c.r.URL.Query().Get("revoke"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return badRequest("bad parameter", fieldErr("revoke", "true or false"))
		}
		revoke = b
	}
	res, err := s.m.DeleteUser(c.ctx, account, name, revoke)
	return respond(c, http.StatusOK, ChangeResult{}, res, err)
}

func (s *Server) takeCreds(c *call) error {
	account, name := c.r.PathValue("account"), c.r.PathValue("user")
	if err := c.authorize(account, true); err != nil {
		return err
	}
	creds, err := s.m.TakeCreds(c.ctx, account, name)
	if err != nil {
		return err
	}
	h := c.w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", `attachment; filename="`+strings.NewReplacer(`"`, "", `\`, "").Replace(name)+`.creds"`)
	h.Set("Cache-Control", "no-store")
	c.w.WriteHeader(http.StatusOK)
	_, _ = c.w.Write(creds)
	return nil
}

func (s *Server) revokeUser(c *call) error {
	account, name := c.r.PathValue("account"), c.r.PathValue("user")
	if err := c.authorize(account, true); err != nil {
		return err
	}
	acc, res, err := s.m.RevokeUser(c.ctx, account, name, time.Time{})
	out := ChangeResult{User: s.userSummary(account, name)}
	if acc != nil {
		sum := manage.Summarize(acc)
		out.Account = &sum
	}
	return respond(c, http.StatusOK, out, res, err)
}

func (s *Server) unrevokeUser(c *call) error {
	account, name := c.r.PathValue("account"), c.r.PathValue("user")
	if err := c.authorize(account, true); err != nil {
		return err
	}
	acc, res, err := s.m.UnrevokeUser(c.ctx, account, name)
	out := ChangeResult{User: s.userSummary(account, name)}
	if acc != nil {
		sum := manage.Summarize(acc)
		out.Account = &sum
	}
	return respond(c, http.StatusOK, out, res, err)
}
