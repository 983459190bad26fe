package doctor

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"

	"github.com/natsauth/natsauth/authority"
)

func ptr[T any](v T) *T { return &v }

func initHome(t *testing.T) *authority.Home {
	t.Helper()
	h, err := authority.Init(filepath.Join(t.TempDir(), "home"), "O")
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// find returns the findings of a check about an object.
func find(fs []Finding, check, object string) []Finding {
	var out []Finding
	for _, f := range fs {
		if f.Check == check && f.Object == object {
			out = append(out, f)
		}
	}
	return out
}

func want(t *testing.T, fs []Finding, sev Severity, check, object string, fixHas ...string) {
	t.Helper()
	got := find(fs, check, object)
	if len(got) != 1 {
		t.Errorf("want one %s finding for %s, got %d", check, object, len(got))
		return
	}
	f := got[0]
	if f.Severity != sev {
		t.Errorf("%s %s: severity %s, want %s", check, object, f.Severity, sev)
	}
	if f.Why == "" {
		t.Errorf("%s %s: no reason", check, object)
	}
	for _, s := range fixHas {
		if !strings.Contains(f.Fix, s) {
			t.Errorf("%s %s: fix %q lacks %q", check, object, f.Fix, s)
		}
	}
}

func mustUser(t *testing.T, h *authority.Home, acc, name string, e authority.UserEdit) {
	t.Helper()
	if _, err := h.AddUser(acc, name, e); err != nil {
		t.Fatal(err)
	}
}

// unsafeHome builds a home that departs from every practice the home
// checks cover.
func unsafeHome(t *testing.T, now time.Time) *authority.Home {
	t.Helper()
	h := initHome(t)
	if _, err := h.AddAccount("A", authority.AccountEdit{}); err != nil { // no limits
		t.Fatal(err)
	}
	if _, err := h.AddAccount("B", authority.AccountEdit{Payload: ptr[int64](1 << 20)}); err != nil { // no conn limit
		t.Fatal(err)
	}
	mustUser(t, h, "A", "admin", authority.UserEdit{AllowPub: []string{">"}, AllowSub: []string{">"}})
	mustUser(t, h, "A", "open", authority.UserEdit{})
	mustUser(t, h, "A", "bearer", authority.UserEdit{AllowPubSub: []string{"b.>"}, Bearer: ptr(true), Expires: ptr(now.Add(90 * 24 * time.Hour))})
	mustUser(t, h, "A", "soon", authority.UserEdit{AllowPubSub: []string{"s.>"}, Expires: ptr(now.Add(10 * 24 * time.Hour))})
	// Born expired is refused: gone expires an hour after now, and the
	// checks run two hours after it (see doctorClock).
	mustUser(t, h, "A", "gone", authority.UserEdit{AllowPubSub: []string{"g.>"}, Expires: ptr(now.Add(time.Hour))})
	// A scoped key whose template allows everything.
	if _, sk, err := h.AddAccountSigningKey("B", ""); err != nil {
		t.Fatal(err)
	} else if _, _, err := h.EditSigningKey("B", sk, authority.SigningKeyEdit{Role: ptr("svc"),
		Template: authority.UserEdit{AllowPub: []string{">"}, AllowSub: []string{"in.>"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.AddUserWith("B", "worker", authority.UserEdit{Expires: ptr(now.Add(60 * 24 * time.Hour))},
		authority.UserIssue{SigningKey: "svc"}); err != nil {
		t.Fatal(err)
	}
	// Account C is signed by the operator identity key (as nsc can do).
	if _, err := h.AddAccount("C", authority.AccountEdit{Conns: ptr[int64](5)}); err != nil {
		t.Fatal(err)
	}
	c, _ := h.Account("C")
	seed, err := os.ReadFile(seedPath(h, h.Operator().Subject))
	if err != nil {
		t.Fatal(err)
	}
	opKP, err := nkeys.FromSeed(seed)
	if err != nil {
		t.Fatal(err)
	}
	ac, _ := jwt.DecodeAccountClaims(c.JWT)
	tok, err := ac.Encode(opKP)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(h.StoresDir(), "O", "accounts", "C", "C.jwt"), []byte(tok), 0o600); err != nil {
		t.Fatal(err)
	}
	// Account D expires within the window.
	if _, err := h.AddAccount("D", authority.AccountEdit{Conns: ptr[int64](5), Expires: ptr(now.Add(5 * 24 * time.Hour))}); err != nil {
		t.Fatal(err)
	}
	// A rotation left unfinished.
	if _, _, err := h.BeginAccountKeyRotation("B", "svc"); err != nil {
		t.Fatal(err)
	}
	// Loose permissions on a creds file and a keystore directory.
	if err := os.Chmod(h.CredsPath("A", "admin"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(h.KeysDir(), "creds"), 0o755); err != nil {
		t.Fatal(err)
	}
	return h
}

// doctorClock is the time the checks of an unsafeHome built at now run:
// after user gone expired.
func doctorClock(now time.Time) time.Time { return now.Add(2 * time.Hour) }

func TestUnsafeHomeFlagsEachCase(t *testing.T) {
	built := time.Now()
	h := unsafeHome(t, built)
	now := doctorClock(built)
	fs, err := CheckHome(h, Options{Now: func() time.Time { return now }, Command: "natsauth"})
	if err != nil {
		t.Fatal(err)
	}
	want(t, fs, High, CheckBearer, "user A/bearer", "natsauth edit user -a A -n bearer --bearer=false")
	want(t, fs, Medium, CheckPubAll, "user A/admin", "--rm '>'", "--allow-pub")
	want(t, fs, Medium, CheckSubAll, "user A/admin", "--rm '>'", "--allow-sub")
	want(t, fs, Medium, CheckPubAll, "user A/open", "natsauth edit user -a A -n open --allow-pub")
	want(t, fs, Medium, CheckSubAll, "user A/open")
	b, _ := h.Account("B")
	for _, sk := range b.Claims.SigningKeys.Keys() { // the scoped key and the one rotating it in
		want(t, fs, Medium, CheckPubAll, "signing key B/"+sk, "natsauth edit signing-key -a B --sk "+sk+" --rm '>' --allow-pub")
		if got := find(fs, CheckSubAll, "signing key B/"+sk); len(got) != 0 {
			t.Errorf("template with a subscribe allow list flagged: %+v", got)
		}
	}
	if got := find(fs, CheckPubAll, "user B/worker"); len(got) != 0 {
		t.Errorf("scoped user flagged for its own (empty) permissions: %+v", got)
	}
	want(t, fs, Low, CheckUserNoExpiry, "user A/admin", "--expiry 90d")
	want(t, fs, Medium, CheckExpiring, "user A/soon", "natsauth edit user -a A -n soon --expiry 90d")
	want(t, fs, Medium, CheckExpired, "user A/gone")
	want(t, fs, Medium, CheckExpiring, "account D", "natsauth edit account D --expiry 1y")
	want(t, fs, Medium, CheckAccountNoLimits, "account A", "natsauth edit account A --max-connections")
	want(t, fs, Low, CheckAccountNoConnLimit, "account B", "natsauth edit account B --max-connections 1000")
	want(t, fs, Medium, CheckAccountByOperatorID, "account C", "natsauth edit operator --require-signing-keys")
	want(t, fs, Low, CheckUserByAccountID, "account A", "natsauth rotate account-signing-key -a A")
	want(t, fs, Low, CheckUserByAccountID, "account SYS", "natsauth rotate account-signing-key -a SYS")
	if got := find(fs, CheckOperatorSeed, "operator O"); len(got) != 0 {
		t.Errorf("operator seed flagged while the operator still needs edits: %+v", got)
	}
	want(t, fs, Low, CheckNoRequireSK, "operator O", "natsauth edit operator --require-signing-keys")
	want(t, fs, Medium, CheckRotation, "account B", "natsauth rotate account-signing-key -a B")
	want(t, fs, High, CheckFileMode, "file "+h.CredsPath("A", "admin"), "natsauth doctor --fix-permissions")
	want(t, fs, High, CheckDirMode, "directory "+filepath.Join(h.KeysDir(), "creds"), "natsauth doctor --fix-permissions")
	// The system account's user is not asked for limits, expiry or narrow permissions.
	for _, f := range fs {
		if strings.HasPrefix(f.Object, "user SYS/") || f.Object == "account SYS" && f.Check != CheckUserByAccountID {
			t.Errorf("system account flagged: %+v", f)
		}
	}
	if Worst(fs) != High {
		t.Fatalf("worst = %s", Worst(fs))
	}
	for i := 1; i < len(fs); i++ {
		if fs[i].Severity > fs[i-1].Severity {
			t.Fatal("findings not sorted by severity")
		}
	}
	// --fix-permissions fixes the modes and nothing else.
	changed, err := FixPermissions(h)
	if err != nil || len(changed) != 2 {
		t.Fatalf("FixPermissions = %v, %v", changed, err)
	}
	fs, _ = CheckHome(h, Options{Now: func() time.Time { return now }})
	if got := append(find(fs, CheckFileMode, "file "+h.CredsPath("A", "admin")),
		find(fs, CheckDirMode, "directory "+filepath.Join(h.KeysDir(), "creds"))...); len(got) != 0 {
		t.Fatalf("after FixPermissions: %+v", got)
	}
	js, _ := json.Marshal(fs[0])
	if !strings.Contains(string(js), `"severity":"high"`) {
		t.Fatalf("json = %s", js)
	}
}

// safeHome follows every practice the home checks cover.
func safeHome(t *testing.T) *authority.Home {
	t.Helper()
	h := initHome(t)
	for _, acc := range []string{"SYS", "A"} {
		if acc == "A" {
			if _, err := h.AddAccount("A", authority.AccountEdit{Conns: ptr[int64](100), Data: ptr[int64](1 << 30),
				Payload: ptr[int64](1 << 20), Subs: ptr[int64](1000)}); err != nil {
				t.Fatal(err)
			}
		}
		r, _, err := h.BeginAccountKeyRotation(acc, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.ReissueAccountUsers(r); err != nil {
			t.Fatal(err)
		}
		if _, err := h.FinishAccountKeyRotation(r); err != nil {
			t.Fatal(err)
		}
	}
	mustUser(t, h, "A", "alice", authority.UserEdit{AllowPub: []string{"orders.>"}, AllowSub: []string{"orders.alice.>"},
		Expires: ptr(time.Now().Add(90 * 24 * time.Hour))})
	if _, err := h.SetRequireSigningKeys(true); err != nil {
		t.Fatal(err)
	}
	seed := seedPath(h, h.Operator().Subject)
	offline := filepath.Join(t.TempDir(), "operator.nk")
	if err := os.Rename(seed, offline); err != nil {
		t.Fatal(err)
	}
	return h
}

// Once the operator needs no edit, its identity seed in the keystore is
// reported.
func TestOperatorSeedReported(t *testing.T) {
	h := initHome(t)
	r, _, err := h.BeginAccountKeyRotation("SYS", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.ReissueAccountUsers(r); err != nil {
		t.Fatal(err)
	}
	if _, err := h.FinishAccountKeyRotation(r); err != nil {
		t.Fatal(err)
	}
	if _, err := h.SetRequireSigningKeys(true); err != nil {
		t.Fatal(err)
	}
	fs, err := CheckHome(h, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want(t, fs, Low, CheckOperatorSeed, "operator O", "offline", seedPath(h, h.Operator().Subject))
	if _, err := h.BeginOperatorKeyRotation(""); err != nil {
		t.Fatal(err)
	}
	fs, _ = CheckHome(h, Options{})
	want(t, fs, Medium, CheckRotation, "operator O", "natsauth rotate operator-signing-key")
	if got := find(fs, CheckOperatorSeed, "operator O"); len(got) != 0 {
		t.Errorf("operator seed flagged during an operator rotation: %+v", got)
	}
}

func TestSafeHomePasses(t *testing.T) {
	h := safeHome(t)
	fs, err := CheckHome(h, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 0 {
		t.Fatalf("safe home has findings: %+v", fs)
	}
}

func TestCheckServer(t *testing.T) {
	fs := CheckServer("http://h:8222", &Varz{ID: "NID", Name: "n1", HTTPHost: "0.0.0.0", HTTPPort: 8222}, "")
	want(t, fs, High, CheckServerTLS, "server n1 (http://h:8222)", "natsauth generate tls", "--tls-cert")
	want(t, fs, High, CheckServerAuth, "server n1 (http://h:8222)")
	want(t, fs, Medium, CheckMonitorExposed, "server n1 (http://h:8222)", `http: "127.0.0.1:8222"`)
	for _, host := range []string{"127.0.0.1", "::1", "localhost", "[::1]"} {
		fs := CheckServer("x", &Varz{TLSRequired: true, AuthRequired: true, HTTPHost: host, HTTPPort: 8222}, "")
		if len(fs) != 0 {
			t.Errorf("http_host %s: %+v", host, fs)
		}
	}
	if fs := CheckServer("x", &Varz{TLSRequired: true, AuthRequired: true, HTTPHost: "10.0.0.1", HTTPSPort: 8443}, ""); len(fs) != 1 {
		t.Errorf("https on a LAN address: %+v", fs)
	}
	if fs := CheckServer("x", &Varz{TLSRequired: true, AuthRequired: true, HTTPHost: "0.0.0.0"}, ""); len(fs) != 0 {
		t.Errorf("no monitoring port flagged: %+v", fs)
	}
}

// FetchVarz reads a real server's /varz: a plain server with monitoring on
// every interface is flagged for TLS, authentication and the port.
func TestFetchVarzFromARealServer(t *testing.T) {
	opts := &server.Options{Host: "127.0.0.1", Port: -1, HTTPHost: "0.0.0.0", HTTPPort: -1, NoLog: true, NoSigs: true}
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	defer s.Shutdown()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	mon := "http://" + s.MonitorAddr().String()
	v, err := FetchVarz(context.Background(), &http.Client{Timeout: 5 * time.Second}, mon)
	if err != nil {
		t.Fatal(err)
	}
	if v.ID != s.ID() || v.HTTPPort == 0 {
		t.Fatalf("varz = %+v", v)
	}
	fs := CheckServer(mon, v, "")
	var checks []string
	for _, f := range fs {
		checks = append(checks, f.Check)
	}
	if got := strings.Join(checks, ","); got != CheckServerTLS+","+CheckServerAuth+","+CheckMonitorExposed {
		t.Fatalf("checks = %s", got)
	}
	if _, err := FetchVarz(context.Background(), &http.Client{Timeout: 5 * time.Second}, mon+"/nope"); err == nil {
		t.Fatal("a 404 was read as varz")
	}
}

func TestSeverityJSON(t *testing.T) {
	for _, s := range []Severity{Info, Low, Medium, High} {
		b, _ := json.Marshal(s)
		var back Severity
		if err := json.Unmarshal(b, &back); err != nil || back != s {
			t.Fatalf("%s: %s -> %v %v", s, b, back, err)
		}
	}
	if _, err := ParseSeverity("severe"); err == nil {
		t.Fatal("unknown severity accepted")
	}
}

func TestHomeCommand(t *testing.T) {
	for dir, want := range map[string]string{
		"/srv/natsauth":   "natsauth --home /srv/natsauth",
		"/srv/my home":    "natsauth --home '/srv/my home'",
		"/srv/it's$HOME/": `natsauth --home '/srv/it'\''s$HOME/'`,
	} {
		if got := HomeCommand(dir); got != want {
			t.Errorf("HomeCommand(%q) = %q, want %q", dir, got, want)
		}
	}
}
