package callout_test

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsauth/natsauth/audit"

	"github.com/natsauth/natsauth/callout"
	"github.com/natsauth/natsauth/internal/oidctest"
)

func registerOps(op *oidctest.Provider) {
	op.Register(oidctest.Client{ID: "orders-svc", Secret: "s3cret-orders", Subject: "u42", Audience: []string{"nats"},
		Claims: map[string]any{"groups": []any{"ops", "blue"}, "email": "u42@example.com"}})
}

func TestOIDCTokenSignsInWithTemplatedPermissions(t *testing.T) {
	for _, o := range []envOpts{{}, {signingKey: true}} {
		name := "identity key"
		if o.signingKey {
			name = "signing key"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, o)
			svc, reg := e.service(nil)
			registerOps(e.op)
			tok := e.op.MustToken(t, "orders-svc", "s3cret-orders")

			nc := e.mustConnect(nats.Token(tok))
			ui := whoami(t, nc)
			if ui.Account != e.app.Pub {
				t.Fatalf("placed in %s, want APP %s", ui.Account, e.app.Pub)
			}
			if got := strings.Join(ui.Permissions.Publish.Allow, ","); !strings.Contains(got, "orders.u42.>") || !strings.Contains(got, "teams.ops.>") {
				t.Errorf("publish allow = %s", got)
			}
			if ui.Expires <= 0 || ui.Expires > time.Hour {
				t.Errorf("user expires in %v, want within the 1h ttl", ui.Expires)
			}

			// Enforced by the server: a watcher in APP (plain creds) sees
			// what is allowed and never what is refused.
			creds := e.home.CredsPath("APP", "watcher")
			w := e.mustConnect(nats.UserCredentials(creds))
			sub, err := w.SubscribeSync(">")
			if err != nil {
				t.Fatal(err)
			}
			w.Flush()
			_, lastErr := closedWith(nc)
			if err := nc.Publish("orders.u42.new", []byte("ok")); err != nil {
				t.Fatal(err)
			}
			if err := nc.Publish("orders.u7.new", []byte("not mine")); err != nil {
				t.Fatal(err)
			}
			nc.Flush()
			if err := nc.Publish("teams.ops.x", []byte("team")); err != nil {
				t.Fatal(err)
			}
			nc.Flush()
			var got []string
			for {
				m, err := sub.NextMsg(500 * time.Millisecond)
				if err != nil {
					break
				}
				if !strings.HasPrefix(m.Subject, "$SYS") && !strings.HasPrefix(m.Subject, "_INBOX") {
					got = append(got, m.Subject)
				}
			}
			if strings.Join(got, ",") != "orders.u42.new,teams.ops.x" {
				t.Errorf("delivered %v, want the two allowed subjects only", got)
			}
			eventually(t, "permissions violation reported", func() bool {
				err := lastErr()
				return err != nil && strings.Contains(strings.ToLower(err.Error()), "permissions violation")
			})
			if counter(t, reg, "allowed", "ok") < 1 {
				t.Error("allowed decision not counted")
			}
			// Audited: who, which rule, which account, expiry.
			entries, _ := e.audit.Read(t.Context(), audit.Query{})
			found := false
			for _, en := range entries {
				if en.Action == callout.ActionIssue && en.Account == e.app.Pub && strings.Contains(en.Detail, "rule ops") &&
					strings.Contains(en.Detail, "oidc:corp:u42") && strings.Contains(en.Detail, "expires") {
					found = true
				}
				if strings.Contains(en.String(), tok) {
					t.Error("audit entry holds the token")
				}
			}
			if !found {
				t.Errorf("no audit entry of the issued user in %v", entries)
			}
			if strings.Contains(e.logs.String(), tok) {
				t.Error("the log holds the token")
			}
			if s := svc.Stats(); s.Live < 1 {
				t.Errorf("live = %d", s.Live)
			}
		})
	}
}

func TestOIDCRefusals(t *testing.T) {
	e := newEnv(t, envOpts{})
	_, reg := e.service(nil)
	registerOps(e.op)
	e.op.Register(oidctest.Client{ID: "other-app", Secret: "s3cret-other", Subject: "u42", Audience: []string{"billing"},
		Claims: map[string]any{"groups": []any{"ops"}}})
	e.op.Register(oidctest.Client{ID: "brief", Secret: "s3cret-brief", Subject: "u43", Audience: []string{"nats"},
		Claims: map[string]any{"groups": []any{"ops"}}, Lifetime: 5 * time.Second})
	e.op.Register(oidctest.Client{ID: "early", Secret: "s3cret-early", Subject: "u44", Audience: []string{"nats"},
		Claims: map[string]any{"groups": []any{"ops"}}, Skew: -10 * time.Minute})
	e.op.Register(oidctest.Client{ID: "nogroup", Secret: "s3cret-nogroup", Subject: "u45", Audience: []string{"nats"},
		Claims: map[string]any{"groups": []any{"sales"}}})
	foreign := oidctest.Start(t)
	foreign.Register(oidctest.Client{ID: "orders-svc", Secret: "s3cret-orders", Subject: "u42", Audience: []string{"nats"},
		Claims: map[string]any{"groups": []any{"ops"}}})

	good := e.op.MustToken(t, "orders-svc", "s3cret-orders")
	tampered := tamper(t, good)
	cases := []struct {
		name, token, reason string
	}{
		{"wrong audience", e.op.MustToken(t, "other-app", "s3cret-other"), callout.ReasonWrongAudience},
		{"not yet valid", e.op.MustToken(t, "early", "s3cret-early"), callout.ReasonNotYetValid},
		{"foreign issuer", foreign.MustToken(t, "orders-svc", "s3cret-orders"), callout.ReasonUnknownIssuer},
		{"forged: foreign key, our issuer", reissue(t, foreign.MustToken(t, "orders-svc", "s3cret-orders"), e.op.Issuer), callout.ReasonInvalidToken},
		{"tampered signature", tampered, callout.ReasonInvalidToken},
		{"not a jwt", "opaque-token-123", callout.ReasonInvalidToken},
		{"no rule matches", e.op.MustToken(t, "nogroup", "s3cret-nogroup"), callout.ReasonNoMatch},
	}
	for _, c := range cases {
		before := counter(t, reg, "refused", c.reason)
		e.refused(c.name, nats.Token(c.token))
		if after := counter(t, reg, "refused", c.reason); after != before+1 {
			t.Errorf("%s: refused{reason=%s} went %v → %v, want +1", c.name, c.reason, before, after)
		}
	}
	// Expired: the token worked, then its exp passed.
	expired := e.op.MustToken(t, "brief", "s3cret-brief")
	e.mustConnect(nats.Token(expired)).Close()
	time.Sleep(time.Until(tokenExpiry(t, expired).Add(1100 * time.Millisecond)))
	before := counter(t, reg, "refused", callout.ReasonExpired)
	e.refused("expired token", nats.Token(expired))
	if after := counter(t, reg, "refused", callout.ReasonExpired); after != before+1 {
		t.Errorf("expired: counter %v → %v", before, after)
	}
	// No credentials at all: the sentinel goes to the callout, refused.
	e.refused("no credentials")
	if counter(t, reg, "refused", callout.ReasonNoCredentials) < 1 {
		t.Error("no_credentials not counted")
	}
	logs := e.logs.String()
	for _, c := range cases {
		if len(c.token) > 20 && strings.Contains(logs, c.token) {
			t.Errorf("%s: the log holds the token", c.name)
		}
	}
	if !strings.Contains(logs, "reason=wrong_audience") || !strings.Contains(logs, "reason=unknown_issuer") {
		t.Errorf("refusal reasons not logged:\n%s", logs)
	}
	// The good token still works after all that.
	e.mustConnect(nats.Token(good)).Close()
}

func TestOIDCProviderKeyRotationFollowedWithoutRestart(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.service(nil)
	registerOps(e.op)
	old := e.op.MustToken(t, "orders-svc", "s3cret-orders")
	e.mustConnect(nats.Token(old)).Close()
	oldKid := e.op.KeyID()
	if err := e.op.Rotate(true); err != nil {
		t.Fatal(err)
	}
	if e.op.KeyID() == oldKid {
		t.Fatal("key did not rotate")
	}
	fresh := e.op.MustToken(t, "orders-svc", "s3cret-orders")
	if kid(t, fresh) == kid(t, old) {
		t.Fatal("the new token is signed with the old key")
	}
	e.mustConnect(nats.Token(fresh)).Close()
	e.mustConnect(nats.Token(old)).Close() // still in the provider's key set
	// A second rotation, old key dropped: new tokens still work.
	if err := e.op.Rotate(false); err != nil {
		t.Fatal(err)
	}
	e.mustConnect(nats.Token(e.op.MustToken(t, "orders-svc", "s3cret-orders"))).Close()
}

// tamper changes the token's payload (sub) and keeps its signature.
func tamper(t *testing.T, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	payload = []byte(strings.Replace(string(payload), `"sub":"u42"`, `"sub":"u99"`, 1))
	parts[1] = base64.RawURLEncoding.EncodeToString(payload)
	return strings.Join(parts, ".")
}

// reissue rewrites the token's iss (its signature no longer matches).
func reissue(t *testing.T, tok, iss string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(payload), `"iss":"`)
	j := strings.Index(string(payload)[i+7:], `"`)
	payload = []byte(string(payload)[:i+7] + iss + string(payload)[i+7+j:])
	parts[1] = base64.RawURLEncoding.EncodeToString(payload)
	return strings.Join(parts, ".")
}

// tokenExpiry reads a token's exp.
func tokenExpiry(t *testing.T, tok string) time.Time {
	t.Helper()
	payload, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Exp int64 `json:"exp"`
	}
	if err := json.Unmarshal(payload, &c); err != nil || c.Exp == 0 {
		t.Fatalf("token exp: %v", err)
	}
	return time.Unix(c.Exp, 0)
}

func kid(t *testing.T, tok string) string {
	t.Helper()
	h, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	s := string(h)
	i := strings.Index(s, `"kid":"`)
	if i < 0 {
		return ""
	}
	return strings.SplitN(s[i+7:], `"`, 2)[0]
}
