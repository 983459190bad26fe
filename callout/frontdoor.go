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
