package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/pflag"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/store"
)

// sysFlags say how to reach running servers as a system-account user.
type sysFlags struct {
	server          string
	creds           string
	tlsCA           string
	tlsCert, tlsKey string
	gather          time.Duration
}

func (f *sysFlags) bind(fs *pflag.FlagSet, what string) {
	fs.StringVarP(&f.server, "server", "s", "", "NATS URL of a running server, to "+what)
	fs.StringVar(&f.creds, "creds", "", "system-account user creds for --server (default: the home's system user)")
	fs.StringVar(&f.tlsCA, "tls-ca", "", "CA file that signed the server's certificate (TLS)")
	fs.StringVar(&f.tlsCert, "tls-cert", "", "client certificate for mutual TLS")
	fs.StringVar(&f.tlsKey, "tls-key", "", "client key for mutual TLS")
	fs.DurationVar(&f.gather, "gather", 500*time.Millisecond, "how long to wait for more servers to answer a ping")
}

// connect opens a system-account connection to --server.
func (f *sysFlags) connect(h *authority.Home, name string) (*nats.Conn, error) {
	creds := f.creds
	if creds == "" {
		if h == nil {
			return nil, errors.New("--server needs --creds of a system-account user")
		}
		p, err := h.SystemUserCreds()
		if err != nil {
			return nil, fmt.Errorf("--server: %w (pass --creds)", err)
		}
		creds = p
	}
	if _, err := os.Stat(creds); err != nil {
		return nil, fmt.Errorf("--creds: %w", err)
	}
	opts := []nats.Option{nats.Name(name), nats.UserCredentials(creds), nats.Timeout(5 * time.Second)}
	if f.tlsCA != "" {
		opts = append(opts, nats.RootCAs(f.tlsCA))
	}
	if f.tlsCert != "" || f.tlsKey != "" {
		opts = append(opts, nats.ClientCert(f.tlsCert, f.tlsKey))
	}
	nc, err := nats.Connect(f.server, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to %s as a system-account user: %w", store.Redact(f.server), err)
	}
	return nc, nil
}

// serverReply is one server's answer to a $SYS.REQ.SERVER.PING request.
type serverReply struct {
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

// label names the server for messages.
func (r serverReply) label() string {
	if r.Server.Name != "" && r.Server.Name != r.Server.ID {
		return r.Server.Name + " (" + r.Server.ID + ")"
	}
	return r.Server.ID
}

// pingServers sends $SYS.REQ.SERVER.PING.<kind> with body and gathers the
// answers of every server that replies, until none has answered for
// gather (or ctx ends).
func pingServers(ctx context.Context, nc *nats.Conn, kind string, body any, gather time.Duration) ([]serverReply, error) {
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
	var out []serverReply
	seen := map[string]bool{}
	wait := 5 * time.Second // the first answer may take longer
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
		var r serverReply
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
