package manage_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/natsauth/natsauth/manage"
)

// SystemConnector dials the home's running serve when no server is named,
// the named servers otherwise, and says why when none is reachable.
func TestSystemConnector(t *testing.T) {
	cfg := newHome(t)
	m := open(t, cfg)
	ctx := context.Background()
	connect := m.SystemConnector(manage.Remote{}, "test")
	if _, err := connect(ctx); err == nil || !strings.Contains(err.Error(), "no running natsauth serve") {
		t.Fatalf("without a serve: %v", err)
	}
	n := serve(t, cfg.Home, "")
	nc, err := connect(ctx)
	if err != nil {
		t.Fatalf("with a serve: %v", err)
	}
	if nc.ConnectedUrl() != n.ClientURL() {
		t.Errorf("connected to %s, want %s", nc.ConnectedUrl(), n.ClientURL())
	}
	nc.Close()
	named := m.SystemConnector(manage.Remote{Servers: []string{"nats://127.0.0.1:1", n.ClientURL()}}, "test")
	if nc, err = named(ctx); err != nil {
		t.Fatalf("second named server: %v", err)
	}
	nc.Close()
	down := m.SystemConnector(manage.Remote{Servers: []string{"nats://127.0.0.1:1"}}, "test")
	if _, err := down(ctx); err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("down server: %v", err)
	}
}

// An answer reads as one line; a report encodes as {"ok", "results"}.
func TestAnswerAndReportRendering(t *testing.T) {
	for _, c := range []struct {
		a    manage.Answer
		want string
	}{
		{manage.Answer{Op: "push", Account: "A", Target: "nats://h:4222", Server: "n1", ServerID: "NID", OK: true, Message: "jwt updated"},
			"push A nats://h:4222: server n1 (NID): ok: jwt updated"},
		{manage.Answer{Op: "prune", Target: "nats://h:4222", Server: "NID", ServerID: "NID", Code: 500, Message: "denied"},
			"prune nats://h:4222: server NID: FAILED (500): denied"},
		{manage.Answer{Op: "pull", Account: "A", Target: "http://as/jwt/v1", OK: true}, "pull A http://as/jwt/v1: ok"},
	} {
		if got := c.a.String(); got != c.want {
			t.Errorf("String() = %q, want %q", got, c.want)
		}
	}
	b, err := json.Marshal(&manage.Report{})
	if err != nil || string(b) != `{"ok":true,"results":[]}` {
		t.Errorf("empty report: %s %v", b, err)
	}
	rep := &manage.Report{Answers: []manage.Answer{{Op: "push", Target: "t", OK: true}, {Op: "push", Target: "u"}}}
	b, _ = json.Marshal(rep)
	var back struct {
		OK      bool            `json:"ok"`
		Results []manage.Answer `json:"results"`
	}
	if err := json.Unmarshal(b, &back); err != nil || back.OK || len(back.Results) != 2 || back.Results[1].Target != "u" {
		t.Errorf("report with a failure: %s", b)
	}
}
