package console

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/natsauth/natsauth/manage"
	"github.com/natsauth/natsauth/node"
)

// Listener is a console serving HTTP (or HTTPS) on its own listener.
type Listener struct {
	srv    *Server
	hs     *http.Server
	addr   string
	scheme string
	done   chan struct{}
	after  func() // run by Close once the console stopped
}

// Listen builds a console from cfg, starts it (see Server.Start) and
// serves it on addr until Close; with certFile and keyFile over HTTPS
// (cfg.Secure is then set, so cookies are Secure). It is what `natsauth
// console` and `natsauth serve --console` run.
func Listen(ctx context.Context, cfg Config, addr, certFile, keyFile string) (*Listener, error) {
	cfg.Secure = certFile != ""
	srv, err := New(cfg)
	if err != nil {
		return nil, err
	}
	log := srv.log
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("console: listen on %s: %w", addr, err)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	scheme := "http"
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("console: TLS: %w", err)
		}
		hs.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		ln, scheme = tls.NewListener(ln, hs.TLSConfig), "https"
	}
	if err := srv.Start(ctx); err != nil {
		ln.Close()
		return nil, err
	}
	l := &Listener{srv: srv, hs: hs, addr: ln.Addr().String(), scheme: scheme, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("console stopped", "error", err)
		}
	}()
	return l, nil
}

// Addr is the address the console listens on, e.g. 127.0.0.1:8080.
func (l *Listener) Addr() string { return l.addr }

// URL is the console's base URL, e.g. https://127.0.0.1:8080.
func (l *Listener) URL() string { return l.scheme + "://" + l.addr }

// Close stops serving (requests in flight get 5 s to finish) and then the
// console.
func (l *Listener) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = l.hs.Shutdown(ctx)
	<-l.done
	err := l.srv.Close()
	if l.after != nil {
		l.after()
	}
	return err
}

// ListenInNode serves a console for m inside the running node n (`natsauth
// serve --console`) on addr: the console users kept with m's store, live
// state from n over the system account (tlsCA verifies n's certificate),
// HTTPS when certFile and keyFile are given. Close closes the console
// users too. noUsers says there is no console user yet: nobody can sign
// in until one is added.
func ListenInNode(ctx context.Context, m *manage.Manager, n *node.Node, addr, certFile, keyFile, tlsCA string,
	log *slog.Logger) (l *Listener, noUsers bool, err error) {
	ad, err := OpenAdmin(ctx, m)
	if err != nil {
		return nil, false, err
	}
	users, err := ad.Access.Users(ctx)
	noUsers = err == nil && len(users) == 0
	connect := m.SystemConnector(manage.Remote{Servers: []string{n.ClientURL()}, TLSCA: tlsCA}, "natsauth console")
	l, err = Listen(ctx, Config{Manager: m, Access: ad.Access, Connect: connect, Logger: log}, addr, certFile, keyFile)
	if err != nil {
		ad.Access.Close()
		return nil, noUsers, err
	}
	l.after = func() { ad.Access.Close() }
	return l, noUsers, nil
}
