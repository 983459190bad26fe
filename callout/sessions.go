package callout

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// session is one user this instance issued, believed connected.
type session struct {
	server   string // server ID the client connected to
	cid      uint64 // the client's connection ID on that server
	user     string // issued user public key
	account  string
	identity *Identity
	rule     string
	grant    string // grantSignature at issue
	expires  time.Time
}

type connKey struct {
	server string
	cid    uint64
}

// sessions indexes the live sessions by connection.
type sessions struct {
	mu     sync.Mutex
	byConn map[connKey]*session
}

func newSessions() *sessions { return &sessions{byConn: map[connKey]*session{}} }

func (ss *sessions) add(s *session) {
	ss.mu.Lock()
	ss.byConn[connKey{s.server, s.cid}] = s
	ss.mu.Unlock()
}

func (ss *sessions) remove(k connKey) {
	ss.mu.Lock()
	delete(ss.byConn, k)
	ss.mu.Unlock()
}

func (ss *sessions) len() int {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return len(ss.byConn)
}

// list returns the sessions f selects.
func (ss *sessions) list(f func(*session) bool) []*session {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	var out []*session
	for _, s := range ss.byConn {
		if f(s) {
			out = append(out, s)
		}
	}
	return out
}

// sweep forgets sessions whose user JWT has expired: the server has ended
// them.
func (s *Service) sweep(context.Context) {
	now := time.Now()
	for _, x := range s.live.list(func(x *session) bool { return now.After(x.expires) }) {
		s.live.remove(connKey{x.server, x.cid})
	}
}

// watchDisconnects forgets sessions whose client disconnected, from the
// servers' disconnect events in the system account.
func (s *Service) watchDisconnects() error {
	_, err := s.sys.Subscribe("$SYS.ACCOUNT.*.DISCONNECT", func(m *nats.Msg) {
		var ev struct {
			Server struct {
				ID string `json:"id"`
			} `json:"server"`
			Client struct {
				ID uint64 `json:"id"`
			} `json:"client"`
		}
		if json.Unmarshal(m.Data, &ev) == nil {
			s.live.remove(connKey{ev.Server.ID, ev.Client.ID})
		}
	})
	if err != nil {
		return fmt.Errorf("callout: subscribe to disconnect events: %w", err)
	}
	return s.sys.FlushTimeout(5 * time.Second)
}

// kick ends the live connections of sessions through the system account's
// kick request to the server each is on, and forgets them.
func (s *Service) kick(list []*session, why string) int {
	if len(list) == 0 {
		return 0
	}
	if s.sys == nil {
		s.log.Warn("revoked identities keep their live connections until their JWT expires: no system account connection",
			"connections", len(list), "why", why)
		return 0
	}
	n := 0
	for _, x := range list {
		body, _ := json.Marshal(map[string]uint64{"cid": x.cid})
		_, err := s.sys.Request(fmt.Sprintf("$SYS.REQ.SERVER.%s.KICK", x.server), body, 5*time.Second)
		if err != nil {
			s.log.Warn("callout: end revoked connection", "identity", x.identity.Key(), "cid", x.cid, "err", err)
			continue
		}
		s.live.remove(connKey{x.server, x.cid})
		s.metrics.revoked.Inc()
		n++
		s.log.Info("callout ended a revoked connection", "identity", x.identity.Key(), "rule", x.rule, "cid", x.cid, "why", why)
	}
	return n
}

// goUserPoll follows the password user database: a user changed since a
// connection was issued (disabled, new password) loses that connection.
func (s *Service) goUserPoll(ctx context.Context) {
	rev := int64(0)
	if _, cur, err := s.cfg.Users.ChangedSince(ctx, 1<<62); err == nil {
		rev = cur
	}
	s.goLoop(ctx, s.cfg.UserPoll, func(ctx context.Context) {
		changed, cur, err := s.cfg.Users.ChangedSince(ctx, rev)
		if err != nil {
			s.log.Warn("callout: poll password users", "err", err)
			return
		}
		rev = cur
		for _, u := range changed {
			if s.pwc != nil {
				s.pwc.forget(u.Name)
			}
			key := SourcePassword + ":" + u.Name
			s.kick(s.live.list(func(x *session) bool {
				return x.identity.Key() == key && x.identity.Rev < u.Rev
			}), "password user changed")
		}
	})
}

// revokeUngranted re-decides every live session under the rules in
// force, with the identity it was issued for, and ends those whose grant
// differs (no rule matches, another rule, account or permissions).
func (s *Service) revokeUngranted() int {
	rs := s.rules.Load()
	var gone []*session
	for _, x := range s.live.list(func(*session) bool { return true }) {
		id := x.identity
		d := rs.Decide(func(src string) (*Identity, *Failure) {
			if src == id.Source {
				return id, nil
			}
			return nil, noCredentials("re-check of a live connection")
		})
		if !d.Allowed {
			gone = append(gone, x)
			continue
		}
		t, err := s.keys.target(d.Grant.Account)
		if err != nil || !s.keys.allowed(t.pub) || grantSignature(t.pub, d.Grant) != x.grant {
			gone = append(gone, x)
		}
	}
	return s.kick(gone, "rules changed")
}
