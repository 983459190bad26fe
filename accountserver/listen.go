package accountserver

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

// Listener is an account server serving HTTP (or HTTPS) on its own
// listener.
type Listener struct {
	as   *Server
	srv  *http.Server
	url  string
	done chan error
	log  *slog.Logger
	// after run once the server stopped (see ListenConfig).
	after []func()
}

// Listen starts as (its store watch, see Start) and serves it on addr,
// with TLS when tc is set. URL is then the accounts base to give stock
// nats-servers as `resolver: URL(...)`. Close stops both.
func Listen(ctx context.Context, as *Server, addr string, tc *tls.Config, log *slog.Logger) (*Listener, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("account server: listen on %s: %w", addr, err)
	}
	scheme := "http"
	if tc != nil {
		ln, scheme = tls.NewListener(ln, tc), "https"
	}
	if err := as.Start(ctx); err != nil {
		ln.Close()
		return nil, fmt.Errorf("account server: %w", err)
	}
	l := &Listener{
		as: as,
		srv: &http.Server{
			Handler:           as,
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      30 * time.Second, // watch streams extend it per event
			IdleTimeout:       2 * time.Minute,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		},
		url:  fmt.Sprintf("%s://%s/jwt/v1/accounts/", scheme, ln.Addr()),
		done: make(chan error, 1),
		log:  log,
	}
	go func() {
		err := l.srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		l.done <- err
	}()
	log.Info("account server listening", "url", l.url)
	return l, nil
}

// URL is the accounts base, e.g. http://127.0.0.1:9090/jwt/v1/accounts/.
func (l *Listener) URL() string { return l.url }

// Done reports the end of serving: nil after Close, else why it failed.
func (l *Listener) Done() <-chan error { return l.done }

// Wait serves until ctx ends and then closes l; when serving fails
// first, it closes l and returns why.
func (l *Listener) Wait(ctx context.Context) error {
	select {
	case err := <-l.done:
		_ = l.Close()
		return fmt.Errorf("account-server: serve: %w", err)
	case <-ctx.Done():
	}
	l.log.Info("account server shutting down")
	return l.Close()
}

// Close stops the account server: watch streams end first (they would
// hold the shutdown), then the HTTP server within 5 s, then what
// ListenConfig opened for it.
func (l *Listener) Close() error {
	_ = l.as.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	defer func() {
		for _, f := range l.after {
			f()
		}
	}()
	if err := l.srv.Shutdown(ctx); err != nil {
		_ = l.srv.Close()
		return fmt.Errorf("account server: shutdown: %w", err)
	}
	return nil
}
