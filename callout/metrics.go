package callout

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Results of a decision (the "result" label).
const (
	ResultAllowed = "allowed"
	ResultRefused = "refused"
)

// maxAccountLabels caps the account label values; more are "other".
const maxAccountLabels = 1000

// instruments are the gateway's Prometheus collectors.
type instruments struct {
	decisions *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	sessions  prometheus.GaugeFunc
	revoked   prometheus.Counter

	mu       sync.Mutex
	accounts map[string]bool
}

func newInstruments(reg prometheus.Registerer, sessions func() float64) (*instruments, error) {
	in := &instruments{
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "natsauth_callout_decisions_total",
			Help: "Auth callout decisions, by result (allowed, refused), reason and account (public key of the account placed in; none when refused before one was chosen).",
		}, []string{"result", "reason", "account"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "natsauth_callout_decision_seconds",
			Help:    "Time from receiving an authorization request to sending the answer, by result; throttling delays included.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"result"}),
		sessions: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "natsauth_callout_live_users",
			Help: "Users issued by this gateway instance whose connections are believed open (not expired, no disconnect seen).",
		}, sessions),
		revoked: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "natsauth_callout_revoked_connections_total",
			Help: "Live connections this gateway ended because their identity was disabled or a rule change no longer grants what they hold.",
		}),
		accounts: map[string]bool{},
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{in.decisions, in.latency, in.sessions, in.revoked} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	for _, r := range Reasons {
		res := ResultRefused
		if r == ReasonOK {
			res = ResultAllowed
		}
		in.decisions.WithLabelValues(res, r, "none")
	}
	return in, nil
}

func (in *instruments) account(a string) string {
	if a == "" {
		return "none"
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.accounts[a] {
		return a
	}
	if len(in.accounts) >= maxAccountLabels {
		return "other"
	}
	in.accounts[a] = true
	return a
}

func (in *instruments) decided(allowed bool, reason, account string, d time.Duration) {
	res := ResultRefused
	if allowed {
		res = ResultAllowed
	}
	in.decisions.WithLabelValues(res, reason, in.account(account)).Inc()
	in.latency.WithLabelValues(res).Observe(d.Seconds())
}
