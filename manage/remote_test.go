package manage_test

import (
	"context"
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
