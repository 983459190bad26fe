package manage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/natsauth/natsauth/audit"
	"github.com/natsauth/natsauth/claims"
)

// ActionKick is the audit action of a client connection closed on request.
const ActionKick = "kick connection"

// DefaultGather is how long Live waits for more servers after the first
// answer to a request.
const DefaultGather = 150 * time.Millisecond

// Live reads what the running servers report over a system-account
// connection (see ConnectSystem): nodes, connections, account statistics
// and JetStream usage. It changes nothing; Kick, which closes a
// connection, is a Manager method so that it is audited.
type Live struct {
	NC *nats.Conn
	// Gather is how long to wait for more servers after the first answer
	// (default DefaultGather).
	Gather time.Duration
}

// NodeState is one server of the cluster, from its VARZ.
type NodeState struct {
	ID            string    `json:"id"`
	Name          string    `json:"name"`
	Version       string    `json:"version"`
	Cluster       string    `json:"cluster,omitempty"`
	Start         time.Time `json:"start"`
	Uptime        string    `json:"uptime"`
	Connections   int       `json:"connections"`
	Subs          uint32    `json:"subscriptions"`
	Routes        int       `json:"routes"`
	Mem           int64     `json:"mem"`
	CPU           float64   `json:"cpu"`
	JetStream     bool      `json:"jetstream"`
	SlowConsumers int64     `json:"slow_consumers"`
}

// Connection is one client connection of an account on one server.
type Connection struct {
	Server   string    `json:"server"`    // server name
	ServerID string    `json:"server_id"` // for Kick
	CID      uint64    `json:"cid"`
	User     string    `json:"user,omitempty"` // user public key
	NameTag  string    `json:"name_tag,omitempty"`
	Name     string    `json:"name,omitempty"` // the client's connection name
	IP       string    `json:"ip"`
	Port     int       `json:"port"`
	Lang     string    `json:"lang,omitempty"`
	Version  string    `json:"version,omitempty"`
	Start    time.Time `json:"start"`
	Uptime   string    `json:"uptime"`
	Subs     uint32    `json:"subscriptions"`
	InMsgs   int64     `json:"in_msgs"`
	OutMsgs  int64     `json:"out_msgs"`
	SubsList []string  `json:"subscriptions_list,omitempty"`
}

// AccountStat is one account's traffic over all servers.
type AccountStat struct {
	Account string `json:"account"`
	Conns   int    `json:"connections"`
	Leafs   int    `json:"leafnodes"`
	Subs    uint32 `json:"subscriptions"`
	MsgsIn  int64  `json:"msgs_in"`
	MsgsOut int64  `json:"msgs_out"`
}

// JetStreamUsage is one account's JetStream use over all servers.
type JetStreamUsage struct {
	Memory    uint64 `json:"memory"`
	Storage   uint64 `json:"storage"`
	Streams   int    `json:"streams"`
	Consumers int    `json:"consumers"`
	// Servers is how many servers answered for the account.
	Servers int `json:"servers"`
}

// gather sends body to subject and collects the answer of every server
// until none has answered for the gather time (the first may take 2 s).
func (l *Live) gather(ctx context.Context, subject string, body any) ([]claims.PingReply, error) {
	if l == nil || l.NC == nil {
		return nil, errors.New("live state: no system-account connection")
	}
	gather := l.Gather
	if gather <= 0 {
		gather = DefaultGather
	}
	out, _, err := claims.Gather(ctx, l.NC, subject, body, 2*time.Second, gather)
	if err != nil && ctx.Err() == nil {
		return nil, fmt.Errorf("live state: %w", err)
	}
	return out, err
}

// Nodes lists the servers that answer, sorted by name.
func (l *Live) Nodes(ctx context.Context) ([]NodeState, error) {
	rs, err := l.gather(ctx, "$SYS.REQ.SERVER.PING.VARZ", struct{}{})
	if err != nil {
		return nil, err
	}
	var out []NodeState
	for _, r := range rs {
		var v server.Varz
		if r.Error != nil || json.Unmarshal(r.Data, &v) != nil {
			continue
		}
		out = append(out, NodeState{ID: v.ID, Name: v.Name, Version: v.Version, Cluster: v.Cluster.Name,
			Start: v.Start, Uptime: v.Uptime, Connections: v.Connections, Subs: v.Subscriptions,
			Routes: v.Routes, Mem: v.Mem, CPU: v.CPU, JetStream: v.JetStream.Config != nil,
			SlowConsumers: v.SlowConsumers})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Connections lists the client connections of an account (public key) on
// every server, with their subscriptions.
func (l *Live) Connections(ctx context.Context, account string) ([]Connection, error) {
	return l.connections(ctx, server.ConnzEventOptions{ConnzOptions: server.ConnzOptions{
		Account: account, Username: true, Subscriptions: true, Limit: 1024}})
}

func (l *Live) connections(ctx context.Context, opts server.ConnzEventOptions) ([]Connection, error) {
	rs, err := l.gather(ctx, "$SYS.REQ.SERVER.PING.CONNZ", opts)
	if err != nil {
		return nil, err
	}
	out := []Connection{}
	for _, r := range rs {
		var cz server.Connz
		if r.Error != nil || json.Unmarshal(r.Data, &cz) != nil {
			continue
		}
		for _, c := range cz.Conns {
			if opts.Account != "" && c.Account != opts.Account {
				continue
			}
			out = append(out, Connection{Server: r.Server.Name, ServerID: r.Server.ID, CID: c.Cid,
				User: c.AuthorizedUser, NameTag: c.NameTag, Name: c.Name, IP: c.IP, Port: c.Port,
				Lang: c.Lang, Version: c.Version, Start: c.Start, Uptime: c.Uptime, Subs: c.NumSubs,
				InMsgs: c.InMsgs, OutMsgs: c.OutMsgs, SubsList: c.Subs})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Server != out[j].Server {
			return out[i].Server < out[j].Server
		}
		return out[i].CID < out[j].CID
	})
	return out, nil
}

// AccountStats sums the statistics of the accounts with connections (all
// of them when accounts is empty) over every server.
func (l *Live) AccountStats(ctx context.Context, accounts ...string) (map[string]AccountStat, error) {
	rs, err := l.gather(ctx, "$SYS.REQ.ACCOUNT.PING.STATZ",
		server.AccountStatzEventOptions{AccountStatzOptions: server.AccountStatzOptions{Accounts: accounts}})
	if err != nil {
		return nil, err
	}
	out := map[string]AccountStat{}
	for _, r := range rs {
		var st server.AccountStatz
		if r.Error != nil || json.Unmarshal(r.Data, &st) != nil {
			continue
		}
		for _, a := range st.Accounts {
			s := out[a.Account]
			s.Account = a.Account
			s.Conns += a.Conns
			s.Leafs += a.LeafNodes
			s.Subs += a.NumSubs
			s.MsgsIn += a.Received.Msgs
			s.MsgsOut += a.Sent.Msgs
			out[a.Account] = s
		}
	}
	return out, nil
}

// JetStream sums an account's JetStream use over the servers that run it.
func (l *Live) JetStream(ctx context.Context, account string) (*JetStreamUsage, error) {
	rs, err := l.gather(ctx, "$SYS.REQ.ACCOUNT."+account+".JSZ",
		server.JszEventOptions{JSzOptions: server.JSzOptions{Account: account, Streams: true}})
	if err != nil {
		return nil, err
	}
	u := &JetStreamUsage{}
	for _, r := range rs {
		var d server.AccountDetail
		if r.Error != nil || json.Unmarshal(r.Data, &d) != nil {
			continue
		}
		u.Servers++
		u.Memory += d.Memory
		u.Storage += d.Store
		u.Streams += len(d.Streams)
		for _, s := range d.Streams {
			u.Consumers += s.State.Consumers
		}
	}
	return u, nil
}

// Kick closes one client connection of account (public key) on the
// server with serverID and records who asked in the audit log. A
// connection of another account is refused (ErrNotFound-like error), so a
// caller scoped to one account cannot close others' connections. The
// client may reconnect: revoke the user (RevokeUser) to keep it out.
func (m *Manager) Kick(ctx context.Context, l *Live, account, serverID string, cid uint64) error {
	conns, err := l.connections(ctx, server.ConnzEventOptions{
		ConnzOptions:       server.ConnzOptions{CID: cid, Account: account, Username: true},
		EventFilterOptions: server.EventFilterOptions{}})
	if err != nil {
		return err
	}
	var found *Connection
	for i := range conns {
		if conns[i].ServerID == serverID && conns[i].CID == cid {
			found = &conns[i]
		}
	}
	if found == nil {
		return fmt.Errorf("kick: %w: no connection %d of account %s on server %s", ErrNoConnection, cid, account, serverID)
	}
	msg, err := l.NC.RequestWithContext(ctx, "$SYS.REQ.SERVER."+serverID+".KICK",
		[]byte(`{"cid":`+strconv.FormatUint(cid, 10)+`}`))
	if err != nil {
		return fmt.Errorf("kick connection %d on %s: %w", cid, found.Server, err)
	}
	var r claims.PingReply
	if json.Unmarshal(msg.Data, &r) == nil && r.Error != nil {
		return fmt.Errorf("kick connection %d on %s: %s", cid, found.Server, r.Error.Description)
	}
	e := audit.Entry{Action: ActionKick, Account: account, User: found.User,
		Detail: fmt.Sprintf("connection %d on %s from %s:%d", cid, found.Server, found.IP, found.Port)}
	e.AccountName = m.AccountName(ctx, account)
	m.mu.Lock()
	m.record(ctx, []audit.Entry{e})
	m.mu.Unlock()
	return nil
}

// ErrNoConnection means the connection to close does not exist (any
// more) or is not the account's.
var ErrNoConnection = errors.New("no such connection")
