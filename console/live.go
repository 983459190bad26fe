package console

import (
	"context"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsauth/natsauth/manage"
	"github.com/natsauth/natsauth/sysevents"
)

// eventLog keeps the latest auth failures the servers reported, decoded
// by sysevents (the classification /metrics counts by).
type eventLog struct {
	mu   sync.Mutex
	max  int
	recs []sysevents.Record
}

func newEventLog(max int) *eventLog { return &eventLog{max: max} }

func (l *eventLog) add(r sysevents.Record) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recs = append(l.recs, r)
	if len(l.recs) > l.max {
		l.recs = append([]sysevents.Record(nil), l.recs[len(l.recs)-l.max:]...)
	}
}

// addAll adds recs, oldest first.
func (l *eventLog) addAll(recs []sysevents.Record) {
	for _, r := range recs {
		l.add(r)
	}
}

// since returns failures at or after t, newest first, optionally of one
// account (public key).
func (l *eventLog) since(t time.Time, account string) []sysevents.Record {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := []sysevents.Record{}
	for i := len(l.recs) - 1; i >= 0; i-- {
		r := l.recs[i]
		if r.Time.Before(t) {
			break
		}
		if account == "" || r.Account == account {
			out = append(out, r)
		}
	}
	return out
}

// follow keeps a system-account connection and follows auth failures
// until ctx ends, reconnecting with backoff.
func (s *Server) follow(ctx context.Context) {
	backoff := 500 * time.Millisecond
	for ctx.Err() == nil {
		nc, err := s.cfg.Connect(ctx)
		if err == nil {
			closed := make(chan struct{})
			nc.SetClosedHandler(func(*nats.Conn) { close(closed) })
			stop, ferr := sysevents.Follow(nc, func(r sysevents.Record) {
				if r.Type == "auth_error" {
					s.recordFailure(r)
				}
			})
			if ferr == nil {
				s.mu.Lock()
				if s.closed {
					s.mu.Unlock()
					stop()
					nc.Close()
					return
				}
				s.nc, s.stopEv = nc, stop
				s.mu.Unlock()
				backoff = 500 * time.Millisecond
				select {
				case <-ctx.Done():
					return
				case <-closed:
				}
				s.mu.Lock()
				if s.nc == nc {
					s.nc, s.stopEv = nil, nil
				}
				s.mu.Unlock()
				continue
			}
			nc.Close()
			err = ferr
		}
		s.log.Debug("console: no system-account connection yet", "error", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 10*time.Second)
	}
}

// live is the reader of the servers' state, or a 503 problem.
func (s *Server) live() (*manage.Live, error) {
	s.mu.Lock()
	nc := s.nc
	s.mu.Unlock()
	if nc == nil || nc.IsClosed() {
		return nil, problem(http.StatusServiceUnavailable, "no-servers", "No running server answers",
			"live state needs a running natsauth serve of this home (the console connects to it as the system user)")
	}
	return &manage.Live{NC: nc}, nil
}

// BusyAccount is an account's traffic with its name.
type BusyAccount struct {
	manage.AccountStat
	Name string `json:"name,omitempty"`
}

// Overview is the console's front page.
type Overview struct {
	Operator    OperatorView            `json:"operator"`
	Accounts    int                     `json:"accounts"`
	Nodes       []manage.NodeState      `json:"nodes"`
	LiveError   string                  `json:"live_error,omitempty"`
	Connections int                     `json:"connections"`
	Failures    map[string]int          `json:"auth_failures_last_hour"`
	Busiest     []BusyAccount           `json:"busiest_accounts"`
	Expiring    []manage.UserSummary    `json:"expiring_users,omitempty"`
	Recent      []manage.AccountSummary `json:"-"`
}

func (s *Server) overview(c *call) error {
	ctx, cancel := context.WithTimeout(c.ctx, 3*time.Second)
	defer cancel()
	page, err := s.m.QueryAccounts(ctx, manage.AccountQuery{Limit: 1})
	if err != nil {
		return err
	}
	ov := Overview{Operator: operatorView(s.m), Accounts: page.Total, Nodes: []manage.NodeState{},
		Failures: map[string]int{}, Busiest: []BusyAccount{}}
	failures := s.events.since(time.Now().Add(-time.Hour), "")
	for _, r := range failures {
		ov.Failures[r.Cause]++
	}
	if l, err := s.live(); err != nil {
		ov.LiveError = err.(*Problem).Detail
	} else {
		if ov.Nodes, err = l.Nodes(ctx); err != nil {
			ov.LiveError = err.Error()
		}
		for _, n := range ov.Nodes {
			ov.Connections += n.Connections
		}
		if stats, err := l.AccountStats(ctx); err == nil {
			for _, st := range stats {
				ov.Busiest = append(ov.Busiest, BusyAccount{AccountStat: st})
			}
			sort.Slice(ov.Busiest, func(i, j int) bool { return ov.Busiest[i].Conns > ov.Busiest[j].Conns })
			ov.Busiest = ov.Busiest[:min(len(ov.Busiest), 10)]
			for i := range ov.Busiest {
				ov.Busiest[i].Name = s.m.AccountName(ctx, ov.Busiest[i].Account)
			}
		}
	}
	writeJSON(c.w, http.StatusOK, ov)
	return nil
}

func (s *Server) nodes(c *call) error {
	l, err := s.live()
	if err != nil {
		return err
	}
	ns, err := l.Nodes(c.ctx)
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, ns)
	return nil
}

// ConnectionsView lists an account's live connections.
type ConnectionsView struct {
	Account     string              `json:"account"`
	Connections []ConnectionView    `json:"connections"`
	Stat        *manage.AccountStat `json:"stat,omitempty"`
}

// ConnectionView is one connection with its user's name when known.
type ConnectionView struct {
	manage.Connection
	UserName string `json:"user_name,omitempty"`
}

func (s *Server) connections(c *call) error {
	acc, err := c.account(false)
	if err != nil {
		return err
	}
	l, err := s.live()
	if err != nil {
		return err
	}
	conns, err := l.Connections(c.ctx, acc.Pub)
	if err != nil {
		return err
	}
	names := map[string]string{}
	if users, err := s.m.Home().Users(acc.Name); err == nil {
		for _, u := range users {
			names[u.Pub] = u.Name
		}
	}
	out := ConnectionsView{Account: acc.Name, Connections: []ConnectionView{}}
	for _, cn := range conns {
		out.Connections = append(out.Connections, ConnectionView{Connection: cn, UserName: names[cn.User]})
	}
	writeJSON(c.w, http.StatusOK, out)
	return nil
}

func (s *Server) kick(c *call) error {
	acc, err := c.account(true)
	if err != nil {
		return err
	}
	cid, err := strconv.ParseUint(c.r.PathValue("cid"), 10, 64)
	if err != nil {
		return badRequest("cid: want a connection id (a number)")
	}
	l, err := s.live()
	if err != nil {
		return err
	}
	if err := s.m.Kick(c.ctx, l, acc.Pub, c.r.PathValue("server"), cid); err != nil {
		return err
	}
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) jetstream(c *call) error {
	acc, err := c.account(false)
	if err != nil {
		return err
	}
	l, err := s.live()
	if err != nil {
		return err
	}
	u, err := l.JetStream(c.ctx, acc.Pub)
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, u)
	return nil
}

// FailuresView is the auth failures of a period.
type FailuresView struct {
	Since     time.Time          `json:"since"`
	ByReason  map[string]int     `json:"by_reason"`
	ByAccount map[string]int     `json:"by_account"`
	Failures  []sysevents.Record `json:"failures"`
	// Following says the console receives the servers' events now.
	Following bool `json:"following"`
}

func (s *Server) failures(c *call) error {
	since := time.Now().Add(-time.Hour)
	if v := c.r.URL.Query().Get("since"); v != "" {
		t, err := parseTimeOrAgo(v)
		if err != nil {
			return badRequest(err.Error(), fieldErr("since", "an RFC 3339 time or a duration ago like 24h"))
		}
		since = t
	}
	account := ""
	if a := c.r.URL.Query().Get("account"); a != "" {
		acc, err := s.m.Home().Account(a)
		if err != nil {
			return err
		}
		account = acc.Pub
	}
	if c.user.Role.Scoped() {
		acc, err := s.m.Home().Account(c.user.Account)
		if err != nil {
			return err
		}
		if account != "" && account != acc.Pub {
			return forbidden("your role is scoped to account " + c.user.Account)
		}
		account = acc.Pub
	}
	recs := s.events.since(since, account)
	limit := intParam(c.r, "limit", 200, 5000)
	v := FailuresView{Since: since.UTC(), ByReason: map[string]int{}, ByAccount: map[string]int{}, Failures: recs[:min(len(recs), limit)]}
	names := map[string]string{}
	for i := range v.Failures {
		r := &v.Failures[i]
		if r.Account != "" && r.AccountName == "" {
			if _, ok := names[r.Account]; !ok {
				names[r.Account] = s.m.AccountName(c.ctx, r.Account)
			}
			r.AccountName = names[r.Account]
		}
	}
	for _, r := range recs {
		v.ByReason[r.Cause]++
		v.ByAccount[cmpOr(r.AccountName, names[r.Account], r.Account, "(none)")]++
	}
	s.mu.Lock()
	v.Following = s.nc != nil
	s.mu.Unlock()
	writeJSON(c.w, http.StatusOK, v)
	return nil
}

func cmpOr(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
