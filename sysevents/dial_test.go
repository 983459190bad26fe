package sysevents_test

import (
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/natsauth/natsauth/sysevents"
)

// startServer runs a server with a system account SYS (user sys) and an
// application account APP (user app) on port.
func startServer(t *testing.T, port int) *server.Server {
	t.Helper()
	sys, app := server.NewAccount("SYS"), server.NewAccount("APP")
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: port, NoLog: true, NoSigs: true,
		Accounts: []*server.Account{sys, app}, SystemAccount: "SYS",
		Users: []*server.User{{Username: "sys", Password: "pw", Account: sys}, {Username: "app", Password: "pw", Account: app}}})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	return s
}

// A follower dialed with Dial sees connects, and hears of losing and
// regaining its server.
func TestDialFollowsAcrossARestart(t *testing.T) {
	s := startServer(t, -1)
	url, port := s.ClientURL(), s.Addr().(*net.TCPAddr).Port
	if _, err := sysevents.Dial("nats://127.0.0.1:1", nats.UserInfo("sys", "pw"), sysevents.DialOptions{}); err == nil {
		t.Fatal("dialed a closed port")
	}
	lost, back := make(chan error, 4), make(chan string, 4)
	nc, err := sysevents.Dial(url, nats.UserInfo("sys", "pw"), sysevents.DialOptions{Name: "test follower",
		OnDisconnect: func(err error) { lost <- err }, OnReconnect: func(u string) { back <- u }})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	recs := make(chan sysevents.Record, 16)
	stop, err := sysevents.Follow(nc, func(r sysevents.Record) { recs <- r })
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	app, err := nats.Connect(url, nats.UserInfo("app", "pw"))
	if err != nil {
		t.Fatal(err)
	}
	app.Close()
	select {
	case r := <-recs:
		if r.Type != "connect" {
			t.Errorf("first record %+v, want a connect", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no connect event")
	}
	s.Shutdown()
	s.WaitForShutdown()
	select {
	case <-lost:
	case <-time.After(5 * time.Second):
		t.Fatal("the lost connection was not reported")
	}
	s2 := startServer(t, port)
	defer s2.Shutdown()
	select {
	case u := <-back:
		if u != url {
			t.Errorf("reconnected to %s, want %s", u, url)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no reconnect")
	}
}
