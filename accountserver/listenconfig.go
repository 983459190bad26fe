package accountserver

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/natsauth/natsauth/authority"

	"github.com/natsauth/natsauth/internal/tlsgen"
	"github.com/natsauth/natsauth/store"
)

// ListenConfig is an account server with everything around it: the
// store, where pushed activation tokens are kept, the announcements over
// NATS and HTTPS. It is what `natsauth account-server` and `natsauth serve
// --account-server` run. Errors name the account-server command's flags.
type ListenConfig struct {
	// Options are the server's; Activations and Notifier are set from
	// ActivationsDir and NATSURL.
	Options
	// Store is served as it is (Close leaves it open); without it the
	// store at StoreURL is opened with Policy and Logger (and closed by
	// Close).
	Store    store.Store
	StoreURL string
	Addr     string
	// TLSCert and TLSKey serve HTTPS; TLSCA then requires client
	// certificates it signed.
	TLSCert, TLSKey, TLSCA string
	// NATSURL, with the system-account user's Creds, announces every
	// change of the store (see ConnectNotifier).
	NATSURL, Creds string
	// ActivationsDir keeps pushed activation tokens; "" keeps them in
	// memory.
	ActivationsDir string
}

// Listen opens what c names and serves it until the Listener is closed.
func (c ListenConfig) Listen(ctx context.Context) (_ *Listener, err error) {
	var closers []func()
	defer func() {
		if err != nil {
			for _, f := range closers {
				f()
			}
		}
	}()
	log := c.Logger
	st := c.Store
	if st == nil {
		if st, err = store.Open(ctx, c.StoreURL, store.Options{Policy: c.Policy, Logger: c.Logger}); err != nil {
			return nil, fmt.Errorf("account-server: %w", err)
		}
		closers = append(closers, func() { st.Close() })
		if log != nil {
			log = log.With("store", store.Redact(c.StoreURL))
		}
	}
	opts := c.Options
	if c.ActivationsDir != "" {
		if opts.Activations, err = NewDirActivations(c.ActivationsDir); err != nil {
			return nil, err
		}
	}
	if c.NATSURL != "" {
		nc, err := ConnectNotifier(c.NATSURL, c.Creds, c.Logger)
		if err != nil {
			return nil, fmt.Errorf("account-server: %w", err)
		}
		closers = append(closers, nc.Close)
		opts.Notifier = NewNATSNotifier(nc)
	}
	tc, err := c.tlsConfig()
	if err != nil {
		return nil, err
	}
	l, err := Listen(ctx, New(st, opts), c.Addr, tc, log)
	if err != nil {
		return nil, err
	}
	l.after = closers
	return l, nil
}

// tlsConfig is the HTTPS configuration, nil for HTTP.
func (c ListenConfig) tlsConfig() (*tls.Config, error) {
	if c.TLSCert == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("account-server: load tls key pair: %w", err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if c.TLSCA != "" {
		pool, err := tlsgen.LoadCAPool(c.TLSCA)
		if err != nil {
			return nil, fmt.Errorf("account-server: --tls-ca: %w", err)
		}
		tc.ClientCAs, tc.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return tc, nil
}

// Check reports what Listen cannot serve, in the account-server command's
// flags: a certificate without its key, a client CA without HTTPS, creds
// without a NATS URL to announce on.
func (c ListenConfig) Check() error {
	switch {
	case (c.TLSCert == "") != (c.TLSKey == ""):
		return errors.New("account-server: --tls-cert and --tls-key go together")
	case c.TLSCA != "" && c.TLSCert == "":
		return errors.New("account-server: --tls-ca needs --tls-cert and --tls-key (client certificates are checked over https only)")
	case c.Creds != "" && c.NATSURL == "":
		return errors.New("account-server: --creds needs --nats")
	}
	return nil
}

// WithHome fills what c leaves empty from the home h (nil: none): the
// home's system user creds to announce on NATSURL, and HOME/activations
// for pushed activation tokens.
func (c ListenConfig) WithHome(h *authority.Home) (ListenConfig, error) {
	if h == nil {
		if c.NATSURL != "" && c.Creds == "" {
			return c, errors.New("account-server: --nats needs --creds of a system-account user")
		}
		return c, nil
	}
	c.ActivationsDir = cmp.Or(c.ActivationsDir, ActivationsDir(h.Dir()))
	if c.NATSURL != "" && c.Creds == "" {
		p, err := h.SystemUserCreds()
		if err != nil {
			return c, fmt.Errorf("account-server: --nats: %w (pass --creds)", err)
		}
		c.Creds = p
	}
	return c, nil
}

// ActivationsDir is where the account servers of the home in dir keep
// pushed activation tokens.
func ActivationsDir(home string) string { return filepath.Join(home, "activations") }
