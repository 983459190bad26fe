package doctor

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/store"
	"github.com/natsauth/natsauth/store/mem"
)

// CheckStores names the store in findings only when there are several, and
// keeps what it found before a store that cannot be read.
func TestCheckStores(t *testing.T) {
	h := initHome(t)
	if _, err := h.AddAccount("A", authority.AccountEdit{}); err != nil {
		t.Fatal(err)
	}
	open := func() store.Store {
		st := store.Wrap(mem.New(), store.Options{Policy: h.Policy()})
		t.Cleanup(func() { st.Close() })
		return st
	}
	ctx := context.Background()
	one, err := CheckStores(ctx, h, []Store{{URL: "mem://one", Store: open()}}, Options{})
	if err != nil || len(one) == 0 {
		t.Fatal(one, err)
	}
	for _, f := range one {
		if strings.Contains(f.Object, " in ") {
			t.Errorf("one store named in %q", f.Object)
		}
	}
	two, err := CheckStores(ctx, h, []Store{{URL: "mem://one", Store: open()}, {URL: "mem://two", Store: open()}}, Options{})
	if err != nil || len(two) != 2*len(one) {
		t.Fatal(len(two), err)
	}
	if !strings.HasSuffix(two[0].Object, " in mem://one") || !strings.HasSuffix(two[len(two)-1].Object, " in mem://two") {
		t.Errorf("objects %q, %q", two[0].Object, two[len(two)-1].Object)
	}
	closed := open()
	closed.Close()
	got, err := CheckStores(ctx, h, []Store{{URL: "mem://one", Store: open()}, {URL: "mem://closed", Store: closed}}, Options{})
	if err == nil || !strings.HasPrefix(err.Error(), "mem://closed: ") || len(got) != len(one) {
		t.Errorf("closed store: %d findings, %v", len(got), err)
	}
}

// VarzOverNATS gets every server's varz over the system account;
// FetchMonitors reads monitoring URLs and says which could not be read.
func TestVarzOverNATSAndFetchMonitors(t *testing.T) {
	sys := server.NewAccount("SYS")
	opts := &server.Options{Host: "127.0.0.1", Port: -1, HTTPHost: "127.0.0.1", HTTPPort: -1, NoLog: true, NoSigs: true,
		Accounts: []*server.Account{sys}, SystemAccount: "SYS",
		Users: []*server.User{{Username: "sys", Password: "pw", Account: sys}}}
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	defer s.Shutdown()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	nc, err := nats.Connect(s.ClientURL(), nats.UserInfo("sys", "pw"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctx := context.Background()
	vs, err := VarzOverNATS(ctx, nc, 300*time.Millisecond)
	if err != nil || len(vs) != 1 || vs[0].Source != s.ID() || vs[0].Varz.ID != s.ID() {
		t.Fatalf("varz over NATS: %v %+v", err, vs)
	}
	mon := "http://" + s.MonitorAddr().String()
	vs, errs := FetchMonitors(ctx, []string{mon, mon + "/nope"})
	if len(vs) != 1 || vs[0].Source != mon || vs[0].Varz.ID != s.ID() {
		t.Errorf("monitors: %+v", vs)
	}
	if len(errs) != 1 || !strings.Contains(errors.Join(errs...).Error(), "/nope") {
		t.Errorf("monitor errors: %v", errs)
	}
}

// Run checks the home, its stores and its servers in order, and lists
// what it could not check in that order too.
func TestRun(t *testing.T) {
	h := initHome(t)
	if _, err := h.AddAccount("A", authority.AccountEdit{}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var calls []string
	run := Run{
		Stores: func(context.Context) ([]Store, error) {
			calls = append(calls, "stores")
			st := store.Wrap(mem.New(), store.Options{Policy: h.Policy()})
			t.Cleanup(func() { st.Close() })
			return []Store{{URL: "mem://", Store: st}}, nil
		},
		Servers: func(context.Context) ([]SourcedVarz, error) {
			calls = append(calls, "servers")
			return []SourcedVarz{{Source: "NSRV", Varz: &Varz{ID: "NSRV", Host: "0.0.0.0"}}}, errors.New("server n2 did not answer VARZ")
		},
		Monitors: []string{"http://127.0.0.1:1"},
	}
	rep, incomplete, err := run.Check(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(calls, ",") != "stores,servers" {
		t.Errorf("calls %v", calls)
	}
	checks := map[string]bool{}
	for _, f := range rep.Findings {
		checks[f.Check] = true
	}
	if !checks[CheckStoreMissing] || !checks[CheckServerTLS] || len(rep.Servers) != 1 || rep.Summary["high"] == 0 {
		t.Errorf("report: servers %v, summary %v, checks %v", rep.Servers, rep.Summary, checks)
	}
	if len(incomplete) != 2 || !strings.Contains(incomplete[0].Error(), "n2") || !strings.Contains(incomplete[1].Error(), "127.0.0.1:1") {
		t.Errorf("incomplete: %v", incomplete)
	}
	run.Stores = func(context.Context) ([]Store, error) { return nil, errors.New("store down") }
	if _, incomplete, _ := run.Check(ctx, h); len(incomplete) != 3 || incomplete[0].Error() != "store down" {
		t.Errorf("a store that cannot be opened: %v", incomplete)
	}
}
