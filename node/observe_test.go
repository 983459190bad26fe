package node

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/natsauth/natsauth/internal/testkit"
	"github.com/natsauth/natsauth/metrics"
	"github.com/natsauth/natsauth/store"
)

// logBuffer collects log output from many goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// lines returns the log lines with msg that contain every one of want.
func (l *logBuffer) lines(msg string, want ...string) []string {
	var out []string
next:
	for _, line := range strings.Split(l.String(), "\n") {
		if !strings.Contains(line, "msg=\""+msg+"\"") {
			continue
		}
		for _, w := range want {
			if !strings.Contains(line, w) {
				continue next
			}
		}
		out = append(out, line)
	}
	return out
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// scrapeMetrics GETs /metrics and parses it with the Prometheus text parser.
func scrapeMetrics(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s\n%s", url, resp.Status, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parse %s: %v\n%s", url, err, body)
	}
	return fams
}

func metricValue(fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	f := fams[name]
next:
	for _, m := range f.GetMetric() {
		for _, l := range m.GetLabel() {
			if want, ok := labels[l.GetName()]; ok && want != l.GetValue() {
				continue next
			}
		}
		if m.Counter != nil {
			return m.GetCounter().GetValue()
		}
		return m.GetGauge().GetValue()
	}
	return 0
}

// authEnv is a node with accounts for every kind of failure.
type authEnv struct {
	f       fixture
	n       *Node
	logs    *logBuffer
	url     string // /metrics
	limited *testkit.Account
	revokes *testkit.Account
	secrets []string // seeds and JWTs that must never be logged
}

func newAuthEnv(t *testing.T, metricsAddr string) *authEnv {
	t.Helper()
	f := newFixture(t)
	e := &authEnv{f: f, logs: &logBuffer{}}
	e.limited = f.op.NewAccount(t, "Limited", func(ac *jwt.AccountClaims) { ac.Limits.Conn = 1 })
	e.revokes = f.op.NewAccount(t, "Revokes", nil)
	cfg := f.config(t)
	cfg.Flags.HTTPPort = -1
	cfg.MetricsAddr = metricsAddr
	cfg.Seed[e.limited.Pub] = e.limited.JWT
	cfg.Seed[e.revokes.Pub] = e.revokes.JWT
	cfg.Logger = slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	e.n = startNode(t, cfg)
	e.url = "http://" + e.n.MetricsAddr() + "/metrics"
	return e
}

// user makes a user whose seed and JWT must never show in the log.
func (e *authEnv) user(t *testing.T, acc *testkit.Account, name string, mod func(*jwt.UserClaims)) *testkit.User {
	u := acc.NewUser(t, name, mod)
	e.secrets = append(e.secrets, seedOf(t, u), u.JWT)
	return u
}

func (e *authEnv) failures(t *testing.T, reason, account string) float64 {
	return metricValue(scrapeMetrics(t, e.url), "natsauth_auth_failures_total", map[string]string{"reason": reason, "account": account})
}

// refused connects u (with seed, when given) and expects a refusal.
func (e *authEnv) refused(t *testing.T, u *testkit.User, seed string) {
	t.Helper()
	if seed == "" {
		seed = seedOf(t, u)
	}
	nc, err := nats.Connect(e.n.ClientURL(), nats.UserJWTAndSeed(u.JWT, seed), nats.MaxReconnects(0), nats.Name("probe "+u.Claims.Name))
	if err == nil {
		nc.Close()
		t.Fatalf("user %s connected", u.Claims.Name)
	}
}

// expect waits until the failure is counted under reason and account and
// logged with msg, the user's key, its account and the remote address.
func (e *authEnv) expect(t *testing.T, msg, reason, account, user, logAccount string, before float64) {
	t.Helper()
	waitFor(t, reason+" counted for "+account, func() bool { return e.failures(t, reason, account) >= before+1 })
	want := []string{"level=WARN", "reason=" + reason, "remote=127.0.0.1"}
	if user != "" {
		want = append(want, "user="+user)
	}
	if logAccount != "" {
		want = append(want, "account="+logAccount)
	}
	waitFor(t, "log line "+strings.Join(want, " "), func() bool { return len(e.logs.lines(msg, want...)) > 0 })
}

func TestAuthFailuresCountedAndLogged(t *testing.T) {
	e := newAuthEnv(t, "")
	f := e.f
	if !strings.HasSuffix(e.url, "/metrics") || strings.HasPrefix(e.url, "http:///") {
		t.Fatalf("metrics not served on the monitoring port: %q", e.url)
	}

	t.Run("expired", func(t *testing.T) {
		u := e.user(t, f.acc, "expired", func(uc *jwt.UserClaims) { uc.Expires = time.Now().Add(-time.Minute).Unix() })
		before := e.failures(t, metrics.ReasonExpired, f.acc.Pub)
		e.refused(t, u, "")
		e.expect(t, "authentication failed", metrics.ReasonExpired, f.acc.Pub, u.Pub, f.acc.Pub, before)
	})
	t.Run("bad signature", func(t *testing.T) {
		u := e.user(t, f.acc, "wrongseed", nil)
		other := e.user(t, f.acc, "other", nil)
		before := e.failures(t, metrics.ReasonBadSignature, f.acc.Pub)
		e.refused(t, u, seedOf(t, other))
		e.expect(t, "authentication failed", metrics.ReasonBadSignature, f.acc.Pub, u.Pub, f.acc.Pub, before)
	})
	t.Run("signer the account does not list", func(t *testing.T) {
		stranger, _ := nkeys.CreateAccount()
		kp, _ := nkeys.CreateUser()
		pub, _ := kp.PublicKey()
		uc := jwt.NewUserClaims(pub)
		uc.IssuerAccount = f.acc.Pub // claims the account, signed by an unlisted key
		tok, err := uc.Encode(stranger)
		if err != nil {
			t.Fatal(err)
		}
		seed, _ := kp.Seed()
		e.secrets = append(e.secrets, string(seed), tok)
		before := e.failures(t, metrics.ReasonBadSignature, f.acc.Pub)
		if nc, err := nats.Connect(e.n.ClientURL(), nats.UserJWTAndSeed(tok, string(seed)), nats.MaxReconnects(0)); err == nil {
			nc.Close()
			t.Fatal("user signed by an unlisted key connected")
		}
		e.expect(t, "authentication failed", metrics.ReasonBadSignature, f.acc.Pub, pub, f.acc.Pub, before)
	})
	t.Run("unknown account", func(t *testing.T) {
		ghost := f.op.NewAccount(t, "Ghost", nil)
		u := e.user(t, ghost, "ghostly", nil)
		before := e.failures(t, metrics.ReasonUnknownAccount, metrics.AccountUnknown)
		e.refused(t, u, "")
		// Counted under "unknown" (a made-up account never becomes a
		// label), logged with the key the user claims.
		e.expect(t, "authentication failed", metrics.ReasonUnknownAccount, metrics.AccountUnknown, u.Pub, ghost.Pub, before)
	})
	t.Run("no credentials", func(t *testing.T) {
		before := e.failures(t, metrics.ReasonNoCredentials, metrics.AccountNone)
		if nc, err := nats.Connect(e.n.ClientURL(), nats.MaxReconnects(0)); err == nil {
			nc.Close()
			t.Fatal("anonymous client connected")
		}
		e.expect(t, "authentication failed", metrics.ReasonNoCredentials, metrics.AccountNone, "", "", before)
	})
	t.Run("revoked", func(t *testing.T) {
		u := e.user(t, e.revokes, "revoked", nil)
		nc := connect(t, e.n.ClientURL(), u)
		closed := make(chan struct{})
		nc.SetClosedHandler(func(*nats.Conn) { close(closed) })
		before := e.failures(t, metrics.ReasonRevoked, e.revokes.Pub)
		// Revoke while connected: the server closes the connection...
		revoked := e.revokes.Reissue(t, time.Now().Unix()+1, func(ac *jwt.AccountClaims) { ac.RevokeAt(u.Pub, time.Now().Add(time.Minute)) })
		if _, err := e.n.Store().Put(context.Background(), e.revokes.Pub, revoked); err != nil {
			t.Fatal(err)
		}
		select {
		case <-closed:
		case <-time.After(10 * time.Second):
			t.Fatal("revoked user stays connected")
		}
		e.expect(t, "connection closed for authentication", metrics.ReasonRevoked, e.revokes.Pub, u.Pub, e.revokes.Pub, before)
		// ...and refuses it from then on.
		e.refused(t, u, "")
		e.expect(t, "authentication failed", metrics.ReasonRevoked, e.revokes.Pub, u.Pub, e.revokes.Pub, before+1)
	})
	t.Run("expired while connected", func(t *testing.T) {
		u := e.user(t, f.acc, "shortlived", func(uc *jwt.UserClaims) { uc.Expires = time.Now().Add(2 * time.Second).Unix() })
		before := e.failures(t, metrics.ReasonExpired, f.acc.Pub)
		connect(t, e.n.ClientURL(), u)
		e.expect(t, "connection closed for authentication", metrics.ReasonExpired, f.acc.Pub, u.Pub, f.acc.Pub, before)
	})
	t.Run("connection limit", func(t *testing.T) {
		first := e.user(t, e.limited, "first", nil)
		second := e.user(t, e.limited, "second", nil)
		connect(t, e.n.ClientURL(), first)
		before := e.failures(t, metrics.ReasonConnectionLimit, e.limited.Pub)
		e.refused(t, second, "")
		e.expect(t, "connection closed for authentication", metrics.ReasonConnectionLimit, e.limited.Pub, second.Pub, e.limited.Pub, before)
		// Connections per account and each account's limit.
		fams := scrapeMetrics(t, e.url)
		if got := metricValue(fams, "natsauth_account_connection_limit", map[string]string{"account": e.limited.Pub}); got != 1 {
			t.Errorf("connection limit of Limited = %v, want 1", got)
		}
		if got := metricValue(fams, "natsauth_account_connections", map[string]string{"account": e.limited.Pub}); got != 1 {
			t.Errorf("connections of Limited = %v, want 1", got)
		}
	})
	t.Run("permission", func(t *testing.T) {
		u := e.user(t, f.acc, "restricted", func(uc *jwt.UserClaims) {
			uc.Pub.Deny.Add("secret.>")
			uc.Sub.Deny.Add("secret.>")
		})
		before := e.failures(t, metrics.ReasonPermission, f.acc.Pub)
		nc := connect(t, e.n.ClientURL(), u)
		nc.SetErrorHandler(func(*nats.Conn, *nats.Subscription, error) {})
		if err := nc.Publish("secret.plans", []byte("x")); err != nil {
			t.Fatal(err)
		}
		e.expect(t, "permission violation", metrics.ReasonPermission, f.acc.Pub, u.Pub, f.acc.Pub, before)
		if len(e.logs.lines("permission violation", "operation=publish", "subject=secret.plans")) == 0 {
			t.Error("publish violation logged without its operation and subject")
		}
		if _, err := nc.SubscribeSync("secret.>"); err != nil {
			t.Fatal(err)
		}
		e.expect(t, "permission violation", metrics.ReasonPermission, f.acc.Pub, u.Pub, f.acc.Pub, before+1)
		if len(e.logs.lines("permission violation", "operation=subscription", `subject=secret.>`)) == 0 {
			t.Errorf("subscription violation not logged with its subject:\n%s", e.logs)
		}
	})

	fams := scrapeMetrics(t, e.url)
	if got := metricValue(fams, "natsauth_account_connection_limit", map[string]string{"account": f.acc.Pub}); got != -1 {
		t.Errorf("connection limit of A = %v, want -1 (unlimited)", got)
	}
	if got := metricValue(fams, "natsauth_resolver_fetches_total", map[string]string{"outcome": "miss"}); got < 1 {
		t.Errorf("resolver misses = %v, want some", got)
	}
	if got := metricValue(fams, "natsauth_resolver_applied_total", nil); got < 1 {
		t.Errorf("applied = %v, want the revocation", got)
	}

	// No seed, no JWT, in any log line.
	logs := e.logs.String()
	for _, s := range e.secrets {
		if strings.Contains(logs, s) {
			t.Fatalf("a seed or JWT was logged: %.12s...", s)
		}
	}
	if strings.Contains(logs, "eyJ") {
		t.Fatal("something JWT-shaped was logged")
	}
}

// --metrics ADDR serves /metrics on its own listener.
func TestMetricsOnOwnAddress(t *testing.T) {
	e := newAuthEnv(t, "127.0.0.1:0")
	mon := e.n.Server().MonitorAddr()
	if mon == nil || e.n.MetricsAddr() == mon.String() {
		t.Fatalf("metrics at %q, monitoring at %v: want a separate listener", e.n.MetricsAddr(), mon)
	}
	u := e.user(t, e.f.acc, "expired", func(uc *jwt.UserClaims) { uc.Expires = time.Now().Add(-time.Minute).Unix() })
	e.refused(t, u, "")
	e.expect(t, "authentication failed", metrics.ReasonExpired, e.f.acc.Pub, u.Pub, e.f.acc.Pub, 0)
	// The monitoring port does not serve it too.
	resp, err := http.Get("http://" + mon.String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(body), "natsauth_auth_failures_total") {
		t.Error("metrics served on the monitoring port as well")
	}
	// Closing the node closes the listener.
	addr := e.n.MetricsAddr()
	e.n.Close()
	if _, err := http.Get("http://" + addr + "/metrics"); err == nil {
		t.Error("metrics listener still open after Close")
	}
}

// Without a monitoring port or an address, nothing is served and nothing
// fails.
func TestNoMetricsEndpoint(t *testing.T) {
	f := newFixture(t)
	n := startNode(t, f.config(t))
	if got := n.MetricsAddr(); got != "" {
		t.Errorf("MetricsAddr = %q, want none", got)
	}
}

func TestClassifyAuthErrorNeverLeaksAndTerminates(t *testing.T) {
	f := newFixture(t)
	lookup := func(_ context.Context, acc string) (*jwt.AccountClaims, error) {
		if acc == f.acc.Pub {
			return f.acc.Claims, nil
		}
		return nil, store.ErrNotFound
	}
	bearer := f.acc.NewUser(t, "bearer", func(uc *jwt.UserClaims) { uc.BearerToken = true })
	srcLimited := f.acc.NewUser(t, "office", func(uc *jwt.UserClaims) { uc.Src.Set("10.0.0.0/8") })
	for _, tc := range []struct {
		name, tok, host, want string
	}{
		{"garbage", "not.a.jwt", "127.0.0.1", metrics.ReasonBadSignature},
		{"bearer", bearer.JWT, "127.0.0.1", metrics.ReasonOther},
		{"source network", srcLimited.JWT, "127.0.0.1", metrics.ReasonOther},
		{"account jwt as user", f.acc.JWT, "127.0.0.1", metrics.ReasonBadSignature},
	} {
		ev := &server.DisconnectEventMsg{Client: server.ClientInfo{Jwt: tc.tok, Host: tc.host}, Reason: "Authentication Failure"}
		got := ClassifyAuthError(context.Background(), ev, lookup, time.Now())
		if got.Reason != tc.want {
			t.Errorf("%s: reason %q (%s), want %q", tc.name, got.Reason, got.Detail, tc.want)
		}
		b, _ := json.Marshal(got)
		if tc.tok != "" && strings.Contains(string(b), tc.tok) {
			t.Errorf("%s: the JWT is in the failure", tc.name)
		}
	}
}

func FuzzClassifyAuthError(f *testing.F) {
	op := testkit.NewOperator(f)
	acc := op.NewAccount(f, "A", nil)
	u := acc.NewUser(f, "u", nil)
	f.Add(u.JWT, "127.0.0.1", "nats")
	f.Add("", "", "")
	f.Add("eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.e30.AA", "::1", "websocket")
	lookup := func(_ context.Context, a string) (*jwt.AccountClaims, error) {
		if a == acc.Pub {
			return acc.Claims, nil
		}
		return nil, store.ErrNotFound
	}
	f.Fuzz(func(t *testing.T, tok, host, typ string) {
		ev := &server.DisconnectEventMsg{Client: server.ClientInfo{Jwt: tok, Host: host, ClientType: typ}}
		got := ClassifyAuthError(context.Background(), ev, lookup, time.Now())
		found := false
		for _, r := range metrics.Reasons {
			found = found || r == got.Reason
		}
		if !found {
			t.Fatalf("reason %q is not a known label", got.Reason)
		}
		if len(tok) > 20 && (strings.Contains(got.Detail, tok) || strings.Contains(got.User, tok)) {
			t.Fatal("the presented JWT leaked into the failure")
		}
		if got.KnownAccount && got.Account != acc.Pub {
			t.Fatalf("account %q reported as known", got.Account)
		}
	})
}

// A reload keeps /metrics on the monitoring port and mounts nothing twice
// (nats-server cannot move the monitoring port on reload: "config reload
// not supported for HTTPPort").
func TestMetricsSurviveReload(t *testing.T) {
	f := newFixture(t)
	confPath := filepath.Join(t.TempDir(), "n.conf")
	port := freePort(t)
	write := func(payload string) {
		t.Helper()
		conf := fmt.Sprintf("host: 127.0.0.1\nport: -1\nhttp: \"127.0.0.1:%d\"\nmax_payload: %s\n", port, payload)
		if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("1MB")
	cfg := f.config(t)
	cfg.Flags = ServerFlags{}
	cfg.ConfigFile = confPath
	n := startNode(t, cfg)
	url := "http://" + n.MetricsAddr() + "/metrics"
	if want := fmt.Sprintf("127.0.0.1:%d", port); n.MetricsAddr() != want {
		t.Fatalf("metrics at %q, want the monitoring port %s", n.MetricsAddr(), want)
	}
	scrapeMetrics(t, url)
	for _, payload := range []string{"1MB", "2KB"} {
		write(payload)
		if err := n.Reload(); err != nil {
			t.Fatalf("reload: %v", err)
		}
		fams := scrapeMetrics(t, url)
		if _, ok := fams["natsauth_resolver_fetches_total"]; !ok {
			t.Fatalf("no natsauth metrics after a reload")
		}
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
