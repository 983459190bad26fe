package accountserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsauth/natsauth/store"
)

// Notifier announces a stored account JWT to whoever enforces it.
type Notifier interface {
	Announce(ctx context.Context, account, jwt string) error
}

// NATSNotifier publishes account JWTs on the system account's
// $SYS.REQ.ACCOUNT.<pub>.CLAIMS.UPDATE subject, which every nats-server in
// operator mode with a system account applies to a loaded account — the
// way stock URL-resolver servers learn of changes. The connection must be
// a system-account user's.
type NATSNotifier struct {
	nc *nats.Conn
	// FlushTimeout bounds the wait for the server to acknowledge a publish.
	FlushTimeout time.Duration
}

// NewNATSNotifier returns a Notifier publishing on nc. The caller keeps
// ownership of nc.
func NewNATSNotifier(nc *nats.Conn) *NATSNotifier {
	return &NATSNotifier{nc: nc, FlushTimeout: 2 * time.Second}
}

// ClaimsUpdateSubject is the subject on which account's JWT is announced.
func ClaimsUpdateSubject(account string) string {
	return "$SYS.REQ.ACCOUNT." + account + ".CLAIMS.UPDATE"
}

// Announce publishes jwt for account and, while connected, waits until
// the server has received it. While reconnecting the message waits in the
// client's reconnect buffer and Announce returns nil.
func (n *NATSNotifier) Announce(ctx context.Context, account, jwt string) error {
	if err := n.nc.Publish(ClaimsUpdateSubject(account), []byte(jwt)); err != nil {
		return fmt.Errorf("announce account %s: %w", account, err)
	}
	if !n.nc.IsConnected() {
		return nil
	}
	fctx, cancel := context.WithTimeout(ctx, n.FlushTimeout)
	defer cancel()
	if err := n.nc.FlushWithContext(fctx); err != nil {
		return fmt.Errorf("announce account %s: flush: %w", account, err)
	}
	return nil
}

// announce forwards store events to the Notifier until ctx ends. A reset
// (or a watch that had to be re-established) re-announces every account,
// since any of them may have changed unseen.
func (s *Server) announce(ctx context.Context, w store.Watcher, events <-chan store.Event) {
	backoff := 100 * time.Millisecond
	for {
		for ev := range events {
			backoff = 100 * time.Millisecond
			switch ev.Kind {
			case store.EventPut:
				s.announceOne(ctx, ev.Account, ev.JWT)
			case store.EventDelete:
				// The URL resolver has no way to unload an account; a stock
				// server keeps it until restart.
				s.log.Info("account deleted from the store; not announced", "account", ev.Account)
			case store.EventReset:
				s.announceAll(ctx)
			}
		}
		// The watch ended: ctx is done, or the store dropped it.
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 5*time.Second)
			var err error
			events, err = w.Watch(ctx)
			if err == nil {
				break
			}
			if errors.Is(err, store.ErrClosed) {
				s.log.Warn("store closed; announcements stopped")
				return
			}
			s.log.Warn("re-watching the store for announcements failed", "err", err)
		}
		s.announceAll(ctx)
	}
}

func (s *Server) announceOne(ctx context.Context, account, token string) {
	if token == "" {
		rec, err := s.st.Get(ctx, account)
		if err != nil {
			s.log.Warn("announce: read account failed", "account", account, "err", err)
			return
		}
		token = rec.JWT
	}
	if err := s.opts.Notifier.Announce(ctx, account, token); err != nil {
		if ctx.Err() == nil {
			s.log.Warn("announce failed", "account", account, "err", err)
		}
		return
	}
	s.log.Debug("announced account jwt", "account", account)
}

func (s *Server) announceAll(ctx context.Context) {
	keys, err := s.st.List(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("announce after missed changes: list accounts failed", "err", err)
		}
		return
	}
	s.log.Info("changes may have been missed; announcing every account", "accounts", len(keys))
	for _, k := range keys {
		if ctx.Err() != nil {
			return
		}
		s.announceOne(ctx, k, "")
	}
}

// ConnectNotifier connects to NATS as the system-account user of creds for
// a NATSNotifier. The NATS servers may not be up yet (a URL-resolver server
// needs the account server to start), so the connection keeps retrying in
// the background and announcements are buffered meanwhile.
func ConnectNotifier(url, creds string, log *slog.Logger) (*nats.Conn, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if _, err := os.Stat(creds); err != nil {
		return nil, fmt.Errorf("creds: %w", err)
	}
	nc, err := nats.Connect(url,
		nats.Name("natsauth account-server"),
		nats.UserCredentials(creds),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ConnectHandler(func(c *nats.Conn) { log.Info("announcing on NATS", "server", c.ConnectedUrlRedacted()) }),
		nats.ReconnectHandler(func(c *nats.Conn) { log.Info("reconnected to NATS", "server", c.ConnectedUrlRedacted()) }),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("disconnected from NATS; announcements are buffered", "err", err)
			}
		}),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			log.Warn("NATS error", "err", err)
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", store.Redact(url), err)
	}
	return nc, nil
}
