// Package node runs the real nats-server, embedded, in operator mode: the
// trusted operator and system account come from the natsauth authority,
// account JWTs come through a natsauth resolver over a store, and every
// change to that store is applied live.
package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/natsauth/natsauth/audit"
	"github.com/natsauth/natsauth/internal/sighup"
	"github.com/natsauth/natsauth/metrics"
	"github.com/natsauth/natsauth/resolver"
	"github.com/natsauth/natsauth/serving"
	"github.com/natsauth/natsauth/store"
	"github.com/natsauth/natsauth/trust"
)

// Config describes one node.
type Config struct {
	// ConfigFile is a standard nats-server.conf (optional). natsauth
	// supplies operator, resolver and system account unless it sets them.
	ConfigFile string
	// Flags are nats-server command-line options, merged over the file.
	Flags ServerFlags

	// Operator is the trusted operator (its JWT), used unless the config
	// file names operators itself.
	OperatorJWT string
	// SystemAccountName is the name of the system account in the home
	// ("SYS"); a config file's `system_account: SYS` is mapped to its key.
	SystemAccountName string
	// SystemSigner signs users of the system account: its identity key, or
	// a signing key of it (needed when the operator requires signing keys).
	// With it the node mints an ephemeral in-process system user for the
	// claims responder.
	SystemSigner nkeys.KeyPair

	// Home is the natsauth home the node serves (see FromHome). The node
	// registers itself there and applies every change made to the home's
	// account JWT files. Empty for a node without a home.
	Home string
	// StoreURL picks the account-JWT store explicitly (--store). When empty
	// the config file's resolver maps to a store, else the home's default
	// store (serving.PickStore).
	StoreURL string
	// Seed are account JWTs (pub → jwt) put into the store at start,
	// newer-only, so the system account and the home's accounts resolve.
	Seed map[string]string
	// DefaultJetStreamDir is used when JetStream is on and no store_dir is set.
	DefaultJetStreamDir string
	// LocalCopyDir keeps a last-known-good local copy of every account of
	// the store (one file per store, see LocalCopyPath), so that accounts
	// never loaded on this node still connect while the store is down, and
	// the node starts during an outage. Empty: no local copy. A home's is
	// DefaultLocalCopyDir(home).
	LocalCopyDir string
	// AllowDelete lets operator-signed $SYS.REQ.CLAIMS.DELETE remove accounts.
	AllowDelete bool
	// DefaultSentinel is the bearer user JWT nats-server gives clients that
	// present no creds (a token, a user and password, a certificate alone),
	// so that an auth callout decides about them; kept across reloads.
	DefaultSentinel string
	// Resolver tunes the cache (TTL etc.); Store, Logger and SystemConn are
	// filled in by the node.
	Resolver resolver.Options

	// MetricsAddr serves Prometheus /metrics on its own listener
	// (host:port); empty serves it on the monitoring port, if any.
	MetricsAddr string
	// Metrics receives the node's measurements; nil makes a new one.
	Metrics *metrics.Metrics

	Logger *slog.Logger
}

// Node is one running embedded nats-server with a natsauth resolver.
type Node struct {
	cfg       Config
	log       *slog.Logger
	store     store.Store
	storeURL  string
	storeFrom serving.Source
	home      *homeWatch
	local     *resolver.LocalCopy
	resolver  *resolver.Resolver
	policy    *trust.Policy
	srv       *server.Server
	opts      *server.Options
	shim      *reloadShim
	obs       *observer

	mu     sync.Mutex
	closed bool
}

// New prepares a node: it loads and checks the configuration and opens the
// store, but starts nothing.
func New(ctx context.Context, cfg Config) (*Node, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	n := &Node{cfg: cfg, log: cfg.Logger}
	opts, fsx, err := n.buildOptions()
	if err != nil {
		return nil, err
	}
	if cfg.StoreURL != "" && fsx.Resolver != "" {
		n.log.Warn("config file resolver ignored: --store given", "file_resolver", fsx.ResolverKind, "store", store.Redact(cfg.StoreURL))
	}
	if cfg.StoreURL == "" && fsx.Resolver == "" && cfg.Home == "" {
		return nil, errors.New("node: no account-JWT store: give a store URL, a resolver in the config file or a home")
	}
	n.storeURL, n.storeFrom = serving.PickStore(cfg.StoreURL, fsx.Resolver, cfg.Home)
	if n.storeFrom == serving.FromConfig {
		n.log.Info("config file resolver mapped to a natsauth store", "resolver", fsx.ResolverKind, "store", store.Redact(n.storeURL))
	}
	n.policy = trust.FromOperators(opts.TrustedOperators...)
	n.local = n.openLocalCopy()
	st, err := n.openStore(ctx, n.local)
	if err != nil {
		if st != nil {
			st.Close()
		}
		if n.local != nil {
			n.local.Close()
		}
		return nil, err
	}
	n.store = st
	ropts := cfg.Resolver
	ropts.Local = n.local
	ropts.Logger = n.log
	ropts.Policy = n.policy
	ropts.AllowDelete = cfg.AllowDelete || fsx.AllowDelete
	n.initObserve(&ropts)
	if cfg.SystemSigner != nil {
		ropts.SystemConn = n.systemConn
	} else {
		n.log.Warn("no system account key: $SYS claims requests (nsc push over NATS) will not be answered")
	}
	n.resolver = resolver.New(st, ropts)
	opts.AccountResolver = n.resolver
	n.opts = opts
	return n, nil
}

// buildOptions merges flags over the config file the way nats-server does,
// then supplies what natsauth owns: operator, system account, resolver.
func (n *Node) buildOptions() (*server.Options, fileSettings, error) {
	fsx, err := inspectConfig(n.cfg.ConfigFile)
	if err != nil {
		return nil, fsx, err
	}
	opts, err := configureOptions(n.cfg.Flags, n.cfg.ConfigFile)
	if err != nil {
		return nil, fsx, err
	}
	// The file's own resolver (a DirAccResolver, say) is replaced by ours;
	// release what parsing it opened.
	if opts.AccountResolver != nil {
		opts.AccountResolver.Close()
		opts.AccountResolver = nil
	}
	if !fsx.HasOperator {
		if n.cfg.OperatorJWT == "" {
			return nil, fsx, errors.New("no operator: the config file names none and no home operator is given")
		}
		oc, err := jwt.DecodeOperatorClaims(strings.TrimSpace(n.cfg.OperatorJWT))
		if err != nil {
			return nil, fsx, fmt.Errorf("decode operator jwt: %w", err)
		}
		opts.TrustedOperators = []*jwt.OperatorClaims{oc}
	}
	if len(opts.TrustedOperators) == 0 {
		return nil, fsx, errors.New("no trusted operator")
	}
	opts.TrustedKeys = nil
	switch {
	case fsx.HasSystemAccount && !nkeys.IsValidPublicAccountKey(opts.SystemAccount):
		// `system_account: SYS` names the account; operator mode needs its key.
		if opts.SystemAccount != n.cfg.SystemAccountName && opts.SystemAccount != "" {
			return nil, fsx, fmt.Errorf("system_account %q is neither an account public key nor the home's system account %q",
				opts.SystemAccount, n.cfg.SystemAccountName)
		}
		opts.SystemAccount = opts.TrustedOperators[0].SystemAccount
	case opts.SystemAccount == "":
		opts.SystemAccount = opts.TrustedOperators[0].SystemAccount
	}
	if opts.SystemAccount == "" {
		return nil, fsx, errors.New("no system account: the operator JWT names none and the config file sets none")
	}
	if opts.JetStream && opts.StoreDir == "" && n.cfg.DefaultJetStreamDir != "" {
		opts.StoreDir = n.cfg.DefaultJetStreamDir
	}
	if opts.StoreDir != "" {
		if err := os.MkdirAll(opts.StoreDir, 0o700); err != nil {
			return nil, fsx, fmt.Errorf("jetstream store dir: %w", err)
		}
	}
	if n.cfg.DefaultSentinel != "" {
		opts.DefaultSentinel = n.cfg.DefaultSentinel
	}
	opts.NoSigs = true // natsauth handles signals (SIGHUP reload keeps our resolver)
	return opts, fsx, nil
}

// seed puts the configured account JWTs into st, newer-only.
func (n *Node) seed(ctx context.Context, st store.Store) error {
	ctx = audit.WithActor(ctx, audit.Actor{Via: audit.ViaServe})
	var created, updated int
	for pub, tok := range n.cfg.Seed {
		ch, err := st.Put(ctx, pub, tok)
		switch {
		case errors.Is(err, store.ErrReadOnly):
			n.log.Info("store is read-only: home accounts not published to it", "store", store.Redact(n.storeURL))
			return nil
		case errors.Is(err, store.ErrStale):
			continue // the store already has a newer JWT
		case err != nil:
			return fmt.Errorf("publish home account %s to %s: %w", pub, store.Redact(n.storeURL), err)
		case ch == store.Created:
			created++
		case ch == store.Updated:
			updated++
		}
	}
	if created+updated > 0 {
		n.log.Info("published home accounts to the store", "created", created, "updated", updated)
	}
	return nil
}

// Start starts nats-server and waits until it accepts connections.
func (n *Node) Start(ctx context.Context) error {
	shim, err := newReloadShim(n.resolver.Fetch)
	if err != nil {
		return fmt.Errorf("reload stand-in resolver: %w", err)
	}
	n.shim = shim
	s, err := server.NewServer(n.opts)
	if err != nil {
		return fmt.Errorf("nats-server: %w", err)
	}
	n.srv = s
	// NewServer installed our resolver; from now on the options it keeps
	// hold the stand-in that reloads accept (see reloadShim).
	n.opts.AccountResolver = shim.resolver
	if n.opts.LogFile != "" || n.opts.Syslog || n.opts.RemoteSyslog != "" {
		s.ConfigureLogger() // the config file asked for nats-server's own log output
	} else {
		s.SetLoggerV2(n.serverLogger(slogAdapter{n.log}), n.opts.Debug, n.opts.Trace, false)
	}
	s.Start()
	wait := 10 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		wait = time.Until(dl)
	}
	if !s.ReadyForConnections(wait) {
		s.Shutdown()
		return fmt.Errorf("nats-server did not become ready within %s (see its log lines above)", wait)
	}
	if err := n.startObserve(ctx); err != nil {
		s.Shutdown()
		return err
	}
	if err := n.startHome(ctx); err != nil {
		n.stopObserve()
		s.Shutdown()
		return err
	}
	if n.cfg.SystemSigner != nil {
		// Ready means ready for nsc push and pull too: wait (briefly) for
		// the claims responder's subscriptions.
		select {
		case <-n.resolver.Ready():
		case <-time.After(wait):
			n.log.Warn("the $SYS claims responder is not subscribed yet; push and pull may go unanswered for a moment")
		case <-ctx.Done():
		}
	}
	n.log.Info("natsauth node ready", "client_url", s.ClientURL(), "store", store.Redact(n.storeURL),
		"jetstream", s.JetStreamEnabled(), "system_account", n.opts.SystemAccount)
	return nil
}

// RunUntil runs until ctx ends (SIGINT or SIGTERM in natsauth serve):
// every SIGHUP reloads the server's configuration (Reload, a failure
// logged) and then calls also — reloads of what runs beside the node.
func (n *Node) RunUntil(ctx context.Context, also ...func()) {
	sighup.Until(ctx, func() {
		if err := n.Reload(); err != nil {
			n.log.Info("reload failed", "err", err)
		}
		for _, f := range also {
			f()
		}
	})
	n.log.Info("shutting down")
}

// Reload re-reads the config file and flags and applies what nats-server
// can change live, keeping natsauth's resolver (nats-server's own Reload
// would swap it for the file's one).
func (n *Node) Reload() error {
	opts, _, err := n.buildOptions()
	if err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	opts.AccountResolver = n.shim.resolver
	optsMu.Lock()
	err = n.srv.ReloadOptions(opts)
	optsMu.Unlock()
	n.srv.SetAccountResolver(n.resolver)
	if err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	n.reobserve()
	n.log.Info("configuration reloaded")
	return nil
}

// systemConn connects to this node's server as an ephemeral user of the
// system account, in process. The user's seed never leaves memory.
func (n *Node) systemConn(ctx context.Context) (*nats.Conn, error) {
	ukp, err := nkeys.CreateUser()
	if err != nil {
		return nil, err
	}
	upub, _ := ukp.PublicKey()
	uc := jwt.NewUserClaims(upub)
	uc.Name = "natsauth-internal"
	uc.IssuerAccount = ""
	if sp, err := n.cfg.SystemSigner.PublicKey(); err == nil && sp != n.opts.SystemAccount {
		uc.IssuerAccount = n.opts.SystemAccount // signed by a signing key of the system account
	}
	uc.Expires = time.Now().Add(24 * 365 * time.Hour).Unix()
	tok, err := uc.Encode(n.cfg.SystemSigner)
	if err != nil {
		return nil, fmt.Errorf("mint internal system user: %w", err)
	}
	seed, _ := ukp.Seed()
	return nats.Connect("", nats.InProcessServer(n.srv), nats.UserJWTAndSeed(tok, string(seed)),
		nats.Name("natsauth-resolver"), nats.MaxReconnects(-1))
}

// Server returns the embedded nats-server (nil before Start).
func (n *Node) Server() *server.Server { return n.srv }

// Store returns the node's account-JWT store.
func (n *Node) Store() store.Store { return n.store }

// StoreURL returns the store URL in use (with any password).
func (n *Node) StoreURL() string { return n.storeURL }

// Resolver returns the node's resolver.
func (n *Node) Resolver() *resolver.Resolver { return n.resolver }

// Options returns the nats-server options the node started with.
func (n *Node) Options() *server.Options { return n.opts }

// ClientURL is the URL clients connect to.
func (n *Node) ClientURL() string { return n.srv.ClientURL() }

// Close shuts the server down and releases the resolver and store.
func (n *Node) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	n.mu.Unlock()
	n.stopHome()
	n.stopObserve()
	if n.srv != nil {
		n.srv.Shutdown()
		n.srv.WaitForShutdown()
	}
	if n.resolver != nil {
		n.resolver.Close()
	}
	if n.shim != nil {
		n.shim.Close()
	}
	if n.local != nil {
		n.local.Close()
	}
	if n.store != nil {
		return n.store.Close()
	}
	return nil
}

// DefaultJetStreamDir is where JetStream data lives in a home.
func DefaultJetStreamDir(home string) string { return filepath.Join(home, "jetstream") }
