package callout

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/natsauth/natsauth/audit"
	"github.com/natsauth/natsauth/callout/userdb"
)

// request is one authorization request being answered.
type request struct {
	msg        *nats.Msg
	claims     *jwt.AuthorizationRequestClaims
	serverXKey string // set when the request was encrypted: the answer is too
	start      time.Time
}

// handle answers one request from the server. Whatever happens the client
// is refused unless a rule allowed it; a request that cannot be read is
// not answered at all (the server then refuses the client at its
// authentication timeout).
func (s *Service) handle(ctx context.Context, m *nats.Msg) {
	s.inflight.Add(1)
	r := &request{msg: m, start: time.Now()}
	claims, xkey, err := s.openRequest(m)
	if err != nil {
		s.inflight.Add(-1)
		s.handled.Add(1)
		s.metrics.decided(false, ReasonBadRequest, "", time.Since(r.start))
		s.log.Warn("callout request not readable: not answered", "reason", ReasonBadRequest, "err", err)
		return
	}
	r.claims, r.serverXKey = claims, xkey
	host := claims.ClientInformation.Host
	wait, blocked := s.thr.check(host)
	switch {
	case blocked:
		s.answer(r, &Decision{Reason: ReasonThrottled, Detail: "too many failures from this address"}, nil)
	case wait > 0:
		// Delay the decision without holding a worker.
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			t := time.NewTimer(wait)
			defer t.Stop()
			select {
			case <-t.C:
			case <-ctx.Done():
			}
			s.decideAndAnswer(ctx, r)
		}()
	default:
		s.decideAndAnswer(ctx, r)
	}
}

// openRequest decrypts (when the server encrypted it) and decodes a
// request, checking that a server signed it for the callout.
func (s *Service) openRequest(m *nats.Msg) (*jwt.AuthorizationRequestClaims, string, error) {
	data := m.Data
	xkey := ""
	if m.Header != nil {
		xkey = m.Header.Get(server.AuthRequestXKeyHeader)
	}
	if xkey != "" {
		_, _, curve := s.keys.snapshot()
		if curve == nil {
			curve = s.keys.refreshCurve()
		}
		if curve == nil {
			return nil, "", errors.New("the request is encrypted but the callout account has no curve key in the keystore")
		}
		plain, err := curve.Open(data, xkey)
		if err != nil {
			if curve = s.keys.refreshCurve(); curve != nil {
				plain, err = curve.Open(data, xkey)
			}
			if err != nil {
				return nil, "", fmt.Errorf("decrypt request: %w", err)
			}
		}
		data = plain
	} else if !bytes.HasPrefix(data, []byte("eyJ")) {
		return nil, "", errors.New("the request is neither a JWT nor marked encrypted")
	}
	rc, err := jwt.DecodeAuthorizationRequestClaims(string(data))
	if err != nil {
		return nil, "", fmt.Errorf("decode request: %w", err)
	}
	if !nkeys.IsValidPublicServerKey(rc.Issuer) {
		return nil, "", fmt.Errorf("request issuer %.60q is not a server key", rc.Issuer)
	}
	vr := jwt.CreateValidationResults()
	rc.Validate(vr)
	if vr.IsBlocking(true) {
		return nil, "", fmt.Errorf("request: %v", vr.Errors())
	}
	if !nkeys.IsValidPublicUserKey(rc.UserNkey) {
		return nil, "", errors.New("request has no user key to issue for")
	}
	if xkey != "" && rc.Server.XKey != xkey {
		return nil, "", errors.New("request's signed server xkey differs from its header")
	}
	return rc, xkey, nil
}

// decideAndAnswer applies the rules and answers.
func (s *Service) decideAndAnswer(ctx context.Context, r *request) {
	rs := s.rules.Load()
	d := rs.Decide(s.identityFunc(ctx, r.claims))
	if !d.Allowed {
		s.answer(r, d, nil)
		return
	}
	t, err := s.keys.target(d.Grant.Account)
	switch {
	case err != nil:
		d.Allowed, d.Reason, d.Detail = false, ReasonUnknownAccount, err.Error()
		s.answer(r, d, nil)
		return
	case !s.keys.allowed(t.pub):
		d.Allowed, d.Reason = false, ReasonAccountNotAllowed
		d.Detail = fmt.Sprintf("rule %s places users in %s, which the callout account does not allow (natsauth edit authcallout --allowed-account %s)",
			d.Rule, t.name, t.name)
		s.answer(r, d, t)
		return
	}
	s.answer(r, d, t)
}

// identityFunc proves each source's identity from the request.
func (s *Service) identityFunc(ctx context.Context, rc *jwt.AuthorizationRequestClaims) IdentityFunc {
	opts := rc.ConnectOptions
	return func(source string) (*Identity, *Failure) {
		switch source {
		case SourceOIDC:
			return s.oidc.verify(ctx, opts.Token)
		case SourcePassword:
			return s.passwordIdentity(ctx, opts.Username, opts.Password)
		case SourceTLS:
			id, err := certIdentity(rc.TLS)
			if err != nil {
				if errors.Is(err, errNoVerifiedCert) {
					return nil, noCredentials(err.Error())
				}
				return nil, &Failure{Reason: ReasonBadCertificate, Detail: err.Error()}
			}
			return id, nil
		}
		return nil, noCredentials("unknown source " + source)
	}
}

// passwordIdentity checks a user name and password, through the cache of
// recent successes when it has one.
func (s *Service) passwordIdentity(ctx context.Context, name, password string) (*Identity, *Failure) {
	if name == "" || password == "" {
		return nil, noCredentials("no user and password")
	}
	if s.cfg.Users == nil {
		return nil, noCredentials("no password user database")
	}
	var u userdb.User
	cached := false
	if s.pwc != nil {
		u, cached = s.pwc.get(name, password)
	}
	if !cached {
		var err error
		u, err = s.cfg.Users.Authenticate(ctx, name, password)
		switch {
		case errors.Is(err, userdb.ErrDisabled):
			return nil, &Failure{Reason: ReasonDisabledUser, Detail: fmt.Sprintf("user %.130q is disabled", name)}
		case errors.Is(err, userdb.ErrNotFound), errors.Is(err, userdb.ErrBadPassword):
			return nil, &Failure{Reason: ReasonBadPassword, Detail: fmt.Sprintf("unknown user or wrong password for %.130q", name)}
		case err != nil:
			return nil, &Failure{Reason: ReasonUnavailableDatabase, Detail: err.Error()}
		}
		if s.pwc != nil {
			s.pwc.put(name, password, u)
		}
	}
	groups := make([]any, len(u.Groups))
	for i, g := range u.Groups {
		groups[i] = g
	}
	return &Identity{Source: SourcePassword, Subject: u.Name, Username: u.Name, Rev: u.Rev,
		Claims: map[string]any{"sub": u.Name, "name": u.Name, "groups": groups}}, nil
}

// answer signs and sends the answer to the server: a user JWT when d
// allows, else an error. It logs, counts, audits and records the session.
func (s *Service) answer(r *request, d *Decision, t *target) {
	defer func() {
		s.inflight.Add(-1)
		s.handled.Add(1)
	}()
	rc := r.claims
	callout, signer, curve := s.keys.snapshot()
	resp := jwt.NewAuthorizationResponseClaims(rc.UserNkey)
	resp.Audience = rc.Server.ID
	if pub, _ := signer.PublicKey(); pub != callout.Pub {
		resp.IssuerAccount = callout.Pub
	}
	var user *jwt.UserClaims
	if d.Allowed {
		var err error
		user, resp.Jwt, err = s.issue(rc, d.Grant, t)
		if err != nil {
			d.Allowed, d.Reason, d.Detail = false, ReasonInternal, err.Error()
		}
	}
	if !d.Allowed {
		resp.Jwt = ""
		resp.Error = "not authorized: " + d.Reason
	}
	tok, err := resp.Encode(signer)
	if err != nil {
		s.log.Error("callout: sign response", "err", err)
		return
	}
	data := []byte(tok)
	if r.serverXKey != "" {
		if data, err = curve.Seal(data, r.serverXKey); err != nil {
			s.log.Error("callout: encrypt response", "err", err)
			return
		}
	}
	// Counted before the answer leaves: whoever sees the client refused or
	// connected finds the decision in the metrics.
	acct := ""
	if t != nil {
		acct = t.pub
	}
	s.metrics.decided(d.Allowed, d.Reason, acct, time.Since(r.start))
	if err := r.msg.Respond(data); err != nil {
		s.log.Warn("callout: send response", "err", err)
	}
	s.record(r, d, t, user)
}

// issue signs the user JWT for a grant.
func (s *Service) issue(rc *jwt.AuthorizationRequestClaims, g *Grant, t *target) (*jwt.UserClaims, string, error) {
	uc := jwt.NewUserClaims(rc.UserNkey)
	uc.Name = g.Name
	if t.viaSK {
		uc.IssuerAccount = t.pub
	}
	uc.Permissions = g.Permissions
	uc.Limits = g.Limits
	uc.AllowedConnectionTypes = append(jwt.StringList(nil), g.ConnTypes...)
	uc.IssuedAt = time.Now().Unix()
	uc.Expires = time.Now().Add(ttlFor(g)).Unix()
	vr := jwt.CreateValidationResults()
	uc.Validate(vr)
	if errs := vr.Errors(); len(errs) > 0 {
		return nil, "", fmt.Errorf("rule %s issues an invalid user: %v", g.Rule, errs[0])
	}
	tok, err := uc.Encode(t.signer)
	if err != nil {
		return nil, "", fmt.Errorf("sign user: %w", err)
	}
	return uc, tok, nil
}

// record logs, audits and remembers one decision (answer counted it).
func (s *Service) record(r *request, d *Decision, t *target, user *jwt.UserClaims) {
	rc := r.claims
	host := rc.ClientInformation.Host
	attrs := []any{"reason", d.Reason, "client", host, "cid", rc.ClientInformation.ID, "server", rc.Server.Name}
	if d.Rule != "" {
		attrs = append(attrs, "rule", d.Rule)
	}
	if d.Identity != nil {
		attrs = append(attrs, "identity", d.Identity.Key())
	}
	if !d.Allowed {
		if d.Reason != ReasonThrottled {
			s.thr.failed(host)
		}
		s.log.Info("callout refused", append(attrs, "detail", d.Detail)...)
		return
	}
	s.thr.succeeded(host)
	s.log.Debug("callout allowed", append(attrs, "account", t.name, "user", user.Subject)...)
	s.live.add(&session{server: rc.Server.ID, cid: rc.ClientInformation.ID, user: user.Subject, account: t.pub,
		identity: d.Identity, rule: d.Rule, grant: grantSignature(t.pub, d.Grant), expires: time.Unix(user.Expires, 0)})
	s.audit.add(audit.Entry{
		Action: ActionIssue, Account: t.pub, AccountName: t.name, User: user.Subject, UserName: user.Name,
		Signer: user.Issuer, NewJTI: user.ID, Via: "callout", Remote: host,
		Detail: fmt.Sprintf("rule %s, identity %s, expires %s", d.Rule, d.Identity.Key(),
			time.Unix(user.Expires, 0).UTC().Format(time.RFC3339)),
	})
}

// ActionIssue is the audit action of a user issued by the gateway.
const ActionIssue = "callout issue user"

// grantSignature is a canonical form of what a grant gives, to tell after
// a rule change whether a live connection still holds what it would get.
func grantSignature(account string, g *Grant) string {
	p := g.Permissions
	parts := []string{account, strings.Join(p.Pub.Allow, ","), strings.Join(p.Pub.Deny, ","),
		strings.Join(p.Sub.Allow, ","), strings.Join(p.Sub.Deny, ","),
		fmt.Sprint(p.Resp), fmt.Sprint(g.Limits), strings.Join(g.ConnTypes, ",")}
	return strings.Join(parts, "|")
}
