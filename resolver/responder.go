package resolver

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/natsauth/natsauth/audit"
	"github.com/natsauth/natsauth/store"
)

// The system-account subjects of the claims protocol, as nats-server's
// full resolver answers them.
const (
	SubjectClaimsUpdate    = "$SYS.REQ.CLAIMS.UPDATE"
	SubjectAccountUpdate   = "$SYS.REQ.ACCOUNT.*.CLAIMS.UPDATE"
	SubjectAccountUpdateV1 = "$SYS.ACCOUNT.*.CLAIMS.UPDATE" // older form, still sent by some tools
	SubjectAccountLookup   = "$SYS.REQ.ACCOUNT.*.CLAIMS.LOOKUP"
	SubjectClaimsList      = "$SYS.REQ.CLAIMS.LIST"
	SubjectClaimsDelete    = "$SYS.REQ.CLAIMS.DELETE"
	SubjectClaimsPack      = "$SYS.REQ.CLAIMS.PACK"
	packQueue              = "responder" // the full resolver's queue group for PACK
)

// Ready is closed once the claims responder is subscribed on the system
// account. It never closes without Options.SystemConn.
func (r *Resolver) Ready() <-chan struct{} {
	r.life.Lock()
	defer r.life.Unlock()
	if r.ready == nil {
		r.ready = make(chan struct{})
	}
	return r.ready
}

// respond connects to the system account once the server is ready and
// answers the claims protocol until ctx ends, reconnecting if the
// connection closes.
func (r *Resolver) respond(ctx context.Context, s *server.Server) {
	for !s.ReadyForConnections(250 * time.Millisecond) {
		if ctx.Err() != nil {
			return
		}
	}
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		nc, err := r.opts.SystemConn(ctx)
		if err == nil {
			if err = r.subscribe(ctx, s, nc); err != nil {
				nc.Close()
			}
		}
		if err != nil {
			r.log.Warn("start claims responder on the system account; retrying", "error", err, "retry_in", backoff)
			if !sleep(ctx, backoff) {
				return
			}
			backoff = min(2*backoff, 10*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		closed := nc.StatusChanged(nats.CLOSED)
		r.life.Lock()
		if r.closed {
			r.life.Unlock()
			nc.Close()
			return
		}
		r.nc = nc
		if r.ready == nil {
			r.ready = make(chan struct{})
		}
		select {
		case <-r.ready:
		default:
			close(r.ready)
		}
		r.life.Unlock()
		r.log.Info("answering the $SYS claims protocol", "allow_delete", r.opts.AllowDelete)
		select {
		case <-ctx.Done():
			return
		case <-closed:
			r.log.Warn("claims responder connection closed; reconnecting")
		}
	}
}

func (r *Resolver) subscribe(ctx context.Context, s *server.Server, nc *nats.Conn) error {
	ctx = audit.WithActor(ctx, audit.Actor{Via: audit.ViaNATS}) // store writes answer claims requests
	subs := []struct {
		subject, queue string
		h              func(context.Context, *server.Server, *nats.Msg)
	}{
		{SubjectClaimsUpdate, "", r.onClaimsUpdate},
		{SubjectAccountUpdate, "", r.onAccountUpdate},
		{SubjectAccountUpdateV1, "", r.onAccountUpdate},
		{SubjectAccountLookup, "", r.onLookup},
		{SubjectClaimsList, "", r.onList},
		{SubjectClaimsDelete, "", r.onDelete},
		{SubjectClaimsPack, packQueue, r.onPack},
	}
	for _, sub := range subs {
		h := sub.h
		cb := func(m *nats.Msg) {
			if !r.enter() {
				return
			}
			defer r.inflight.Done()
			h(ctx, s, m)
		}
		if _, err := nc.QueueSubscribe(sub.subject, sub.queue, cb); err != nil {
			return fmt.Errorf("subscribe %s: %w", sub.subject, err)
		}
	}
	if err := nc.Flush(); err != nil {
		return fmt.Errorf("flush subscriptions: %w", err)
	}
	return nil
}

// enter admits one request handler unless the Resolver is closing.
func (r *Resolver) enter() bool {
	r.life.Lock()
	defer r.life.Unlock()
	if r.closed {
		return false
	}
	r.inflight.Add(1)
	return true
}

// onClaimsUpdate answers $SYS.REQ.CLAIMS.UPDATE (nsc push).
func (r *Resolver) onClaimsUpdate(ctx context.Context, s *server.Server, m *nats.Msg) {
	token := strings.TrimSpace(string(m.Data))
	claim, err := jwt.DecodeAccountClaims(token)
	if err != nil {
		r.updateReply(s, m, "n/a", "jwt update resulted in error", err)
		return
	}
	r.update(ctx, s, m, claim, token)
}

// onAccountUpdate answers $SYS.REQ.ACCOUNT.<pub>.CLAIMS.UPDATE and its
// older form $SYS.ACCOUNT.<pub>.CLAIMS.UPDATE.
func (r *Resolver) onAccountUpdate(ctx context.Context, s *server.Server, m *nats.Msg) {
	var pub string
	switch tk := strings.Split(m.Subject, "."); len(tk) {
	case 6:
		pub = tk[3]
	case 5:
		pub = tk[2]
	default:
		return
	}
	token := strings.TrimSpace(string(m.Data))
	claim, err := jwt.DecodeAccountClaims(token)
	switch {
	case err != nil:
		r.updateReply(s, m, "n/a", "jwt update resulted in error", err)
	case claim.Subject != pub:
		r.updateReply(s, m, pub, "jwt update resulted in error", errors.New("subject does not match jwt content"))
	default:
		r.update(ctx, s, m, claim, token)
	}
}

// update validates, persists and applies one pushed account JWT.
func (r *Resolver) update(ctx context.Context, s *server.Server, m *nats.Msg, claim *jwt.AccountClaims, token string) {
	if err := validateMappings(claim); err != nil {
		r.updateReply(s, m, claim.Subject, "jwt validation failed", err)
		return
	}
	wctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	if _, err := r.put(wctx, claim.Subject, token); err != nil {
		msg := "jwt update resulted in error"
		if errors.Is(err, store.ErrInvalid) {
			msg = "jwt validation failed"
		}
		r.updateReply(s, m, claim.Subject, msg, err)
		return
	}
	// Apply now, so that the reply means "enforced here"; the store's
	// watch event that follows finds it already applied.
	r.apply(s, claim.Subject, token, time.Now())
	r.updateReply(s, m, claim.Subject, "jwt updated", nil)
}

// updateReply answers an update or delete request in the full resolver's
// JSON shape.
func (r *Resolver) updateReply(s *server.Server, m *nats.Msg, account, message string, err error) {
	if err != nil {
		r.log.Warn("claims request refused", "subject", m.Subject, "account", account, "message", message, "error", err)
	} else {
		r.log.Debug("claims request done", "subject", m.Subject, "account", account, "message", message)
	}
	if m.Reply == "" {
		return
	}
	resp := server.ServerAPIClaimUpdateResponse{Server: r.serverInfo(s)}
	if err == nil {
		resp.Data = &server.ClaimUpdateStatus{Account: account, Code: http.StatusOK, Message: message}
	} else {
		resp.Error = &server.ClaimUpdateError{
			Account:     account,
			Code:        http.StatusInternalServerError,
			Description: fmt.Sprintf("%s - %v", message, err),
		}
	}
	r.reply(m, resp)
}

func (r *Resolver) reply(m *nats.Msg, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		r.log.Error("encode claims reply", "error", err)
		return
	}
	if err := m.Respond(b); err != nil {
		r.log.Warn("send claims reply", "subject", m.Subject, "error", err)
	}
}

// serverInfo describes this server the way nats-server stamps its own
// system messages.
func (r *Resolver) serverInfo(s *server.Server) *server.ServerInfo {
	si := &server.ServerInfo{
		Name:    s.Name(),
		ID:      s.ID(),
		Cluster: s.ClusterName(),
		Version: server.VERSION,
		Seq:     r.seq.Add(1),
		Time:    time.Now().UTC(),
	}
	if a, ok := s.Addr().(*net.TCPAddr); ok {
		si.Host = a.IP.String()
	}
	if s.JetStreamEnabled() {
		si.SetJetStreamEnabled()
	}
	return si
}

// onLookup answers $SYS.REQ.ACCOUNT.<pub>.CLAIMS.LOOKUP with the JWT, or
// an empty message when the account is unknown. On a store failure with
// nothing cached it does not answer, as the full resolver does.
func (r *Resolver) onLookup(_ context.Context, _ *server.Server, m *nats.Msg) {
	tk := strings.Split(m.Subject, ".")
	if m.Reply == "" || len(tk) != 6 || !nkeys.IsValidPublicAccountKey(tk[3]) {
		return
	}
	tok, _, err := r.fetch(tk[3])
	switch {
	case err == nil:
		_ = m.Respond([]byte(tok))
	case errors.Is(err, store.ErrNotFound):
		_ = m.Respond(nil)
	default:
		r.log.Warn("claims lookup", "account", tk[3], "error", err)
	}
}

// onList answers $SYS.REQ.CLAIMS.LIST with every stored account key.
func (r *Resolver) onList(ctx context.Context, s *server.Server, m *nats.Msg) {
	if m.Reply == "" {
		return
	}
	lctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	ids, err := r.st.List(lctx)
	if err != nil {
		r.storeError("list", err)
		r.log.Warn("claims list request", "error", err) // let them time out, as the full resolver does
		return
	}
	if ids == nil {
		ids = []string{}
	}
	r.reply(m, map[string]any{"server": r.serverInfo(s), "data": ids})
}

// onDelete answers $SYS.REQ.CLAIMS.DELETE: a generic JWT, self-signed by
// an operator key, whose data lists "accounts" to delete.
func (r *Resolver) onDelete(ctx context.Context, s *server.Server, m *nats.Msg) {
	var subj string
	accounts, err := func() ([]string, error) {
		gk, err := jwt.DecodeGeneric(strings.TrimSpace(string(m.Data)))
		if err != nil {
			return nil, err
		}
		subj = gk.Subject
		switch {
		case !r.opts.AllowDelete:
			return nil, errors.New("delete must be enabled in server config")
		case subj != gk.Issuer:
			return nil, errors.New("not self signed")
		case !r.opts.Policy.IsOperatorKey(gk.Issuer):
			return nil, errors.New("not trusted")
		}
		list, ok := gk.Data["accounts"].([]any)
		if !ok {
			return nil, errors.New("malformed request")
		}
		sys := r.opts.Policy.SystemAccount()
		if a := s.SystemAccount(); a != nil {
			sys = a.Name
		}
		out := make([]string, 0, len(list))
		for _, v := range list {
			acc, ok := v.(string)
			switch {
			case !ok || !nkeys.IsValidPublicAccountKey(acc):
				return nil, errors.New("malformed request")
			case acc == sys || acc == r.opts.Policy.SystemAccount():
				return nil, errors.New("not allowed to delete system account")
			}
			out = append(out, acc)
		}
		return out, nil
	}()
	if err != nil {
		r.updateReply(s, m, "", fmt.Sprintf("delete accounts request by %s failed", subj), err)
		return
	}
	var errs []string
	for _, acc := range accounts {
		dctx, cancel := context.WithTimeout(audit.WithActor(ctx, audit.Actor{Via: audit.ViaNATS, Signer: subj}), writeTimeout)
		err := r.st.Delete(dctx, acc)
		cancel()
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			r.storeError("delete", err)
			errs = append(errs, err.Error())
			continue
		}
		r.forget(acc)
		r.remove(acc)
	}
	passed := len(accounts) - len(errs)
	if len(errs) == 0 {
		r.updateReply(s, m, "", fmt.Sprintf("deleted %d accounts", passed), nil)
		return
	}
	r.updateReply(s, m, "", fmt.Sprintf("deleted %d accounts, failed for %d", passed, len(errs)),
		errors.New(strings.Join(errs, "\n")))
}

// onPack answers $SYS.REQ.CLAIMS.PACK: when the requester's hash (the XOR
// of the SHA-256 of every JWT, as a full resolver computes it) differs
// from ours, one "<pub>|<jwt>" message per account; always an empty
// message at the end.
func (r *Resolver) onPack(ctx context.Context, _ *server.Server, m *nats.Msg) {
	if m.Reply == "" {
		return
	}
	lines, hash, err := r.pack(ctx)
	if err != nil {
		r.log.Warn("claims pack request", "error", err) // let them time out
		return
	}
	if len(m.Data) != len(hash) || string(m.Data) != string(hash[:]) {
		for _, l := range lines {
			if err := m.Respond([]byte(l)); err != nil {
				r.log.Warn("send claims pack", "error", err)
				return
			}
		}
	}
	_ = m.Respond(nil)
}

// pack reads every unexpired stored JWT as pack lines and their hash.
func (r *Resolver) pack(ctx context.Context) ([]string, [sha256.Size]byte, error) {
	var hash [sha256.Size]byte
	pctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	ids, err := r.st.List(pctx)
	if err != nil {
		r.storeError("list", err)
		return nil, hash, err
	}
	now := time.Now().Unix()
	lines := make([]string, 0, len(ids))
	for _, id := range ids {
		rec, err := r.st.Get(pctx, id)
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			r.storeError("get", err)
			return nil, hash, err
		}
		if rec.Expires > 0 && rec.Expires < now {
			continue
		}
		sum := sha256.Sum256([]byte(rec.JWT))
		for i := range sum {
			hash[i] ^= sum[i]
		}
		lines = append(lines, id+"|"+rec.JWT)
	}
	return lines, hash, nil
}

// validateMappings applies nats-server's checks on subject mappings, which
// a full resolver makes before storing a pushed JWT: a mapping that would
// be dropped when the account is installed is refused up front.
func validateMappings(claim *jwt.AccountClaims) error {
	for src, wms := range claim.Mappings {
		if !server.IsValidSubject(string(src)) {
			return fmt.Errorf("mapping %q: %w", src, server.ErrBadSubject)
		}
		seen := map[string]bool{}
		total := map[string]int{}
		for _, wm := range wms {
			dest := string(wm.Subject)
			if seen[dest] {
				return fmt.Errorf("mapping %q: duplicate entry for %q", src, dest)
			}
			seen[dest] = true
			w := int(wm.GetWeight())
			if w > 100 {
				return fmt.Errorf("mapping %q: individual weights need to be <= 100", src)
			}
			total[wm.Cluster] += w
			if total[wm.Cluster] > 100 {
				return fmt.Errorf("mapping %q: total weight needs to be <= 100", src)
			}
			if err := server.ValidateMapping(string(src), dest); err != nil {
				return fmt.Errorf("mapping %q -> %q: %v", src, dest, err)
			}
			if _, err := server.NewSubjectTransform(string(src), dest); err != nil {
				return fmt.Errorf("mapping %q -> %q: %v", src, dest, err)
			}
		}
	}
	return nil
}
