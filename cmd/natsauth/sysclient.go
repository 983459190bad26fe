package main

import (
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/pflag"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/manage"
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

// remote is how the core reaches --server.
func (f *sysFlags) remote() manage.Remote {
	return manage.Remote{Creds: f.creds, TLSCA: f.tlsCA, TLSCert: f.tlsCert, TLSKey: f.tlsKey}
}

// connect opens a system-account connection to --server (h may be nil
// when --creds is given).
func (f *sysFlags) connect(h *authority.Home, name string) (*nats.Conn, error) {
	return manage.ConnectSystem(h, f.remote(), f.server, name)
}
