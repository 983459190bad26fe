// Package metrics is natsauth's Prometheus instrumentation: authentication
// failures by reason and account, connections per account and each
// account's connection limit, resolver fetch latency and cache outcomes,
// store errors and propagation lag. It keeps its own registry (never the
// global one) and serves it with Handler.
//
// Labels stay at account level: an account public key at most, never a
// user key or a subject. The number of account label values is capped
// (Options.MaxAccounts, default 1,000); accounts beyond the cap are counted
// under "other", so a flood of made-up accounts cannot grow the series
// without bound. Reason, outcome and operation labels take values from
// small fixed sets.
//
// A Metrics is a resolver.Observer: pass it as resolver.Options.Observer.
package metrics

import (
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Reasons of an authentication failure (the "reason" label).
const (
	ReasonExpired         = "expired"          // the user (or its account) JWT has expired
	ReasonRevoked         = "revoked"          // the account revokes the user
	ReasonBadSignature    = "bad_signature"    // wrong seed, tampered JWT or a signer the account does not trust
	ReasonUnknownAccount  = "unknown_account"  // the user's account is not in the store
	ReasonPermission      = "permission"       // publish or subscribe refused after connect
	ReasonNoCredentials   = "no_credentials"   // no user JWT presented
	ReasonConnectionLimit = "connection_limit" // the account's connection limit was reached
	ReasonTimeout         = "timeout"          // no CONNECT within the authentication timeout
	ReasonOther           = "other"            // anything else (connection types, source network, times)
)

// Reasons lists every reason label value.
var Reasons = []string{ReasonExpired, ReasonRevoked, ReasonBadSignature, ReasonUnknownAccount,
	ReasonPermission, ReasonNoCredentials, ReasonConnectionLimit, ReasonTimeout, ReasonOther}

// Account label values that are not account keys.
const (
	AccountOther   = "other"   // beyond MaxAccounts
	AccountUnknown = "unknown" // an account that is not in the store
	AccountNone    = "none"    // no account could be told
)

// DefaultMaxAccounts is the default cap on account label values.
const DefaultMaxAccounts = 1000

// Options configure a Metrics.
type Options struct {
	// MaxAccounts caps the number of distinct account label values
	// (default DefaultMaxAccounts).
	MaxAccounts int
	// NoRuntime leaves out the Go runtime and process collectors.
	NoRuntime bool
}

// AccountConnections is one account's connection count and limit, as the
// running server reports them.
type AccountConnections struct {
	Account     string // account public key
	Connections int
	Limit       int // -1 for unlimited
}

// Metrics holds natsauth's collectors in their own registry.
type Metrics struct {
	reg      *prometheus.Registry
	accounts *labelSet

	authFailures *prometheus.CounterVec
	fetches      *prometheus.CounterVec
	fetchSeconds *prometheus.HistogramVec
	// byOutcome holds each outcome's counter and histogram, resolved once:
	// FetchDone then costs no label hashing.
	byOutcome   map[string]fetchInstruments
	storeErrors *prometheus.CounterVec
	applied     prometheus.Counter
	lag         prometheus.Histogram

	mu     sync.Mutex
	source func() []AccountConnections
}

// New builds the collectors and registers them in a new registry.
func New(opts Options) *Metrics {
	if opts.MaxAccounts <= 0 {
		opts.MaxAccounts = DefaultMaxAccounts
	}
	m := &Metrics{
		reg:      prometheus.NewRegistry(),
		accounts: newLabelSet(opts.MaxAccounts),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "natsauth_auth_failures_total",
			Help: "Connections refused or ended for authentication or authorization, by reason and account.",
		}, []string{"reason", "account"}),
		fetches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "natsauth_resolver_fetches_total",
			Help: "Account JWT fetches by nats-server through the resolver, by outcome (hit, miss, stale, negative, error).",
		}, []string{"outcome"}),
		fetchSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "natsauth_resolver_fetch_seconds",
			Help:    "Latency of account JWT fetches that went past the resolver's cache (miss, stale, error), by outcome.",
			Buckets: []float64{.00001, .00005, .0001, .0005, .001, .005, .01, .05, .1, .5, 1, 2, 5},
		}, []string{"outcome"}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "natsauth_store_errors_total",
			Help: "Failed account-JWT store operations seen by the resolver, by operation.",
		}, []string{"op"}),
		applied: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "natsauth_resolver_applied_total",
			Help: "Account JWT changes applied to the running server.",
		}),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "natsauth_propagation_lag_seconds",
			Help:    "Time from the store accepting an account JWT to the running server applying it.",
			Buckets: []float64{.001, .005, .01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}),
	}
	m.byOutcome = map[string]fetchInstruments{}
	for _, r := range []string{OutcomeHit, OutcomeMiss, OutcomeStale, OutcomeLocal, OutcomeNegative, OutcomeError, "other"} {
		m.byOutcome[r] = fetchInstruments{m.fetches.WithLabelValues(r), m.fetchSeconds.WithLabelValues(r)}
	}
	m.reg.MustRegister(m.authFailures, m.fetches, m.fetchSeconds, m.storeErrors, m.applied, m.lag,
		connCollector{m})
	if !opts.NoRuntime {
		m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	return m
}

// Registry returns the registry, to add collectors or gather in tests.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// AuthFailure counts one authentication failure. reason is one of the
// Reason constants (anything else counts as ReasonOther); account is an
// account public key or one of the Account constants.
func (m *Metrics) AuthFailure(reason, account string) {
	m.authFailures.WithLabelValues(knownReason(reason), m.accounts.label(account)).Inc()
}

// SetAccountSource sets the function that reports the connections and
// connection limit of every loaded account, called at each scrape.
func (m *Metrics) SetAccountSource(f func() []AccountConnections) {
	m.mu.Lock()
	m.source = f
	m.mu.Unlock()
}

// Resolver fetch outcomes (the "outcome" label); the same strings as the
// resolver package's Outcome constants.
const (
	OutcomeHit      = "hit"
	OutcomeMiss     = "miss"
	OutcomeStale    = "stale"
	OutcomeLocal    = "local" // served from the node's local copy of the store
	OutcomeNegative = "negative"
	OutcomeError    = "error"
)

// FetchDone implements resolver.Observer.
func (m *Metrics) FetchDone(_ string, d time.Duration, outcome string) {
	in, ok := m.byOutcome[outcome]
	if !ok {
		in = m.byOutcome["other"]
	}
	in.count.Inc()
	if outcome != OutcomeHit && outcome != OutcomeNegative {
		in.seconds.Observe(d.Seconds()) // answers from memory are not timed
	}
}

// fetchInstruments are the metrics of one fetch outcome.
type fetchInstruments struct {
	count   prometheus.Counter
	seconds prometheus.Observer
}

// StoreError implements resolver.Observer.
func (m *Metrics) StoreError(op string, _ error) {
	switch op {
	case "get", "put", "delete", "list", "watch":
	default:
		op = "other"
	}
	m.storeErrors.WithLabelValues(op).Inc()
}

// Applied implements resolver.Observer.
func (m *Metrics) Applied(_ string, lag time.Duration) {
	m.applied.Inc()
	if lag > 0 {
		m.lag.Observe(lag.Seconds())
	}
}

func knownReason(r string) string {
	for _, k := range Reasons {
		if r == k {
			return r
		}
	}
	return ReasonOther
}

// labelSet hands out at most max distinct account label values.
type labelSet struct {
	mu   sync.Mutex
	max  int
	seen map[string]struct{}
}

func newLabelSet(max int) *labelSet {
	return &labelSet{max: max, seen: map[string]struct{}{}}
}

// label returns account itself while fewer than max values were handed
// out (or account already has one), else AccountOther.
func (l *labelSet) label(account string) string {
	if account == "" {
		return AccountNone
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.seen[account]; ok {
		return account
	}
	if len(l.seen) >= l.max {
		return AccountOther
	}
	l.seen[account] = struct{}{}
	return account
}

var (
	connsDesc = prometheus.NewDesc("natsauth_account_connections",
		"Client connections of each loaded account on this server.", []string{"account"}, nil)
	limitDesc = prometheus.NewDesc("natsauth_account_connection_limit",
		"Connection limit of each loaded account (-1: unlimited).", []string{"account"}, nil)
)

// connCollector reports AccountConnections at scrape time.
type connCollector struct{ m *Metrics }

func (c connCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- connsDesc
	ch <- limitDesc
}

func (c connCollector) Collect(ch chan<- prometheus.Metric) {
	c.m.mu.Lock()
	src := c.m.source
	c.m.mu.Unlock()
	if src == nil {
		return
	}
	other, folded := 0, false
	for _, a := range src() {
		lbl := c.m.accounts.label(a.Account)
		if lbl == AccountOther {
			other += a.Connections
			folded = true
			continue
		}
		ch <- prometheus.MustNewConstMetric(connsDesc, prometheus.GaugeValue, float64(a.Connections), lbl)
		ch <- prometheus.MustNewConstMetric(limitDesc, prometheus.GaugeValue, float64(a.Limit), lbl)
	}
	if folded {
		ch <- prometheus.MustNewConstMetric(connsDesc, prometheus.GaugeValue, float64(other), AccountOther)
	}
}
