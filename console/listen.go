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
)

// Listener is a console serving HTTP (or HTTPS) on its own listener.
type Listener struct {
	srv    *Server
	hs     *http.Server
	addr   string
	scheme string
	done   chan struct{}
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
	return l.srv.Close()
}
