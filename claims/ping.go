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
	out, bad, err := Gather(ctx, nc, "$SYS.REQ.SERVER.PING."+kind, body, 5*time.Second, gather)
	switch {
	case err != nil:
		return out, err
	case bad > 0:
		return nil, fmt.Errorf("ping %s: %d bad answer(s): not a server's reply", kind, bad)
	case len(out) == 0:
		return nil, fmt.Errorf("no server answered $SYS.REQ.SERVER.PING.%s (is the creds' account the system account?)", kind)
	}
	return out, nil
}

// Gather sends body to subject, a request that every server answers (the
// $SYS.REQ.SERVER.PING and $SYS.REQ.ACCOUNT subjects), and collects one
// answer per server until none has come for gather (the first may take up
// to first) or ctx ends. Answers that are not a server's reply envelope are
// counted in bad and left out.
func Gather(ctx context.Context, nc *nats.Conn, subject string, body any, first, gather time.Duration) (out []PingReply, bad int, err error) {
	payload, err := json.Marshal(body)
	if err != nil {
		return nil, 0, err
	}
	inbox := nc.NewRespInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return nil, 0, err
	}
	defer sub.Unsubscribe()
	if err := nc.PublishRequest(subject, inbox, payload); err != nil {
		return nil, 0, fmt.Errorf("%s: %w", subject, err)
	}
	if err := nc.Flush(); err != nil {
		return nil, 0, err
	}
	seen := map[string]bool{}
	wait := first
	for {
		wctx, cancel := context.WithTimeout(ctx, wait)
		msg, err := sub.NextMsgWithContext(wctx)
		cancel()
		if err != nil {
			return out, bad, ctx.Err()
		}
		var r PingReply
		if err := json.Unmarshal(msg.Data, &r); err != nil {
			bad++
			continue
		}
		if !seen[r.Server.ID] {
			seen[r.Server.ID] = true
			out = append(out, r)
		}
		wait = gather
	}
}
