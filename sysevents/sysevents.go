// Package sysevents follows what servers report on the system account
// about clients: connects, disconnects (with the reason) and refused
// connects (authentication errors), each decoded into a Record with
// natsauth's explanation of the refusal. A Record carries keys and names,
// never a JWT or a seed.
package sysevents

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/natsauth/natsauth/node"
	"github.com/natsauth/natsauth/store"
)

// Subjects of the system events a follower subscribes to.
var Subjects = []string{
	"$SYS.ACCOUNT.*.CONNECT",
	"$SYS.ACCOUNT.*.DISCONNECT",
	"$SYS.SERVER.*.CLIENT.AUTH.ERR",
}

// Follow subscribes nc (a system-account connection) to every event of
// Subjects and calls handle with each decoded one, until the returned
// function is called. handle is called from nats.go's delivery goroutine.
func Follow(nc *nats.Conn, handle func(Record)) (func(), error) {
	lookup := Lookup(nc)
	var subs []*nats.Subscription
	stop := func() {
		for _, s := range subs {
			_ = s.Unsubscribe()
		}
	}
	for _, subj := range Subjects {
		s, err := nc.Subscribe(subj, func(m *nats.Msg) {
			if rec, ok := Decode(m, lookup); ok {
				handle(rec)
			}
		})
		if err != nil {
			stop()
			return nil, fmt.Errorf("subscribe %s: %w", subj, err)
		}
		subs = append(subs, s)
	}
	if err := nc.Flush(); err != nil {
		stop()
		return nil, fmt.Errorf("subscribe to system events: %w (are the creds a system-account user's?)", err)
	}
	if err := nc.LastError(); err != nil {
		stop()
		return nil, fmt.Errorf("subscribe to system events: %w (are the creds a system-account user's?)", err)
	}
	return stop, nil
}

// Lookup asks the servers for an account's JWT
// ($SYS.REQ.ACCOUNT.<key>.CLAIMS.LOOKUP): an empty answer means the
// account does not exist.
func Lookup(nc *nats.Conn) node.AccountLookup {
	return func(ctx context.Context, account string) (*jwt.AccountClaims, error) {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		m, err := nc.RequestWithContext(ctx, "$SYS.REQ.ACCOUNT."+account+".CLAIMS.LOOKUP", nil)
		if err != nil {
			return nil, fmt.Errorf("look up account %s: %w", account, err)
		}
		if len(m.Data) == 0 {
			return nil, fmt.Errorf("look up account %s: %w", account, store.ErrNotFound)
		}
		return jwt.DecodeAccountClaims(string(m.Data))
	}
}

// Record is one event, decoded. It carries keys and names, never a
// JWT.
type Record struct {
	Time        time.Time `json:"time"`
	Type        string    `json:"type"` // connect, disconnect, auth_error
	Server      string    `json:"server,omitempty"`
	Account     string    `json:"account,omitempty"`
	AccountName string    `json:"account_name,omitempty"`
	User        string    `json:"user,omitempty"`
	UserName    string    `json:"user_name,omitempty"`
	Remote      string    `json:"remote,omitempty"`
	Client      string    `json:"client,omitempty"` // the name the client gave its connection
	Reason      string    `json:"reason,omitempty"` // what the server said
	Cause       string    `json:"cause,omitempty"`  // natsauth's explanation (a metrics reason label)
	Detail      string    `json:"detail,omitempty"`
}

// Decode turns a system event message into a Record; ok is false for a
// message that is not one of Subjects' events. lookup explains refused
// connects (node.ClassifyAuthError) and may be nil.
func Decode(m *nats.Msg, lookup node.AccountLookup) (rec Record, ok bool) {
	switch {
	case strings.HasSuffix(m.Subject, ".CONNECT"):
		var ev server.ConnectEventMsg
		if json.Unmarshal(m.Data, &ev) != nil {
			return Record{}, false
		}
		rec := clientRecord("connect", ev.Time, ev.Server, ev.Client)
		return rec, true
	case strings.HasSuffix(m.Subject, ".DISCONNECT"):
		var ev server.DisconnectEventMsg
		if json.Unmarshal(m.Data, &ev) != nil {
			return Record{}, false
		}
		rec := clientRecord("disconnect", ev.Time, ev.Server, ev.Client)
		rec.Reason = ev.Reason
		if f, ok := node.ClassifyDisconnect(&ev); ok {
			rec.Cause, rec.Detail = f.Reason, f.Detail
			rec.User = cmpOr(rec.User, f.User)
		}
		return rec, true
	case strings.HasSuffix(m.Subject, ".AUTH.ERR"):
		var ev server.DisconnectEventMsg
		if json.Unmarshal(m.Data, &ev) != nil {
			return Record{}, false
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		f := node.ClassifyAuthError(ctx, &ev, lookup, time.Now())
		rec := Record{
			Time: ev.Time, Type: "auth_error", Server: serverLabel(ev.Server),
			Account: f.Account, User: f.User, Remote: f.Remote, Client: f.Name,
			Reason: ev.Reason, Cause: f.Reason, Detail: f.Detail,
		}
		if uc, err := jwt.DecodeUserClaims(ev.Client.Jwt); err == nil {
			rec.UserName = uc.Name
		}
		return rec, true
	}
	return Record{}, false
}

// clientRecord fills what connect and disconnect events share.
func clientRecord(typ string, at time.Time, si server.ServerInfo, ci server.ClientInfo) Record {
	rec := Record{
		Time: at, Type: typ, Server: serverLabel(si),
		Account: ci.Account, AccountName: ci.NameTag, Remote: ci.Host, Client: ci.Name,
	}
	if nkeys.IsValidPublicUserKey(ci.User) {
		rec.User = ci.User
	}
	if ci.Jwt != "" {
		if uc, err := jwt.DecodeUserClaims(ci.Jwt); err == nil {
			rec.UserName = uc.Name
			rec.User = cmpOr(rec.User, uc.Subject)
		}
	}
	return rec
}

func serverLabel(si server.ServerInfo) string { return cmpOr(si.Name, si.ID) }

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Line renders the record for people, on one line.
func (r Record) Line() string {
	var b strings.Builder
	at := r.Time
	if at.IsZero() {
		at = time.Now()
	}
	b.WriteString(at.Local().Format("2006-01-02 15:04:05.000"))
	kinds := map[string]string{"connect": "CONNECT   ", "disconnect": "DISCONNECT", "auth_error": "AUTH ERROR"}
	fmt.Fprintf(&b, " %s ", kinds[r.Type])
	b.WriteString("user ")
	b.WriteString(nameKey(r.UserName, r.User))
	b.WriteString(" account ")
	b.WriteString(nameKey(r.AccountName, r.Account))
	if r.Remote != "" {
		b.WriteString(" from ")
		b.WriteString(r.Remote)
	}
	if r.Client != "" {
		fmt.Fprintf(&b, " client %q", r.Client)
	}
	if r.Server != "" {
		b.WriteString(" on ")
		b.WriteString(r.Server)
	}
	if r.Reason != "" {
		b.WriteString(": ")
		b.WriteString(r.Reason)
	}
	if r.Cause != "" {
		fmt.Fprintf(&b, " [%s: %s]", r.Cause, r.Detail)
	}
	return b.String()
}

func nameKey(name, key string) string {
	switch {
	case name != "" && key != "":
		return name + " (" + key + ")"
	case key != "":
		return key
	case name != "":
		return name
	}
	return "-"
}

// Printer is a Follow handler that writes each record to w as one line:
// its Line, or with asJSON one JSON object. Follow may call it from
// several goroutines; the lines never interleave.
func Printer(w io.Writer, asJSON bool) func(Record) {
	var mu sync.Mutex
	return func(rec Record) {
		mu.Lock()
		defer mu.Unlock()
		if asJSON {
			b, _ := json.Marshal(rec)
			fmt.Fprintf(w, "%s\n", b)
			return
		}
		fmt.Fprintln(w, rec.Line())
	}
}
