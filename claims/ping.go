package claims

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
)

// PingReply is one server's answer to a $SYS.REQ.SERVER.PING.<kind>
// request.
type PingReply struct {
	Server struct {
		Name string `json:"name"`
		ID   string `json:"id"`
	} `json:"server"`
	Data  json.RawMessage `json:"data"`
	Error *struct {
		Code        int    `json:"code"`
		Description string `json:"description"`
	} `json:"error"`
}

// Label names the server for messages.
func (r PingReply) Label() string {
	if r.Server.Name != "" && r.Server.Name != r.Server.ID {
		return r.Server.Name + " (" + r.Server.ID + ")"
	}
	return r.Server.ID
}

// Ping sends $SYS.REQ.SERVER.PING.<kind> (VARZ, CONNZ, ...) with body and
// gathers the answer of every server that replies, until none has answered
// for gather (the first answer may take up to 5 s) or ctx ends.
func Ping(ctx context.Context, nc *nats.Conn, kind string, body any, gather time.Duration) ([]PingReply, error) {
	payload, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	inbox := nc.NewRespInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return nil, err
	}
	defer sub.Unsubscribe()
	if err := nc.PublishRequest("$SYS.REQ.SERVER.PING."+kind, inbox, payload); err != nil {
		return nil, err
	}
	if err := nc.Flush(); err != nil {
		return nil, err
	}
	var out []PingReply
	seen := map[string]bool{}
	wait := 5 * time.Second
	for {
		wctx, cancel := context.WithTimeout(ctx, wait)
		msg, err := sub.NextMsgWithContext(wctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return out, ctx.Err()
			}
			if len(out) == 0 {
				return nil, fmt.Errorf("no server answered $SYS.REQ.SERVER.PING.%s (is the creds' account the system account?)", kind)
			}
			return out, nil
		}
		var r PingReply
		if err := json.Unmarshal(msg.Data, &r); err != nil {
			return nil, fmt.Errorf("ping %s: bad answer: %w", kind, err)
		}
		if !seen[r.Server.ID] {
			seen[r.Server.ID] = true
			out = append(out, r)
		}
		wait = gather
	}
}
