package main

import (
	"context"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/spf13/cobra"

	"github.com/natsauth/natsauth/manage"
	"github.com/natsauth/natsauth/node"
)

func init() { register("", newDemoCmd) }

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
	stopResponder, err := manage.StartWalkthroughResponder(n.ClientURL(), h.CredsPath(manage.WalkthroughAccount, "responder"))
	if err != nil {
		return err
	}
	defer stopResponder()
	g := manage.WalkthroughGuide{Home: h, Made: made, ServerVersion: server.VERSION, ClientURL: n.ClientURL(), StoreURL: n.StoreURL()}
	if addr := n.Server().MonitorAddr(); addr != nil {
		g.MonitorAddr = addr.String()
	}
	g.WriteText(a.out)
	n.RunUntil(ctx)
	return nil
}
