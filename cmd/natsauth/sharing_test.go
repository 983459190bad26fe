package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/describe"
	"github.com/natsauth/natsauth/internal/testkit"
)

// sharingCLIHome is a home with accounts A, B and C; A exports a public
// stream, a public service and a private stream; B imports the first two.
func sharingCLIHome(t *testing.T) *cliHome {
	t.Helper()
	c := initHome(t)
	for _, acc := range []string{"A", "B", "C"} {
		c.must("add", "account", "-n", acc)
	}
	c.must("add", "export", "-a", "A", "-s", "feed.pub.>", "-n", "feed")
	c.must("add", "export", "-a", "A", "-s", "svc.*", "--service", "--response-type", "Stream", "--response-threshold", "2s")
	c.must("add", "export", "-a", "A", "-s", "feed.priv.>", "--private", "--description", "private feed")
	c.must("add", "import", "-a", "B", "--src-account", "A", "--remote-subject", "feed.pub.>", "-s", "a.feed.>")
	c.must("add", "import", "-a", "B", "--src-account", "A", "--remote-subject", "svc.*", "--service", "-s", "a.svc.$1")
	return c
}

func TestSharingListsAndDescribe(t *testing.T) {
	c := sharingCLIHome(t)
	tok := filepath.Join(t.TempDir(), "c.jwt")
	c.must("generate", "activation", "-a", "A", "-t", "C", "-s", "feed.priv.>", "--expiry", "3d", "-o", tok)
	c.must("add", "import", "-a", "C", "-u", tok)

	var exps []describe.ExportRow
	mustJSON(t, c.must("list", "exports", "--json"), &exps)
	byName := map[string]describe.ExportRow{}
	for _, x := range exps {
		byName[x.Account+" "+string(x.Subject)] = x
	}
	if x := byName["A feed.pub.>"]; x.Name != "feed" || x.TokenReq || len(x.ImportedBy) != 1 || x.ImportedBy[0] != "B" {
		t.Errorf("public stream export row: %+v", x)
	}
	if x := byName["A svc.*"]; x.Type != jwt.Service || x.ResponseType != jwt.ResponseTypeStream || x.ResponseThreshold != 2*time.Second {
		t.Errorf("service export row: %+v", x)
	}
	if x := byName["A feed.priv.>"]; !x.TokenReq || x.Description != "private feed" || len(x.ImportedBy) != 1 || x.ImportedBy[0] != "C" {
		t.Errorf("private export row: %+v", x)
	}
	var imps []describe.ImportRow
	mustJSON(t, c.must("list", "imports", "--json"), &imps)
	if len(imps) != 3 {
		t.Fatalf("imports: %+v", imps)
	}
	for _, im := range imps {
		if im.Source != "A" || len(im.Problems) > 0 {
			t.Errorf("import row: %+v", im)
		}
		if im.Account == "C" && (im.Token == "" || im.TokenExpires == 0) {
			t.Errorf("C's import has no token or expiry: %+v", im)
		}
	}
	text := c.must("list", "imports")
	for _, want := range []string{"service svc.* from A as a.svc.$1", "stream feed.priv.> from A (activation token, expires"} {
		if !strings.Contains(text, want) {
			t.Errorf("list imports lacks %q:\n%s", want, text)
		}
	}

	var exp []authority.Expiration
	mustJSON(t, c.must("expirations", "--within", "1w", "--json"), &exp)
	soon := 0
	for _, e := range exp {
		if e.ExpiresSoon {
			soon++
			if e.Kind != "activation" || !strings.Contains(e.Resource, "C/import feed.priv.> from A") {
				t.Errorf("expires soon: %+v", e)
			}
		}
	}
	if soon != 1 {
		t.Errorf("expirations within 1w: %d expire soon, want the activation: %+v", soon, exp)
	}
	if out := c.must("expirations", "--within", "1d"); !strings.Contains(out, "activation") || strings.Contains(out, "expires within") {
		t.Errorf("expirations --within 1d:\n%s", out)
	}

	var keys struct {
		Keys          []authority.KeyInfo `json:"keys"`
		NotReferenced []string            `json:"not_referenced"`
	}
	mustJSON(t, c.must("list", "keys", "--json"), &keys)
	kinds := map[string]int{}
	for _, k := range keys.Keys {
		kinds[k.Kind]++
		if !k.Stored {
			t.Errorf("key not stored: %+v", k)
		}
	}
	if kinds["operator"] != 2 || kinds["account"] != 4 || kinds["user"] != 1 || len(keys.NotReferenced) != 0 {
		t.Errorf("list keys: %+v", keys)
	}

	var claims jwt.AccountClaims
	mustJSON(t, c.must("describe", "account", "A", "--json"), &claims)
	if len(claims.Exports) != 3 {
		t.Errorf("describe account A --json: exports %+v", claims.Exports)
	}
	mustJSON(t, c.must("describe", "account", "B", "--json"), &claims)
	if len(claims.Imports) != 2 {
		t.Errorf("describe account B --json: imports %+v", claims.Imports)
	}
	out := c.must("describe", "account", "A")
	for _, want := range []string{"Exports (3)", "stream feed.priv.> (private)", "service svc.* (public, responses Stream within 2s)",
		"Sharing", "imported by B"} {
		if !strings.Contains(out, want) {
			t.Errorf("describe account A lacks %q:\n%s", want, out)
		}
	}
	if out := c.must("describe", "account", "B"); !strings.Contains(out, "stream feed.pub.> from A as a.feed.>") {
		t.Errorf("describe account B:\n%s", out)
	}

	// A removed export shows as a broken import in describe and list.
	c.must("delete", "export", "-a", "A", "-s", "feed.pub.>")
	if out := c.must("describe", "account", "B"); !strings.Contains(out, "BROKEN: account A has no stream export") {
		t.Errorf("describe account B after the export was removed:\n%s", out)
	}
	if out, _, err := c.run("doctor"); err == nil || !strings.Contains(out, "import B/feed.pub.> from A  [import-broken]") {
		t.Errorf("doctor after the export was removed: %v\n%s", err, out)
	}
}

// The new account and user settings land in the JWTs as nsc writes them.
func TestAccountAndUserSettingsFlags(t *testing.T) {
	c := initHome(t)
	c.must("add", "account", "-n", "A", "--allow-pub", "a.>", "--deny-sub", "secret.>", "--allow-pub-response=3",
		"--response-ttl", "5s", "--tag", "Blue", "--description", "d", "--info-url", "https://example.com/a",
		"--wildcard-exports=false", "--disallow-bearer", "--expiry", "1y", "--start", "-1h",
		"--trace-context-subject", "trace.a", "--trace-context-sampling", "20")
	ac := accountClaims(t, c, "A")
	dp := ac.DefaultPermissions
	if !dp.Pub.Allow.Contains("a.>") || !dp.Sub.Deny.Contains("secret.>") || dp.Resp == nil || dp.Resp.MaxMsgs != 3 ||
		dp.Resp.Expires != 5*time.Second {
		t.Errorf("default permissions: %+v", dp)
	}
	if !ac.Tags.Contains("blue") || ac.Description != "d" || ac.InfoURL != "https://example.com/a" || ac.Limits.WildcardExports ||
		!ac.Limits.DisallowBearer || ac.Expires == 0 || ac.NotBefore == 0 || ac.Trace == nil || ac.Trace.Sampling != 20 {
		t.Errorf("account settings: %+v", ac)
	}
	c.must("edit", "account", "A", "--rm", "a.>", "--rm-response-perms", "--rm-tag", "blue", "--js-tier", "3",
		"--js-disk-storage", "1GB", "--js-max-ack-pending", "100", "--js-max-disk-stream", "10MB", "--js-max-bytes-required")
	ac = accountClaims(t, c, "A")
	r3 := ac.Limits.JetStreamTieredLimits["R3"]
	if ac.DefaultPermissions.Pub.Allow.Contains("a.>") || ac.DefaultPermissions.Resp != nil || len(ac.Tags) != 0 ||
		r3.DiskStorage != 1e9 || r3.MaxAckPending != 100 || r3.DiskMaxStreamBytes != 10e6 || !r3.MaxBytesRequired {
		t.Errorf("after edit: %+v %+v", ac, r3)
	}
	c.must("edit", "account", "A", "--rm-js-tier", "3")
	c.must("edit", "account", "A", "--js-enable", "1")
	if l := accountClaims(t, c, "A").Limits; len(l.JetStreamTieredLimits) != 1 || l.JetStreamTieredLimits["R1"].DiskStorage != -1 {
		t.Errorf("js-enable 1: %+v", l)
	}
	c.must("edit", "account", "A", "--js-disable")
	if accountClaims(t, c, "A").Limits.IsJSEnabled() {
		t.Error("JetStream still enabled after --js-disable")
	}

	kp, err := nkeys.CreateAccount()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	if out := c.must("add", "account", "-n", "Ext", "--public-key", pub); !strings.Contains(out, "added account Ext "+pub) ||
		!strings.Contains(out, "its seed is not here") {
		t.Errorf("add account --public-key output:\n%s", out)
	}
	if keys := c.must("list", "keys"); !regexp.MustCompile(`account +Ext +` + pub + ` +identity +no`).MatchString(keys) {
		t.Errorf("list keys does not show Ext's seed missing:\n%s", keys)
	}

	c.must("add", "user", "-a", "A", "-n", "u", "--subs", "10", "--data", "1MB", "--payload", "1K", "--conn-type", "mqtt,websocket",
		"--time", "08:00:00-17:00:00", "--time", "20:00:00-21:00:00", "--locale", "Europe/Berlin")
	u := userClaims(t, c, "A", "u")
	if u.Limits.Subs != 10 || u.Limits.Data != 1e6 || u.Limits.Payload != 1000 || len(u.AllowedConnectionTypes) != 2 ||
		len(u.Times) != 2 || u.Locale != "Europe/Berlin" {
		t.Errorf("user settings: %+v", u.UserPermissionLimits)
	}
	c.must("edit", "user", "u", "-a", "A", "--rm-conn-type", "MQTT", "--rm-time", "20:00:00")
	u = userClaims(t, c, "A", "u")
	if len(u.AllowedConnectionTypes) != 1 || u.AllowedConnectionTypes[0] != "WEBSOCKET" || len(u.Times) != 1 {
		t.Errorf("after rm: %+v", u.UserPermissionLimits)
	}
	out := c.must("describe", "user", "u", "-a", "A")
	for _, want := range []string{"Connection types", "WEBSOCKET", "08:00:00-17:00:00 Europe/Berlin"} {
		if !strings.Contains(out, want) {
			t.Errorf("describe user lacks %q:\n%s", want, out)
		}
	}
}

func TestSharingBadInputLeavesHomeUnchanged(t *testing.T) {
	c := sharingCLIHome(t)
	c.must("add", "user", "-a", "A", "-n", "u")
	tokC := filepath.Join(t.TempDir(), "c.jwt")
	c.must("generate", "activation", "-a", "A", "-t", "C", "-s", "feed.priv.>", "-o", tokC)
	expired := filepath.Join(t.TempDir(), "expired.jwt")
	writeExpiredActivation(t, c, "A", "B", "feed.priv.>", expired)
	// B imports A's service; A exports a service B could import back.
	c.must("add", "export", "-a", "B", "-s", "cyc.>", "--service")
	c.must("add", "import", "-a", "A", "--src-account", "B", "--remote-subject", "cyc.>", "--service")
	c.must("add", "export", "-a", "A", "-s", "cyc.>", "--service")
	const a = "A"
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"add", "export", "-a", a, "-s", "a..b"}, []string{"empty token"}},
		{[]string{"add", "export", "-a", a}, []string{"subject is required"}},
		{[]string{"add", "export", "-a", a, "-s", "x.*", "--private", "--account-token-position", "2"}, []string{"public exports only"}},
		{[]string{"add", "export", "-a", a, "-s", "x.y", "--account-token-position", "3"}, []string{"past the last token"}},
		{[]string{"add", "export", "-a", a, "-s", "x.y", "--account-token-position", "1"}, []string{"must point at a '*' token"}},
		{[]string{"add", "export", "-a", a, "-s", "x.y", "--account-token-position", "one"}, []string{"--account-token-position"}},
		{[]string{"add", "export", "-a", a, "-s", "feed.pub.x"}, []string{"overlaps the existing export"}},
		{[]string{"add", "export", "-a", a, "-s", "feed.pub.>"}, []string{"already exports"}},
		{[]string{"add", "export", "-a", a, "-s", "s1", "--service", "--response-type", "Many"}, []string{"response-type \"Many\""}},
		{[]string{"add", "export", "-a", a, "-s", "s1", "--service", "--latency", "lat"}, []string{"sampling rate"}},
		{[]string{"add", "export", "-a", a, "-s", "s1", "--service", "--latency", "lat", "--sampling", "0"}, []string{"percentage 1-100"}},
		{[]string{"add", "export", "-a", a, "-s", "s1", "--response-threshold", "5"}, []string{"--response-threshold"}},
		{[]string{"add", "export", "-a", a, "-s", "s1", "--info-url", "ftp://x"}, []string{"info-url"}},
		{[]string{"add", "export", "-a", "Nope", "-s", "s1"}, []string{`account "Nope" not found`}},
		{[]string{"edit", "export", "-a", a, "-s", "nope", "--private"}, []string{"has no export \"nope\""}},
		{[]string{"edit", "export", "-a", a, "-s", "feed.pub.>"}, []string{"nothing to change"}},
		{[]string{"delete", "export", "-a", a, "-s", "nope"}, []string{"has no export"}},
		{[]string{"add", "import", "-a", "C", "--src-account", a, "--remote-subject", "nothing.here"}, []string{"no stream export covering"}},
		{[]string{"add", "import", "-a", "C", "--src-account", a, "--remote-subject", "feed.priv.>"}, []string{"needs an activation token"}},
		{[]string{"add", "import", "-a", "B", "-u", tokC}, []string{"is for account", "not for B"}},
		{[]string{"add", "import", "-a", "B", "-u", expired}, []string{"expired"}},
		{[]string{"add", "import", "-a", "B", "-u", filepath.Join(t.TempDir(), "absent.jwt")}, []string{"read activation token"}},
		{[]string{"add", "import", "-a", "C"}, []string{"remote subject is required"}},
		{[]string{"add", "import", "-a", "C", "--src-account", "Nope", "--remote-subject", "x"}, []string{"neither an account of this home"}},
		{[]string{"add", "import", "-a", "C", "--src-account", a, "--remote-subject", "feed.pub.>", "-s", "l.$2"}, []string{"local subject"}},
		{[]string{"add", "import", "-a", "B", "--src-account", a, "--remote-subject", "cyc.>", "--service"}, []string{"import cycle"}},
		{[]string{"delete", "import", "-a", "B", "-s", "nope"}, []string{"has no import of \"nope\""}},
		{[]string{"generate", "activation", "-a", a, "-t", "C", "-s", "feed.pub.>"}, []string{"is public"}},
		{[]string{"generate", "activation", "-a", a, "-t", "Nope", "-s", "feed.priv.>"}, []string{"neither an account"}},
		{[]string{"generate", "activation", "-a", a, "-t", a, "-s", "feed.priv.>"}, []string{"to itself"}},
		{[]string{"generate", "activation", "-a", a, "-t", "C", "-s", "feed.priv.>", "--expiry", "3q"}, []string{"--expiry"}},
		{[]string{"generate", "activation", "-a", a, "-t", "C", "-s", "feed.priv.>", "--push"}, []string{"--account-server"}},
		{[]string{"generate", "activation", "-a", a, "-t", "C", "-s", "feed.priv.>", "--push", "--account-server", "ftp://x"}, []string{"http"}},
		{[]string{"revocations", "add-activation", "-a", a, "-s", "nope", "-t", "C"}, []string{"has no export"}},
		{[]string{"revocations", "add-activation", "-a", a, "-s", "feed.priv.>", "-t", "C", "--at", "soon"}, []string{"--at"}},
		{[]string{"revocations", "delete-activation", "-a", a, "-s", "feed.priv.>", "-t", "C"}, []string{"no revocation"}},
		{[]string{"add", "consumer-grant", "-a", a, "-t", a, "--stream", "S", "--consumer", "c"}, []string{"same account"}},
		{[]string{"add", "consumer-grant", "-a", a, "-t", "B", "--stream", "S.x", "--consumer", "c"}, []string{"may not contain"}},
		{[]string{"add", "consumer-grant", "-a", a, "--stream", "S", "--consumer", "c"}, []string{"target account is required"}},
		{[]string{"add", "consumer-grant", "-a", a, "-t", "B", "--stream", "S", "--consumer", "c", "--api-prefix", "$JS.API"}, []string{"api prefix"}},
		{[]string{"delete", "consumer-grant", "-a", a, "-t", "B", "--stream", "S", "--consumer", "c"}, []string{"imports none"}},
		// account settings
		{[]string{"edit", "account", a, "--js-tier", "2", "--js-disk-storage", "1G"}, []string{"js-tier 2"}},
		{[]string{"edit", "account", a, "--js-enable", "1", "--js-streams", "3"}, []string{"js-enable excludes"}},
		{[]string{"edit", "account", a, "--rm-js-tier", "3"}, []string{"no JetStream tier R3"}},
		{[]string{"edit", "account", a, "--trace-context-sampling", "50"}, []string{"needs a trace-context-subject"}},
		{[]string{"edit", "account", a, "--trace-context-subject", "t.*"}, []string{"wildcards"}},
		{[]string{"edit", "account", a, "--info-url", "ftp://x"}, []string{"info-url"}},
		{[]string{"edit", "account", a, "--disallow-bearer=maybe"}, []string{"--disallow-bearer", "true or false"}},
		{[]string{"edit", "account", a, "--start", "1d"}, []string{"in the future"}},
		{[]string{"edit", "account", a, "--expiry", "-1d"}, []string{"expiry"}},
		{[]string{"edit", "account", a, "--rm-tag", "none"}, []string{"no tag"}},
		{[]string{"edit", "account", a, "--wildcard-exports=false"}, []string{"wildcards; delete that export first"}},
		{[]string{"edit", "account", a, "--allow-pub", "a..b", "--js-max-mem-stream", "1XB"}, []string{"2 problems"}},
		{[]string{"add", "account", "-n", "K", "--public-key", "SAAB"}, []string{"account seed"}},
		{[]string{"add", "account", "-n", "K", "--public-key", "UAAB"}, []string{"not an account public key"}},
		// user settings
		{[]string{"add", "user", "-a", a, "-n", "x", "--conn-type", "FOO"}, []string{"unknown connection type"}},
		{[]string{"add", "user", "-a", a, "-n", "x", "--time", "25:00:00-26:00:00"}, []string{"not hh:mm:ss"}},
		{[]string{"add", "user", "-a", a, "-n", "x", "--time", "09:00"}, []string{"hh:mm:ss-hh:mm:ss"}},
		{[]string{"add", "user", "-a", a, "-n", "x", "--locale", "Mars/Base"}, []string{"IANA time zone"}},
		{[]string{"add", "user", "-a", a, "-n", "x", "--subs", "x", "--payload", "-2"}, []string{"2 problems", "--subs"}},
		{[]string{"edit", "user", "u", "-a", a, "--rm-time", "01:00:00"}, []string{"no time window"}},
		{[]string{"edit", "user", "u", "-a", a, "--rm-conn-type", "MQTT"}, []string{"does not list connection type"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			before := testkit.TreeHash(t, c.dir)
			out, _, err := c.run(tt.args...)
			if err == nil {
				t.Fatalf("succeeded, want an error; stdout:\n%s", out)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "SA") && regexp.MustCompile(`S[AOU][A-Z2-7]{50,}`).MatchString(err.Error()) {
				t.Errorf("error shows a seed: %v", err)
			}
			if after := testkit.TreeHash(t, c.dir); after != before {
				t.Errorf("the home changed")
			}
		})
	}
}

// writeExpiredActivation writes a token of account's private export for
// target that expired a minute ago, signed with the account's key.
func writeExpiredActivation(t *testing.T, c *cliHome, account, target, subject, path string) {
	t.Helper()
	h, err := authority.Open(c.dir)
	if err != nil {
		t.Fatal(err)
	}
	acc, err := h.Account(account)
	if err != nil {
		t.Fatal(err)
	}
	tgt, err := h.Account(target)
	if err != nil {
		t.Fatal(err)
	}
	kp, err := h.AccountSigner(acc.Pub)
	if err != nil {
		t.Fatal(err)
	}
	ac := jwt.NewActivationClaims(tgt.Pub)
	ac.ImportSubject, ac.ImportType = jwt.Subject(subject), jwt.Stream
	ac.IssuedAt = time.Now().Add(-time.Hour).Unix()
	ac.Expires = time.Now().Add(-time.Minute).Unix()
	tok, err := ac.Encode(kp)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(tok), 0o600); err != nil {
		t.Fatal(err)
	}
}

// A stand-in for the nats-account-server's activations API (POST
// <api>/activations, GET <api>/activations/<hash>): generate activation
// --push posts there, and add import -u reads the token back by URL.
func TestGenerateActivationPushAndImportByURL(t *testing.T) {
	c := newE2EHome(t) // the default store, which keeps the audit log
	c.must("add", "account", "-n", "A")
	c.must("add", "account", "-n", "C")
	c.must("add", "export", "-a", "A", "-s", "feed.priv.>", "--private")
	// natsauth's own account server, over the home's store, keeps it.
	as := startBackground(t, "account-server", "--home", c.dir, "--listen", "127.0.0.1:0")
	base := strings.TrimSuffix(as.wait(t, as.out, regexp.MustCompile(`listening on (\S+)`), time.Minute)[1], "/jwt/v1/accounts/")
	out := c.must("generate", "activation", "-a", "A", "-t", "C", "-s", "feed.priv.>", "--push", "--account-server", base)
	m := regexp.MustCompile(`natsauth add import -a C -u (\S+)`).FindStringSubmatch(out)
	if m == nil || !strings.HasPrefix(m[1], base+"/jwt/v1/activations/") {
		t.Fatalf("generate activation --push output:\n%s", out)
	}
	c.must("add", "import", "-a", "C", "-u", m[1], "-s", "from.a.>")
	var imps []describe.ImportRow
	mustJSON(t, c.must("list", "imports", "--json"), &imps)
	found := false
	for _, im := range imps {
		found = found || (im.Account == "C" && string(im.LocalSubject) == "from.a.>" && im.Token != "" && len(im.Problems) == 0)
	}
	if !found {
		t.Errorf("C's import by URL is missing: %+v", imps)
	}
	// The audit log records the grant and the import by the token's id,
	// never a JWT.
	entries := c.must("audit", "--json")
	if !strings.Contains(entries, `"generate activation"`) || !strings.Contains(entries, "with activation token ") ||
		strings.Contains(entries, "eyJ") {
		t.Errorf("audit of the activation:\n%s", entries)
	}
}

// mustJSON decodes s into v.
func mustJSON(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
}
