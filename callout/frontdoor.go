package callout

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/callout/userdb"
	"github.com/natsauth/natsauth/manage"
	"github.com/natsauth/natsauth/node"
	"github.com/natsauth/natsauth/store"
)

// OpenManagedUsers opens the password users at url or, when url is empty,
// the ones kept with m's primary store (nil and no error when that store
// keeps none); their changes are recorded in m's audit log. The caller
// closes the DB (when not nil) before m.
func OpenManagedUsers(ctx context.Context, m *manage.Manager, url string) (*userdb.DB, error) {
	log, err := m.AuditLog(ctx)
	if err != nil {
		return nil, err
	}
	return OpenUsers(ctx, cmp.Or(url, m.StoreURL()), url != "", log)
}

// ServeMetrics serves the metrics gathered by g in the Prometheus text
// format on addr, in the background, until the returned function is
// called. A listener that fails (the address in use, ...) is reported to
// onErr.
func ServeMetrics(addr string, g prometheus.Gatherer, onErr func(error)) (stop func()) {
	srv := &http.Server{Addr: addr, Handler: promhttp.HandlerFor(g, promhttp.HandlerOpts{}), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			onErr(err)
		}
	}()
	return func() { srv.Close() }
}

// Standalone is a gateway in a process of its own beside the servers
// (`natsauth callout`), over a managed home.
type Standalone struct {
	// Account is the callout account; empty: the home's only account with
	// an auth callout (FindAccount).
	Account   string
	RulesFile string
	// UsersURL is the password users' store; empty: the one kept with the
	// manager's primary store (OpenManagedUsers).
	UsersURL   string
	Remote     Remote
	QueueGroup string
	Workers    int
	// MetricsAddr, when set, serves the gateway's metrics there
	// (ServeMetrics); a listener that fails is reported to OnMetricsError.
	MetricsAddr    string
	OnMetricsError func(error)
	Logger         *slog.Logger
}

// Start starts the gateway over m's home, with the password users' and
// issued users' changes in m's audit log. It answers for account until
// stop is called, which closes the gateway, the metrics listener and the
// users.
func (s Standalone) Start(ctx context.Context, m *manage.Manager) (svc *Service, account string, stop func(), err error) {
	h := m.Home()
	if account, err = FindAccount(h, s.Account); err != nil {
		return nil, "", nil, err
	}
	users, err := OpenManagedUsers(ctx, m, s.UsersURL)
	if err != nil {
		return nil, "", nil, err
	}
	closeUsers := func() {
		if users != nil {
			users.Close()
		}
	}
	fail := func(err error) (*Service, string, func(), error) {
		closeUsers()
		return nil, "", nil, err
	}
	log, err := m.AuditLog(ctx)
	if err != nil {
		return fail(err)
	}
	connect, system, err := s.Remote.Connects(h, account)
	if err != nil {
		return fail(err)
	}
	reg := prometheus.NewRegistry()
	svc, err = New(Config{Home: h, Account: account, RulesFile: s.RulesFile, WatchRules: true, Users: users,
		QueueGroup: s.QueueGroup, Workers: s.Workers, Audit: log, Logger: s.Logger, Registerer: reg,
		Connect: connect, SystemConnect: system})
	if err != nil {
		return fail(err)
	}
	if err := svc.Start(ctx); err != nil {
		svc.Close()
		return fail(err)
	}
	stopMetrics := func() {}
	if s.MetricsAddr != "" {
		stopMetrics = ServeMetrics(s.MetricsAddr, reg, s.OnMetricsError)
	}
	return svc, account, func() { stopMetrics(); svc.Close(); closeUsers() }, nil
}

// StartInNode starts the gateway for account inside node n, which must have
// been configured with the account's default sentinel (Sentinel) and
// started: what `natsauth serve --callout` runs. The password users are
// those at usersURL, or — when it is empty — the ones kept with the node's
// store (none when it keeps none); their changes, like every issued user,
// are recorded in the audit log of the node's store. The metrics go to
// the node's registry. stop closes the gateway and the users.
func StartInNode(ctx context.Context, n *node.Node, h *authority.Home, account, rulesFile, usersURL string,
	log *slog.Logger) (svc *Service, stop func(), err error) {
	auditLog := store.AuditLog(n.Store())
	users, err := OpenUsers(ctx, cmp.Or(usersURL, n.StoreURL()), usersURL != "", auditLog)
	if err != nil {
		return nil, nil, fmt.Errorf("password users: %w", err)
	}
	closeUsers := func() {
		if users != nil {
			users.Close()
		}
	}
	svc, err = StartEmbedded(ctx, n, h, Embedded{Account: account, RulesFile: rulesFile, Users: users,
		Audit: auditLog, Logger: log, Registry: n.Metrics().Registry()})
	if err != nil {
		closeUsers()
		return nil, nil, err
	}
	return svc, func() { svc.Close(); closeUsers() }, nil
}

// InNode is the gateway `natsauth serve --callout` runs inside its node:
// the callout account, its rules file and the password users' store URL
// (--callout, --callout-rules, --callout-users). The zero InNode runs none.
type InNode struct{ Account, Rules, Users string }

// Configure checks c and gives the node configuration the callout
// account's default sentinel (read from the home in cfg.Home), so that
// clients without creds go through the gateway, across reloads too.
func (c InNode) Configure(cfg *node.Config) error {
	if c.Account == "" {
		if c.Rules != "" || c.Users != "" {
			return errors.New("serve: --callout-rules and --callout-users go with --callout ACCOUNT")
		}
		return nil
	}
	if c.Rules == "" {
		return errors.New("serve: --callout needs --callout-rules FILE")
	}
	h, err := authority.Open(cfg.Home)
	if err != nil {
		return err
	}
	if cfg.DefaultSentinel, err = Sentinel(h, c.Account); err != nil {
		return fmt.Errorf("serve --callout: %w", err)
	}
	return nil
}

// Start runs the gateway in the started node n (StartInNode) and returns
// what a SIGHUP does for it — reload the rules, logging a refused file —
// and how to stop it. Without an account both do nothing.
func (c InNode) Start(ctx context.Context, n *node.Node, home string, log *slog.Logger) (reload, stop func(), err error) {
	if c.Account == "" {
		return func() {}, func() {}, nil
	}
	h, err := authority.Open(home)
	if err != nil {
		return nil, nil, err
	}
	svc, stop, err := StartInNode(ctx, n, h, c.Account, c.Rules, c.Users, log.With("component", "callout"))
	if err != nil {
		return nil, nil, fmt.Errorf("serve --callout: %w", err)
	}
	reload = func() {
		if _, err := svc.Reload(); err != nil {
			log.Error("callout: reload rules", "err", err)
		}
	}
	return reload, stop, nil
}
