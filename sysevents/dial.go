package sysevents

import (
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsauth/natsauth/store"
)

// DialOptions say how a follower connects and what it hears of its
// connection.
type DialOptions struct {
	// Name is the connection's name, as the servers show it.
	Name string
	// TLSCA verifies the server's certificate; TLSCert and TLSKey are a
	// client certificate for mutual TLS.
	TLSCA, TLSCert, TLSKey string
	// OnDisconnect hears why a connection was lost (it reconnects).
	OnDisconnect func(error)
	// OnReconnect hears the URL a connection came back on.
	OnReconnect func(url string)
}

// Dial connects a follower to url as a system-account user (auth, e.g.
// claims.Creds.Option), reconnecting for as long as the connection is
// open, so that Follow keeps following across server restarts.
func Dial(url string, auth nats.Option, o DialOptions) (*nats.Conn, error) {
	opts := []nats.Option{
		nats.Name(o.Name),
		auth,
		nats.Timeout(5 * time.Second),
		nats.MaxReconnects(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil && o.OnDisconnect != nil {
				o.OnDisconnect(err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			if o.OnReconnect != nil {
				o.OnReconnect(nc.ConnectedUrl())
			}
		}),
	}
	if o.TLSCA != "" {
		opts = append(opts, nats.RootCAs(o.TLSCA))
	}
	if o.TLSCert != "" || o.TLSKey != "" {
		opts = append(opts, nats.ClientCert(o.TLSCert, o.TLSKey))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to %s as a system-account user: %w", store.Redact(url), err)
	}
	return nc, nil
}
