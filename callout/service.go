// Package callout is natsauth's identity gateway: an auth callout service
// for nats-server (2.10+) that signs people and workloads in with the
// identities they already have — OpenID Connect tokens (Kubernetes service
// account tokens included), natsauth's own password users (package
// userdb), and verified client TLS certificates — and answers with a
// short-lived user JWT signed by the target account's key from the natsauth
// home, with the permissions and limits of the rule that matched.
//
// Rules live in one YAML file (see ParseRules). The service fails closed:
// no matching rule, a bad or expired token, an unknown issuer, a disabled
// user — the client is refused, the reason logged (never a token or a
// password) and counted in natsauth_callout_decisions_total. Several
// instances share the load in one queue group. Every issued user is
// audited; disabling a password user or a rule change ends the live
// connections it no longer grants (through the system account's kick
// request).
//
// Lifecycle: New checks the configuration and starts nothing; Start
// subscribes and starts the workers; Reload re-reads the rules file and
// keys; Close drains and stops.
package callout

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/natsauth/natsauth/audit"
	"github.com/natsauth/natsauth/callout/userdb"
)

// DefaultQueueGroup is the queue group instances share.
const DefaultQueueGroup = "natsauth-callout"

// Subject is where servers send authorization requests, in the callout
// account.
const Subject = server.AuthCalloutSubject

// ConnectFunc opens a NATS connection; the service owns and closes it.
type ConnectFunc func(ctx context.Context) (*nats.Conn, error)

// Config configures a Service.
type Config struct {
	// Home gives the accounts and their keys (*authority.Home).
	Home Home
	// Account is the callout account (name or public key): the account
	// whose JWT delegates authorization (natsauth edit authcallout).
	Account string
	// Rules are the rules to apply; or RulesFile, read by New and Reload.
	Rules     *Rules
	RulesFile string
	// WatchRules reloads the rules file when it changes.
	WatchRules bool
	// Users is the password user database; nil disables source password.
	Users *userdb.DB
	// UserPoll is how often Users is polled for changes (default 1s).
	UserPoll time.Duration
	// PasswordCache remembers a successful password check for this long,
	// so reconnect storms do not pay argon2id per client (default 10m;
	// negative disables). Only a keyed hash of name and password is kept,
	// in memory, and any change to the user drops it.
	PasswordCache time.Duration
	// Connect connects as an auth user of the callout account (one of its
	// --auth-user keys). Required.
	Connect ConnectFunc
	// SystemConnect connects as a system account user; with it the service
	// ends revoked identities' live connections and learns of
	// disconnects. Optional.
	SystemConnect ConnectFunc
	// QueueGroup is shared by instances (default DefaultQueueGroup).
	QueueGroup string
	// Workers bounds concurrent decisions (default 4 × GOMAXPROCS).
	Workers int
	// Throttle slows down failing client addresses (default
	// DefaultThrottle).
	Throttle *Throttle
	// Audit receives every issued user; nil records none.
	Audit audit.Log
	// Logger receives decisions and diagnostics; nil discards them.
	Logger *slog.Logger
	// Registerer receives the metrics; nil registers none.
	Registerer prometheus.Registerer
}

// Service is one running gateway instance.
type Service struct {
	cfg     Config
	log     *slog.Logger
	keys    *keyring
	oidc    *oidcVerifiers
	thr     *throttler
	metrics *instruments
	pwc     *pwCache
	audit   *auditor
	live    *sessions

	rules atomic.Pointer[Rules]

	mu       sync.Mutex
	nc       *nats.Conn
	sys      *nats.Conn
	sub      *nats.Subscription
	msgs     chan *nats.Msg
	cancel   context.CancelFunc
	stop     chan struct{}
	workers  sync.WaitGroup
	wg       sync.WaitGroup
	started  bool
	closed   bool
	reloadMu sync.Mutex

	inflight atomic.Int64 // requests taken and not yet answered
	handled  atomic.Int64 // requests answered
}

// New checks the configuration, reads the rules and the keys, and starts
// nothing.
func New(cfg Config) (*Service, error) {
	if cfg.Home == nil {
		return nil, errors.New("callout: no home")
	}
	if cfg.Account == "" {
		return nil, errors.New("callout: no callout account")
	}
	if cfg.Connect == nil {
		return nil, errors.New("callout: no way to connect (Config.Connect)")
	}
	if cfg.Rules == nil && cfg.RulesFile == "" {
		return nil, errors.New("callout: no rules (give a rules file)")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.QueueGroup == "" {
		cfg.QueueGroup = DefaultQueueGroup
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4 * runtime.GOMAXPROCS(0)
	}
	if cfg.UserPoll <= 0 {
		cfg.UserPoll = time.Second
	}
	if cfg.PasswordCache == 0 {
		cfg.PasswordCache = 10 * time.Minute
	}
	thr := DefaultThrottle
	if cfg.Throttle != nil {
		thr = *cfg.Throttle
	}
	s := &Service{cfg: cfg, log: cfg.Logger.With("component", "callout"), keys: newKeyring(cfg.Home, cfg.Account),
		oidc: newOIDCVerifiers(time.Now), thr: newThrottler(thr, time.Now), live: newSessions()}
	rs := cfg.Rules
	if rs == nil {
		var err error
		if rs, err = LoadRules(cfg.RulesFile); err != nil {
			return nil, err
		}
	}
	if err := s.checkRules(rs); err != nil {
		return nil, err
	}
	if err := s.oidc.update(rs.Providers); err != nil {
		return nil, err
	}
	s.rules.Store(rs)
	if err := s.keys.load(); err != nil {
		return nil, err
	}
	if cfg.PasswordCache > 0 {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		s.pwc = newPWCache(key, cfg.PasswordCache)
	}
	m, err := newInstruments(cfg.Registerer, func() float64 { return float64(s.live.len()) })
	if err != nil {
		return nil, fmt.Errorf("callout metrics: %w", err)
	}
	s.metrics = m
	s.audit = newAuditor(cfg.Audit, s.log)
	return s, nil
}

// checkRules refuses rules the service cannot apply: a password rule
// without a user database.
func (s *Service) checkRules(rs *Rules) error {
	for _, r := range rs.Rules {
		if r.Source == SourcePassword && s.cfg.Users == nil {
			return &RulesError{Path: rs.Path, Problems: []Problem{{Line: r.Line, Column: r.Col,
				Msg: fmt.Sprintf("rule %s: source password needs the password user database", r.Name)}}}
		}
	}
	return nil
}

// Rules returns the rules in force.
func (s *Service) Rules() *Rules { return s.rules.Load() }

// Start connects, joins the queue group and starts the workers, the user
// database poller and, if asked, the rules file watcher.
func (s *Service) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || s.closed {
		return errors.New("callout: Start called twice or after Close")
	}
	nc, err := s.cfg.Connect(ctx)
	if err != nil {
		return fmt.Errorf("callout: connect: %w", err)
	}
	s.msgs = make(chan *nats.Msg, 4096)
	sub, err := nc.ChanQueueSubscribe(Subject, s.cfg.QueueGroup, s.msgs)
	if err == nil {
		err = nc.FlushTimeout(5 * time.Second)
	}
	if err != nil {
		nc.Close()
		return fmt.Errorf("callout: subscribe to %s: %w", Subject, err)
	}
	_ = sub.SetPendingLimits(-1, -1)
	s.nc, s.sub = nc, sub
	if s.cfg.SystemConnect != nil {
		sys, err := s.cfg.SystemConnect(ctx)
		if err != nil {
			nc.Close()
			return fmt.Errorf("callout: connect to the system account: %w", err)
		}
		s.sys = sys
		if err := s.watchDisconnects(); err != nil {
			nc.Close()
			sys.Close()
			return err
		}
	} else {
		s.log.Warn("no system account connection: live connections of revoked identities are not ended before their JWT expires")
	}
	runCtx, cancel := context.WithCancel(context.Background())
	s.cancel, s.stop = cancel, make(chan struct{})
	for range s.cfg.Workers {
		s.workers.Add(1)
		go s.work(runCtx)
	}
	s.goLoop(runCtx, time.Minute, s.sweep)
	if s.cfg.Users != nil {
		s.goUserPoll(runCtx)
	}
	if s.cfg.WatchRules && s.cfg.RulesFile != "" {
		if err := s.watchRules(runCtx); err != nil {
			s.log.Warn("rules file not watched: reload with SIGHUP", "err", err)
		}
	}
	s.started = true
	rs := s.rules.Load()
	s.log.Info("callout service ready", "account", s.cfg.Account, "queue", s.cfg.QueueGroup,
		"rules", len(rs.Rules), "sources", rs.Sources(), "rules_file", rs.Path)
	return nil
}

// work answers requests until Close, then answers those already taken.
func (s *Service) work(ctx context.Context) {
	defer s.workers.Done()
	for {
		select {
		case m := <-s.msgs:
			s.handle(ctx, m)
		case <-s.stop:
			for {
				select {
				case m := <-s.msgs:
					s.handle(ctx, m)
				default:
					return
				}
			}
		}
	}
}

// goLoop runs f every d until ctx ends.
func (s *Service) goLoop(ctx context.Context, d time.Duration, f func(context.Context)) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				f(ctx)
			}
		}
	}()
}

// Close stops taking requests (the queue group's other members take
// them), answers the ones already taken, and stops.
func (s *Service) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	started := s.started
	s.mu.Unlock()
	if !started {
		s.audit.close()
		return nil
	}
	_ = s.sub.Unsubscribe()
	close(s.stop)
	s.workers.Wait()
	s.cancel()
	s.wg.Wait()
	s.audit.close()
	s.nc.Close()
	if s.sys != nil {
		s.sys.Close()
	}
	return nil
}

// Stats are counters of one instance, for tests and measurements.
type Stats struct {
	InFlight int64 // requests taken and not yet answered
	Handled  int64 // requests answered
	Live     int   // issued users believed connected
}

// Stats returns the instance's counters.
func (s *Service) Stats() Stats {
	return Stats{InFlight: s.inflight.Load(), Handled: s.handled.Load(), Live: s.live.len()}
}
