package node

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/natsauth/natsauth/metrics"
	"github.com/natsauth/natsauth/resolver"
)

// What the node observes of its server, and where it comes from:
//
//   - refused connects: $SYS.SERVER.<id>.CLIENT.AUTH.ERR, explained by
//     ClassifyAuthError;
//   - connections closed for authentication (expired while connected,
//     revoked, account connection limit, authentication timeout):
//     $SYS.ACCOUNT.*.DISCONNECT, by ClassifyDisconnect;
//   - permission violations after connect: nats-server sends no event for
//     them, only a log line ("Publish Violation", "Subscription
//     Violation"), which the node's nats-server logger recognizes. With
//     nats-server writing its own log (log_file, syslog) they are not
//     counted;
//   - connections and connection limits per account: read from the server
//     at each scrape.
//
// Each failure is counted in natsauth_auth_failures_total and logged at
// WARN with the user key, account, remote address and reason — never a JWT
// or a seed.

// observer holds what the node runs to see authentication.
type observer struct {
	m   *metrics.Metrics
	log *slog.Logger

	mu       sync.Mutex
	nc       *nats.Conn
	mux      *http.ServeMux // the monitoring mux /metrics is mounted on
	httpSrv  *http.Server   // the --metrics listener
	addr     string         // where /metrics is served ("" when nowhere)
	stopOnce sync.Once
}

// initObserve makes the node's metrics and hooks them into the resolver
// options, keeping an observer the caller set.
func (n *Node) initObserve(ropts *resolver.Options) {
	m := n.cfg.Metrics
	if m == nil {
		m = metrics.New(metrics.Options{})
	}
	n.obs = &observer{m: m, log: n.log}
	if ropts.Observer == nil {
		ropts.Observer = m
	} else {
		ropts.Observer = teeObserver{ropts.Observer, m}
	}
}

// Metrics returns the node's Prometheus metrics.
func (n *Node) Metrics() *metrics.Metrics { return n.obs.m }

// MetricsAddr returns host:port where /metrics is served, "" when nowhere
// (no monitoring port and no Config.MetricsAddr).
func (n *Node) MetricsAddr() string {
	n.obs.mu.Lock()
	defer n.obs.mu.Unlock()
	return n.obs.addr
}

// serverLogger wraps the nats-server logger the node installs, so that
// permission violations are seen.
func (n *Node) serverLogger(inner server.Logger) server.Logger {
	return violationTap{Logger: inner, obs: n.obs}
}

// startObserve subscribes to the server's authentication events and
// serves /metrics. It runs once the server accepts connections.
func (n *Node) startObserve(ctx context.Context) error {
	o := n.obs
	o.m.SetAccountSource(n.accountConnections)
	o.m.Registry().MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "natsauth_resolver_active",
		Help: "1 while nats-server resolves accounts through natsauth's resolver (also after a reload), else 0.",
	}, func() float64 {
		if r, ok := n.srv.AccountResolver().(*resolver.Resolver); ok && r == n.resolver {
			return 1
		}
		return 0
	}))
	if err := n.serveMetrics(); err != nil {
		return err
	}
	if n.cfg.SystemSigner == nil {
		n.log.Warn("no system account key: authentication events are not observed (no auth failure metrics or log lines)")
		return nil
	}
	nc, err := n.systemConn(ctx)
	if err != nil {
		return fmt.Errorf("observe authentication events: %w", err)
	}
	id := n.srv.ID()
	subs := []struct {
		subject string
		cb      nats.MsgHandler
	}{
		{fmt.Sprintf("$SYS.SERVER.%s.CLIENT.AUTH.ERR", id), func(m *nats.Msg) { n.onAuthError(m) }},
		{"$SYS.ACCOUNT.*.DISCONNECT", func(m *nats.Msg) { n.onDisconnect(m, id) }},
	}
	for _, s := range subs {
		if _, err := nc.Subscribe(s.subject, s.cb); err != nil {
			nc.Close()
			return fmt.Errorf("observe %s: %w", s.subject, err)
		}
	}
	if err := nc.Flush(); err != nil {
		nc.Close()
		return fmt.Errorf("observe authentication events: %w", err)
	}
	o.mu.Lock()
	o.nc = nc
	o.mu.Unlock()
	return nil
}

// serveMetrics mounts /metrics on the monitoring port, or listens on
// Config.MetricsAddr.
func (n *Node) serveMetrics() error {
	o := n.obs
	o.mu.Lock()
	defer o.mu.Unlock()
	if n.cfg.MetricsAddr != "" {
		if o.httpSrv != nil {
			return nil
		}
		ln, err := net.Listen("tcp", n.cfg.MetricsAddr)
		if err != nil {
			return fmt.Errorf("metrics listener: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", o.m.Handler())
		o.httpSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		o.addr = ln.Addr().String()
		go func(srv *http.Server) {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				o.log.Error("metrics listener stopped", "err", err)
			}
		}(o.httpSrv)
		n.log.Info("serving Prometheus metrics", "url", "http://"+o.addr+"/metrics")
		return nil
	}
	mux, ok := n.srv.HTTPHandler().(*http.ServeMux)
	if !ok || mux == nil {
		o.addr = ""
		n.log.Info("no Prometheus /metrics: no monitoring port (-m) and no --metrics address")
		return nil
	}
	if mux == o.mux {
		return nil // already mounted (a reload kept the monitoring server)
	}
	// nats-server's monitoring mux takes routes after it started serving.
	mux.Handle(path.Join("/", n.opts.HTTPBasePath, "metrics"), o.m.Handler())
	o.mux = mux
	if mon := n.srv.MonitorAddr(); mon != nil {
		o.addr = mon.String()
	}
	n.log.Info("serving Prometheus metrics on the monitoring port", "url", "http://"+o.addr+path.Join("/", n.opts.HTTPBasePath, "metrics"))
	return nil
}

// reobserve runs after a reload: /metrics stays where it is (nats-server
// refuses to move the monitoring port on reload), unless the server's
// monitoring handler changed, which mounts it on the new one.
func (n *Node) reobserve() {
	if err := n.serveMetrics(); err != nil {
		n.log.Error("metrics after reload", "err", err)
	}
}

// stopObserve closes the event connection and the metrics listener.
func (n *Node) stopObserve() {
	o := n.obs
	if o == nil {
		return
	}
	o.stopOnce.Do(func() {
		o.mu.Lock()
		nc, srv := o.nc, o.httpSrv
		o.nc, o.httpSrv = nil, nil
		o.mu.Unlock()
		if nc != nil {
			nc.Close()
		}
		if srv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_ = srv.Shutdown(ctx)
		}
	})
}

// lookupAccount reads an account's claims through the resolver's cache.
func (n *Node) lookupAccount(_ context.Context, account string) (*jwt.AccountClaims, error) {
	tok, err := n.resolver.Fetch(account)
	if err != nil {
		return nil, err
	}
	return jwt.DecodeAccountClaims(tok)
}

func (n *Node) onAuthError(m *nats.Msg) {
	var ev server.DisconnectEventMsg
	if err := json.Unmarshal(m.Data, &ev); err != nil {
		n.log.Warn("unreadable authentication error event", "err", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	f := ClassifyAuthError(ctx, &ev, n.lookupAccount, time.Now())
	n.report("authentication failed", f)
}

func (n *Node) onDisconnect(m *nats.Msg, serverID string) {
	// Every server of a cluster sees every disconnect: skip the others'
	// without decoding them (a server ID is plain base32, never escaped).
	if !bytes.Contains(m.Data, []byte(`"id":"`+serverID+`"`)) {
		return
	}
	var ev server.DisconnectEventMsg
	if err := json.Unmarshal(m.Data, &ev); err != nil {
		n.log.Warn("unreadable disconnect event", "err", err)
		return
	}
	if ev.Server.ID != serverID {
		return // another server of the cluster counts its own
	}
	if f, ok := ClassifyDisconnect(&ev); ok {
		n.report("connection closed for authentication", f)
	}
}

// report counts and logs one failure.
func (n *Node) report(msg string, f AuthFailure) {
	n.obs.m.AuthFailure(f.Reason, f.AccountLabel())
	attrs := []any{"reason", f.Reason, "user", f.User, "account", f.Account, "remote", f.Remote}
	if f.Name != "" {
		attrs = append(attrs, "client_name", f.Name)
	}
	attrs = append(attrs, "detail", f.Detail)
	if f.ServerReason != "" {
		attrs = append(attrs, "server_reason", f.ServerReason)
	}
	n.log.Warn(msg, attrs...)
}

// accountConnections reports every loaded account's connections and limit.
func (n *Node) accountConnections() []metrics.AccountConnections {
	s := n.srv
	if s == nil {
		return nil
	}
	az, err := s.Accountz(&server.AccountzOptions{})
	if err != nil {
		return nil
	}
	out := make([]metrics.AccountConnections, 0, len(az.Accounts))
	for _, name := range az.Accounts {
		if !nkeys.IsValidPublicAccountKey(name) {
			continue // $G and other built-ins
		}
		acc, err := s.LookupAccount(name)
		if err != nil {
			continue
		}
		out = append(out, metrics.AccountConnections{
			Account: name, Connections: acc.NumConnections(), Limit: acc.MaxActiveConnections(),
		})
	}
	return out
}

// violationRE matches nats-server's permission-violation log format:
// `<host:port> - cid:<n> - "<client>" - "<account>[/<tag>]/jwt:<user>" -
// Publish Violation - ...`.
var violationRE = regexp.MustCompile(`^(\S+) - [a-z_]+:\d+ - .*"(A[A-Z2-7]{55})(?:/(?:\\.|[^"\\])*?)?/jwt:(U[A-Z2-7]{55})" - (Publish|Subscription) Violation - `)

// subjectRE finds the subject a Subscription Violation line names.
var subjectRE = regexp.MustCompile(` Violation - Subject "((?:\\.|[^"\\])*)"`)

// violationTap passes every line on and counts permission violations.
type violationTap struct {
	server.Logger
	obs *observer
}

func (t violationTap) Errorf(format string, v ...any) {
	t.Logger.Errorf(format, v...)
	if !strings.Contains(format, " Violation - ") {
		return
	}
	mt := violationRE.FindStringSubmatch(format)
	if mt == nil {
		return
	}
	remote, account, user, kind := mt[1], mt[2], mt[3], strings.ToLower(mt[4])
	t.obs.m.AuthFailure(metrics.ReasonPermission, account)
	attrs := []any{"reason", metrics.ReasonPermission, "user", user, "account", account, "remote", remote, "operation", kind}
	if len(v) > 0 {
		attrs = append(attrs, "subject", fmt.Sprintf("%s", v[0]))
	} else if sm := subjectRE.FindStringSubmatch(format); sm != nil {
		attrs = append(attrs, "subject", sm[1])
	}
	t.obs.log.Warn("permission violation", attrs...)
}

// teeObserver sends resolver measurements to two observers.
type teeObserver struct{ a, b resolver.Observer }

func (t teeObserver) FetchDone(account string, d time.Duration, outcome string) {
	t.a.FetchDone(account, d, outcome)
	t.b.FetchDone(account, d, outcome)
}

func (t teeObserver) StoreError(op string, err error) {
	t.a.StoreError(op, err)
	t.b.StoreError(op, err)
}

func (t teeObserver) Applied(account string, lag time.Duration) {
	t.a.Applied(account, lag)
	t.b.Applied(account, lag)
}
