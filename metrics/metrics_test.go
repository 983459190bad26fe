package metrics_test

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/natsauth/natsauth/metrics"
	"github.com/natsauth/natsauth/resolver"
)

var _ resolver.Observer = (*metrics.Metrics)(nil)

// scrape fetches the handler's output and parses it with the Prometheus
// text parser.
func scrape(t *testing.T, m *metrics.Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("GET /metrics: %d %s", rec.Code, rec.Body)
	}
	return Parse(t, rec.Body.String())
}

// Parse parses the Prometheus text format, failing the test on error.
func Parse(t *testing.T, text string) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, text)
	}
	return fams
}

// value returns the value of the sample of family name whose labels
// include want, and whether there is one.
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f, ok := fams[name]
	if !ok {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if got[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		}
	}
	return 0, false
}

func TestOutcomesMatchResolver(t *testing.T) {
	for got, want := range map[string]string{
		metrics.OutcomeHit: resolver.OutcomeHit, metrics.OutcomeMiss: resolver.OutcomeMiss,
		metrics.OutcomeStale: resolver.OutcomeStale, metrics.OutcomeNegative: resolver.OutcomeNegative,
		metrics.OutcomeError: resolver.OutcomeError,
	} {
		if got != want {
			t.Errorf("outcome %q, resolver says %q", got, want)
		}
	}
}

func TestObserverAndAuthFailures(t *testing.T) {
	m := metrics.New(metrics.Options{})
	m.FetchDone("AX", 2*time.Millisecond, resolver.OutcomeHit)
	m.FetchDone("AX", 3*time.Millisecond, resolver.OutcomeHit)
	m.FetchDone("AX", 30*time.Millisecond, resolver.OutcomeMiss)
	m.FetchDone("AX", time.Second, resolver.OutcomeStale)
	m.FetchDone("AX", time.Second, "made-up")
	m.StoreError("get", errors.New("boom"))
	m.StoreError("SELECT secret", errors.New("boom"))
	m.Applied("AX", 40*time.Millisecond)
	m.Applied("AX", 0)
	m.AuthFailure(metrics.ReasonRevoked, "AACC")
	m.AuthFailure(metrics.ReasonRevoked, "AACC")
	m.AuthFailure("subject foo.bar", "AACC")
	m.SetAccountSource(func() []metrics.AccountConnections {
		return []metrics.AccountConnections{{Account: "AACC", Connections: 3, Limit: 10}, {Account: "ABBB", Connections: 0, Limit: -1}}
	})

	fams := scrape(t, m)
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"natsauth_resolver_fetches_total", map[string]string{"outcome": "hit"}, 2},
		{"natsauth_resolver_fetches_total", map[string]string{"outcome": "miss"}, 1},
		{"natsauth_resolver_fetches_total", map[string]string{"outcome": "stale"}, 1},
		{"natsauth_resolver_fetches_total", map[string]string{"outcome": "negative"}, 0},
		{"natsauth_resolver_fetches_total", map[string]string{"outcome": "other"}, 1},
		// Only fetches past the cache are timed.
		{"natsauth_resolver_fetch_seconds", map[string]string{"outcome": "hit"}, 0},
		{"natsauth_resolver_fetch_seconds", map[string]string{"outcome": "miss"}, 1},
		{"natsauth_store_errors_total", map[string]string{"op": "get"}, 1},
		{"natsauth_store_errors_total", map[string]string{"op": "other"}, 1},
		{"natsauth_resolver_applied_total", nil, 2},
		{"natsauth_propagation_lag_seconds", nil, 1},
		{"natsauth_auth_failures_total", map[string]string{"reason": "revoked", "account": "AACC"}, 2},
		{"natsauth_auth_failures_total", map[string]string{"reason": "other", "account": "AACC"}, 1},
		{"natsauth_account_connections", map[string]string{"account": "AACC"}, 3},
		{"natsauth_account_connection_limit", map[string]string{"account": "AACC"}, 10},
		{"natsauth_account_connection_limit", map[string]string{"account": "ABBB"}, -1},
	} {
		got, ok := value(fams, c.name, c.labels)
		if !ok || got != c.want {
			t.Errorf("%s%v = %v (present %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
	if _, ok := fams["go_goroutines"]; !ok {
		t.Error("no Go runtime metrics")
	}
}

// Account label values are capped; the rest fold into "other".
func TestAccountLabelsBounded(t *testing.T) {
	m := metrics.New(metrics.Options{MaxAccounts: 2, NoRuntime: true})
	for _, acc := range []string{"A1", "A2", "A3", "A4", "A1"} {
		m.AuthFailure(metrics.ReasonExpired, acc)
	}
	m.SetAccountSource(func() []metrics.AccountConnections {
		return []metrics.AccountConnections{{"A1", 1, 5}, {"A2", 2, 5}, {"A5", 4, 5}, {"A6", 8, -1}}
	})
	fams := scrape(t, m)
	accounts := map[string]bool{}
	for _, name := range []string{"natsauth_auth_failures_total", "natsauth_account_connections"} {
		for _, s := range fams[name].GetMetric() {
			for _, l := range s.GetLabel() {
				if l.GetName() == "account" {
					accounts[l.GetValue()] = true
				}
			}
		}
	}
	if len(accounts) != 3 || !accounts["A1"] || !accounts["A2"] || !accounts["other"] {
		t.Errorf("account labels = %v, want A1, A2, other", accounts)
	}
	if v, _ := value(fams, "natsauth_auth_failures_total", map[string]string{"account": "other"}); v != 2 {
		t.Errorf("failures under other = %v, want 2", v)
	}
	if v, _ := value(fams, "natsauth_account_connections", map[string]string{"account": "other"}); v != 12 {
		t.Errorf("connections under other = %v, want 12", v)
	}
	if _, ok := value(fams, "natsauth_account_connection_limit", map[string]string{"account": "other"}); ok {
		t.Error("a limit reported for the folded accounts")
	}
}
