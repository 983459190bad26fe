package console

import (
	"fmt"
	"net/http"
	"time"

	"github.com/natsauth/natsauth/console/access"
	"github.com/natsauth/natsauth/manage"
)

// ConsoleUserRequest adds a console user, or changes its role or
// password (PATCH: absent fields are kept).
type ConsoleUserRequest struct {
	Name     string      `json:"name,omitempty"`
	Role     access.Role `json:"role,omitempty" doc:"operator-admin, operator-observer, account-admin, account-observer"`
	Account  string      `json:"account,omitempty" doc:"the account an account role is scoped to"`
	Password string      `json:"password,omitempty" doc:"at least 10 characters"`
}

// admin makes the console's access changes, audited by the core.
func (s *Server) admin() Admin { return Admin{Manager: s.m, Access: s.acc} }

func (s *Server) listConsoleUsers(c *call) error {
	us, err := s.acc.Users(c.ctx)
	if err != nil {
		return err
	}
	out := make([]UserView, 0, len(us))
	for i := range us {
		out = append(out, viewUser(&us[i]))
	}
	writeJSON(c.w, http.StatusOK, out)
	return nil
}

// checkScope refuses an account role scoped to an account that does not
// exist.
func (s *Server) checkScope(role access.Role, account string) error {
	if err := s.admin().CheckScope(role, account); err != nil {
		return badRequest("no such account", fieldErr("account", err.Error()))
	}
	return nil
}

func (s *Server) addConsoleUser(c *call) error {
	var req ConsoleUserRequest
	if err := decode(c.r, &req); err != nil {
		return err
	}
	if err := s.checkScope(req.Role, req.Account); err != nil {
		return err
	}
	u, err := s.admin().AddUser(c.ctx, req.Name, req.Role, req.Account, req.Password, "")
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusCreated, viewUser(u))
	return nil
}

func (s *Server) editConsoleUser(c *call) error {
	name := c.r.PathValue("name")
	self := name == c.user.Name
	if !self && c.user.Role != access.OperatorAdmin {
		return forbidden("only operator admins may change other console users")
	}
	var req ConsoleUserRequest
	if err := decode(c.r, &req); err != nil {
		return err
	}
	if req.Name != "" && req.Name != name {
		return badRequest("a console user cannot be renamed", fieldErr("name", "leave it out or give the same name"))
	}
	if req.Role == "" && req.Password == "" {
		return badRequest("nothing to change: give a role or a password")
	}
	if req.Role != "" && c.user.Role != access.OperatorAdmin {
		return forbidden("only operator admins may change roles")
	}
	if req.Password != "" {
		if fe := access.CheckPassword(req.Password); fe != nil {
			return badRequest("bad password", *fe)
		}
	}
	if req.Role != "" {
		if err := s.checkScope(req.Role, req.Account); err != nil {
			return err
		}
		if err := s.acc.SetRole(c.ctx, name, req.Role, req.Account); err != nil {
			return err
		}
	}
	if req.Password != "" {
		if err := s.acc.SetPassword(c.ctx, name, req.Password); err != nil {
			return err
		}
	}
	u, err := s.acc.User(c.ctx, name)
	if err != nil {
		return err
	}
	detail := u.Label()
	if req.Password != "" {
		detail += ": password changed"
	}
	if err := s.m.RecordAccessChange(c.ctx, manage.ActionEditConsoleUser, detail); err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, viewUser(u))
	return nil
}

func (s *Server) deleteConsoleUser(c *call) error {
	name := c.r.PathValue("name")
	if name == c.user.Name {
		return problem(http.StatusConflict, "self", "You cannot delete yourself", "ask another operator admin")
	}
	if _, err := s.admin().DeleteUser(c.ctx, name); err != nil {
		return err
	}
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}

// TokenRequest makes an API token.
type TokenRequest struct {
	Name string `json:"name" doc:"what the token is for"`
	TTL  string `json:"ttl,omitempty" doc:"lifetime, e.g. 720h; empty for no expiry"`
}

// TokenCreated carries a new token's secret: shown this once.
type TokenCreated struct {
	Token  access.Token `json:"token"`
	Secret string       `json:"secret" doc:"send as Authorization: Bearer <secret>; shown only now"`
}

func (s *Server) listTokens(c *call) error {
	user := c.user.Name
	if c.user.Role == access.OperatorAdmin {
		user = ""
	}
	toks, err := s.acc.Tokens(c.ctx, user)
	if err != nil {
		return err
	}
	if toks == nil {
		toks = []access.Token{}
	}
	writeJSON(c.w, http.StatusOK, toks)
	return nil
}

func (s *Server) addToken(c *call) error {
	var req TokenRequest
	if err := decode(c.r, &req); err != nil {
		return err
	}
	var ttl time.Duration
	if req.TTL != "" {
		d, err := time.ParseDuration(req.TTL)
		if err != nil || d <= 0 {
			return badRequest("bad ttl", fieldErr("ttl", "a positive duration like 720h"))
		}
		ttl = d
	}
	secret, tok, err := s.admin().NewToken(c.ctx, c.user.Name, req.Name, ttl)
	if err != nil {
		return err
	}
	tok.Hash = ""
	writeJSON(c.w, http.StatusCreated, TokenCreated{Token: *tok, Secret: secret})
	return nil
}

func (s *Server) deleteToken(c *call) error {
	id := c.r.PathValue("id")
	tok, err := s.acc.Token(c.ctx, id)
	if err != nil {
		return err
	}
	if tok.User != c.user.Name && c.user.Role != access.OperatorAdmin {
		return notFound("token " + id + " not found")
	}
	if err := s.acc.DeleteToken(c.ctx, id); err != nil {
		return err
	}
	if err := s.m.RecordAccessChange(c.ctx, manage.ActionDeleteAPIToken,
		fmt.Sprintf("token %s %q of %s", tok.ID, tok.Name, tok.User)); err != nil {
		return err
	}
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}
