package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"github.com/natsauth/natsauth/audit"
	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/node"
)

func init() { register("", newDemoCmd) }

// Names the demo creates: the walkthrough's.
const (
	demoOperator = "MyOperator"
	demoAccount  = "MyAccount"
)

// demoUser is one user of the walkthrough with its permissions.
type demoUser struct {
	name, about string
	edit        authority.UserEdit
}

func demoUsers() []demoUser {
	return []demoUser{
		{"alice", "publishes orders.>, receives orders.alice.>, may answer requests",
			authority.UserEdit{AllowPub: []string{"orders.>"}, AllowSub: []string{"orders.alice.>", "_INBOX.>"}, RespMax: intp(1)}},
		{"bob", "publishes and receives inventory.>, but not inventory.delete",
			authority.UserEdit{AllowPubSub: []string{"inventory.>"}, DenyPub: []string{"inventory.delete"}}},
		{"admin", "publishes and receives everything (>)",
			authority.UserEdit{AllowPubSub: []string{">"}}},
		{"responder", "answers requests on orders.status",
			authority.UserEdit{AllowSub: []string{"orders.status"}, RespMax: intp(1), RespTTL: durp(5 * time.Second)}},
	}
}

func intp(v int) *int                     { return &v }
func durp(v time.Duration) *time.Duration { return &v }

// demoLimits are the walkthrough's account limits plus JetStream.
func demoLimits() authority.AccountEdit {
	return authority.AccountEdit{
		Conns: authority.Int64(1000), Data: authority.Int64(10_000_000_000), Exports: authority.Int64(10),
		Imports: authority.Int64(10), Payload: authority.Int64(1_000_000), Subs: authority.Int64(1000),
		JSMemStorage: authority.Int64(256_000_000), JSDiskStorage: authority.Int64(1_000_000_000),
		JSStreams: authority.Int64(10), JSConsumer: authority.Int64(100),
	}
}

func newDemoCmd(a *app) *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Set up the walkthrough (operator, MyAccount, alice/bob/admin) and serve it",
		Long: `Create, if absent, the walkthrough's operator, account MyAccount with its limits and
JetStream, and users alice, bob, admin and responder with their permissions; write their
creds; start nats-server on 127.0.0.1:4222 with monitoring on 8222 and JetStream; answer
requests on orders.status; and print commands to try it. Ctrl-C stops it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.demo(cmd.Context(), f)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.server.Host, "addr", "a", "127.0.0.1", "client listen host")
	fl.IntVarP(&f.server.Port, "port", "p", 4222, "client port (-1 for a random port)")
	fl.IntVarP(&f.server.HTTPPort, "http_port", "m", 8222, "monitoring port (-1 for a random port)")
	return cmd
}

func (a *app) demo(ctx context.Context, f serveFlags) error {
	dir, err := a.home()
	if err != nil {
		return err
	}
	h, made, err := demoAuthority(dir)
	if err != nil {
		return err
	}
	a.audit(ctx, h, demoAudit(h, made)...)
	f.server.JetStream = true
	cfg, err := a.nodeConfig(ctx, f)
	if err != nil {
		return err
	}
	n, err := node.New(ctx, cfg)
	if err != nil {
		return err
	}
	defer n.Close()
	if err := n.Start(ctx); err != nil {
		return err
	}
	stopResponder, err := startDemoResponder(n.ClientURL(), h.CredsPath(demoAccount, "responder"))
	if err != nil {
		return err
	}
	defer stopResponder()
	printDemo(a.out, h, made, n)
	return runUntilSignal(ctx, n, cfg.Logger.Info)
}

// demoAudit is the audit entries of what demoAuthority made.
func demoAudit(h *authority.Home, made []string) []audit.Entry {
	var out []audit.Entry
	for _, m := range made {
		switch {
		case strings.HasPrefix(m, "operator "):
			sys, _ := h.Account(authority.SystemAccountName)
			out = append(out, accountChange(audit.ActionInit, nil, sys, m))
		case strings.HasPrefix(m, "account "):
			if acc, err := h.Account(strings.TrimPrefix(m, "account ")); err == nil {
				out = append(out, accountChange(audit.ActionAddAccount, nil, acc, "demo"))
			}
		case strings.HasPrefix(m, "user "):
			if u, err := h.User(demoAccount, strings.TrimPrefix(m, "user ")); err == nil {
				out = append(out, userChange(audit.ActionAddUser, nil, u, "demo"))
			}
		}
	}
	return out
}

// demoAuthority creates what is missing of the walkthrough's setup and
// reports what it made.
func demoAuthority(dir string) (*authority.Home, []string, error) {
	var made []string
	h, err := authority.Open(dir)
	if errors.Is(err, authority.ErrNoHome) {
		if h, err = authority.Init(dir, demoOperator); err != nil {
			return nil, nil, err
		}
		made = append(made, "operator "+demoOperator+" with system account SYS")
	} else if err != nil {
		return nil, nil, err
	}
	if _, err := h.Account(demoAccount); err != nil {
		if _, err := h.AddAccount(demoAccount, demoLimits()); err != nil {
			return nil, nil, err
		}
		made = append(made, "account "+demoAccount)
	}
	for _, u := range demoUsers() {
		if _, err := h.User(demoAccount, u.name); err == nil {
			continue
		}
		if _, err := h.AddUser(demoAccount, u.name, u.edit); err != nil {
			return nil, nil, err
		}
		made = append(made, "user "+u.name)
	}
	for _, u := range demoUsers() {
		if _, err := os.Stat(h.CredsPath(demoAccount, u.name)); err != nil {
			return nil, nil, fmt.Errorf("creds of %s: %w", u.name, err)
		}
	}
	return h, made, nil
}

// startDemoResponder answers requests on orders.status as the walkthrough's
// request-reply server does.
func startDemoResponder(url, creds string) (func(), error) {
	nc, err := nats.Connect(url, nats.UserCredentials(creds), nats.Name("natsauth-demo-responder"))
	if err != nil {
		return nil, fmt.Errorf("demo responder: %w", err)
	}
	_, err = nc.Subscribe("orders.status", func(m *nats.Msg) {
		_ = m.Respond([]byte(fmt.Sprintf("order %s: shipped", m.Data)))
	})
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("demo responder: %w", err)
	}
	return nc.Close, nc.Flush()
}

func printDemo(w io.Writer, h *authority.Home, made []string, n *node.Node) {
	if len(made) == 0 {
		fmt.Fprintf(w, "Using the existing walkthrough setup in %s\n", h.Dir())
	} else {
		fmt.Fprintf(w, "Created in %s:\n", h.Dir())
		for _, m := range made {
			fmt.Fprintf(w, "  - %s\n", m)
		}
	}
	url := n.ClientURL()
	fmt.Fprintf(w, "\nnats-server %s is running on %s", serverVersion(), url)
	if addr := n.Server().MonitorAddr(); addr != nil {
		fmt.Fprintf(w, ", monitoring on http://%s", addr)
	}
	fmt.Fprintf(w, ", JetStream on, store %s\n\nUsers of %s (creds files, 0600):\n", redactURL(n.StoreURL()), demoAccount)
	for _, u := range demoUsers() {
		fmt.Fprintf(w, "  %-10s %s\n             %s\n", u.name, u.about, h.CredsPath(demoAccount, u.name))
	}
	creds := func(u string) string { return shellQuote(h.CredsPath(demoAccount, u)) }
	fmt.Fprintf(w, "\nTry it with the nats CLI:\n")
	fmt.Fprintf(w, "  nats -s %s sub --creds=%s 'orders.alice.>'\n", url, creds("alice"))
	fmt.Fprintf(w, "  nats -s %s pub --creds=%s orders.alice.1 'Order #123'\n", url, creds("admin"))
	fmt.Fprintf(w, "  nats -s %s req --creds=%s orders.status 123\n", url, creds("alice"))
	fmt.Fprintf(w, "  nats -s %s pub --creds=%s inventory.delete x    # denied\n", url, creds("bob"))
	if addr := n.Server().MonitorAddr(); addr != nil {
		fmt.Fprintf(w, "  curl http://%s/connz\n", addr)
	}
	fmt.Fprintf(w, "\nChange something while it runs (applied live):\n")
	fmt.Fprintf(w, "  go run ./cmd/natsauth --home %s edit account %s --max-payload 512K\n", shellQuote(h.Dir()), demoAccount)
	fmt.Fprintf(w, "  go run ./cmd/natsauth --home %s revocations add-user -a %s -n bob\n", shellQuote(h.Dir()), demoAccount)
	fmt.Fprintf(w, "\nPress Ctrl-C to stop.\n")
}

func shellQuote(s string) string {
	for _, r := range s {
		if !(r == '/' || r == '.' || r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return "'" + filepath.ToSlash(s) + "'"
		}
	}
	return s
}

func serverVersion() string { return server.VERSION }
