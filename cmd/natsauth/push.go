package main

import (
	"context"
	"fmt"

	"github.com/natsauth/natsauth/manage"
	"github.com/spf13/cobra"
)

func init() { register("", newPushCmd) }

type pushFlags struct {
	remoteFlags
	prune bool
}

func newPushCmd(a *app) *cobra.Command {
	var f pushFlags
	cmd := &cobra.Command{
		Use:   "push (-a ACCOUNT | -A | --prune) [--server nats://HOST:4222]... [--account-server http://HOST:9090]...",
		Short: "Send account JWTs from the home to servers, like nsc push",
		Long: `Send account JWTs from the home to:

  --server nats://…          natsauth nodes and stock nats-servers with a full resolver,
                             over the system account ($SYS.REQ.CLAIMS.UPDATE, as nsc push);
                             every server of the cluster answers, and each answer is reported
  --account-server http://…  account servers (POST /jwt/v1/accounts/<pubkey>)

--prune then deletes, from every --server, the accounts it stores that the home does not
have: it lists them ($SYS.REQ.CLAIMS.LIST) and sends a delete request signed by the
operator signing key ($SYS.REQ.CLAIMS.DELETE), exactly as nsc push --prune does. The
servers must allow deletes (allow_delete: true; natsauth serve --allow-delete). The
system account is never deleted.

NATS requests use the home's system user (--creds to pick another). The command exits
non-zero if any server refused or did not answer.`,
		Example: `  natsauth push -A --server nats://127.0.0.1:4222
  natsauth push -a MyAccount --account-server http://127.0.0.1:9090
  natsauth push -A --prune --server nats://n1:4222 --server nats://n2:4222`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.push(cmd.Context(), f)
		},
	}
	f.bind(cmd.Flags(), "push")
	cmd.Flags().BoolVarP(&f.prune, "prune", "P", false,
		"delete from every --server the accounts the home does not have (operator-signed)")
	return cmd
}

func (a *app) push(ctx context.Context, f pushFlags) error {
	names, err := f.accounts("push")
	if err != nil {
		return err
	}
	if !f.all && len(names) == 0 && !f.prune {
		return fmt.Errorf("push: which accounts? give -a ACCOUNT, -A (all) or --prune")
	}
	return a.withManager(func(m *manage.Manager) error {
		rep := manage.PrintReport(a.out, f.asJSON)
		if err := m.Push(ctx, f.remote, names, f.all, f.prune, rep); err != nil {
			return err
		}
		return rep.Finish(a.out, "push", f.asJSON)
	})
}
