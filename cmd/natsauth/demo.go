package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/spf13/cobra"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/manage"
	"github.com/natsauth/natsauth/node"
	"github.com/natsauth/natsauth/store"
)

func init() { register("", newDemoCmd) }

const demoAccount = manage.WalkthroughAccount

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
	cfg, err := a.managerConfig()
	if err != nil {
		return err
	}
	m, made, err := manage.EnsureWalkthrough(ctx, cfg)
	if err != nil {
		return err
	}
	h := m.Home()
	m.Close()
	f.server.JetStream = true
	ncfg, err := a.nodeConfig(f)
	if err != nil {
		return err
	}
	n, err := node.New(ctx, ncfg)
	if err != nil {
		return err
	}
	defer n.Close()
	if err := n.Start(ctx); err != nil {
		return err
	}
	stopResponder, err := manage.StartWalkthroughResponder(n.ClientURL(), h.CredsPath(demoAccount, "responder"))
	if err != nil {
		return err
	}
	defer stopResponder()
	printDemo(a.out, h, made, n)
	return runUntilSignal(ctx, n, ncfg.Logger.Info)
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
	fmt.Fprintf(w, "\nnats-server %s is running on %s", server.VERSION, url)
	if addr := n.Server().MonitorAddr(); addr != nil {
		fmt.Fprintf(w, ", monitoring on http://%s", addr)
	}
	fmt.Fprintf(w, ", JetStream on, store %s\n\nUsers of %s (creds files, 0600):\n", store.Redact(n.StoreURL()), demoAccount)
	for _, u := range manage.WalkthroughUsers() {
		fmt.Fprintf(w, "  %-10s %s\n             %s\n", u.Name, u.About, h.CredsPath(demoAccount, u.Name))
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
	self := selfCommand()
	fmt.Fprintf(w, "  %s --home %s edit account %s --max-payload 512K\n", self, shellQuote(h.Dir()), demoAccount)
	fmt.Fprintf(w, "  %s --home %s revocations add-user -a %s -n bob\n", self, shellQuote(h.Dir()), demoAccount)
	fmt.Fprintf(w, "\nPress Ctrl-C to stop.\n")
}

// selfCommand is how to run this natsauth from a shell: the binary's own
// path, or `go run ./cmd/natsauth` when it was built by go run (a
// temporary binary that is gone when the demo stops).
func selfCommand() string {
	exe, err := os.Executable()
	if err != nil || strings.Contains(exe, string(filepath.Separator)+"go-build") {
		return "go run ./cmd/natsauth"
	}
	return shellQuote(exe)
}

func shellQuote(s string) string {
	for _, r := range s {
		if !(r == '/' || r == '.' || r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return "'" + filepath.ToSlash(s) + "'"
		}
	}
	return s
}
