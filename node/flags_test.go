package node

import (
	"context"
	"strings"
	"testing"
	"time"
)

// Bad ports, cluster and route URLs are refused by New with a message that
// names the flag, before nats-server sees them (it panics on some routes
// and waits 10 s for a listener that cannot exist on a bad port).
func TestNodeRefusesBadServerFlags(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flags ServerFlags
		want  []string
	}{
		{"port too large", ServerFlags{Host: "127.0.0.1", Port: 99999}, []string{"-p", "invalid port 99999"}},
		{"port negative", ServerFlags{Host: "127.0.0.1", Port: -5}, []string{"-p", "invalid port -5"}},
		{"monitor port too large", ServerFlags{Host: "127.0.0.1", Port: -1, HTTPPort: 70000}, []string{"-m", "invalid port 70000"}},
		{"routes of colons", ServerFlags{Host: "127.0.0.1", Port: -1, Cluster: "nats://127.0.0.1:14248", Routes: "::::"}, []string{"--routes", `"::::"`}},
		{"route without port", ServerFlags{Host: "127.0.0.1", Port: -1, Cluster: "nats://127.0.0.1:14248", Routes: "nats://127.0.0.1:4248,nats://h"}, []string{"--routes", "nats://h", "port"}},
		{"route with bad port", ServerFlags{Host: "127.0.0.1", Port: -1, Cluster: "nats://127.0.0.1:14248", Routes: "nats://h:123456"}, []string{"--routes", "invalid port"}},
		{"route with other scheme", ServerFlags{Host: "127.0.0.1", Port: -1, Cluster: "nats://127.0.0.1:14248", Routes: "http://h:4248"}, []string{"--routes", "scheme"}},
		{"cluster of colons", ServerFlags{Host: "127.0.0.1", Port: -1, Cluster: "::::"}, []string{"--cluster", `"::::"`}},
		{"cluster bad port", ServerFlags{Host: "127.0.0.1", Port: -1, Cluster: "nats://127.0.0.1:99999"}, []string{"--cluster", "invalid port 99999"}},
		{"every problem at once", ServerFlags{Host: "127.0.0.1", Port: 99999, Cluster: "::::", Routes: "::::"}, []string{"-p", "--cluster", "--routes"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			cfg := f.config(t)
			cfg.Flags = tc.flags
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			var err error
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Fatalf("New panicked: %v", p)
					}
				}()
				var n *Node
				n, err = New(ctx, cfg)
				if err == nil {
					defer n.Close()
					func() {
						defer func() {
							if p := recover(); p != nil {
								t.Fatalf("Start panicked: %v", p)
							}
						}()
						err = n.Start(ctx)
					}()
					if err == nil {
						t.Fatalf("New and Start accepted %+v", tc.flags)
					}
					t.Fatalf("New accepted %+v; Start then failed: %v", tc.flags, err)
				}
			}()
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// Good flags pass the check: random ports, a route list with spaces.
func TestServerFlagsCheckAcceptsGoodValues(t *testing.T) {
	for _, f := range []ServerFlags{
		{},
		{Port: -1, HTTPPort: -1},
		{Port: 4222, HTTPPort: 8222, Cluster: "nats://127.0.0.1:6222", Routes: "nats://a:6222, nats://b:6223"},
		{Cluster: "nats://0.0.0.0:-1"},
		{Cluster: "nats://[::1]:6222", Routes: "nats-route://u:p@[::1]:6223"},
	} {
		if err := f.Check(); err != nil {
			t.Errorf("Check(%+v) = %v", f, err)
		}
	}
}

// A boolean flag given as false still overrides the config file.
func TestServerFlagsMarkGiven(t *testing.T) {
	var f ServerFlags
	given := map[string]bool{"js": true, "debug": true, "port": true}
	f.MarkGiven(func(name string) bool { return given[name] })
	args := strings.Join(f.args(""), " ")
	for _, want := range []string{"-js=false", "-D=false"} {
		if !strings.Contains(args, want) {
			t.Errorf("args %q lack %q", args, want)
		}
	}
	for _, not := range []string{"tlsverify", "-V="} {
		if strings.Contains(args, not) {
			t.Errorf("args %q have %q, which was not given", args, not)
		}
	}
}
