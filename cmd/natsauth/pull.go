package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/natsauth/natsauth/manage"
	"github.com/spf13/cobra"
)

func init() { register("", newPullCmd) }

func newPullCmd(a *app) *cobra.Command {
	var f remoteFlags
	cmd := &cobra.Command{
		Use:   "pull (-a ACCOUNT | -A) [--server nats://HOST:4222]... [--account-server http://HOST:9090]...",
		Short: "Fetch account JWTs from servers into the home when they are newer, like nsc pull",
		Long: `Fetch the JWTs of the home's accounts from natsauth nodes and stock full-resolver
servers (--server: $SYS.REQ.ACCOUNT.<pubkey>.CLAIMS.LOOKUP, answered by every server of
the cluster) and from account servers (--account-server: GET /jwt/v1/accounts/<pubkey>).

Every fetched JWT is validated against the home's operator; the newest valid one replaces
the home's copy only when it was issued after it — the home never goes back to an older
JWT. Updated accounts are then published to the account-JWT store like any edit. Accounts
the servers have but the home does not are not imported. The command exits non-zero if a
server could not be asked or sent an invalid JWT.`,
		Example: `  natsauth pull -A --server nats://127.0.0.1:4222
  natsauth pull -a MyAccount --account-server http://127.0.0.1:9090`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.pull(cmd.Context(), f)
		},
	}
	f.bind(cmd.Flags(), "pull")
	return cmd
}

func (a *app) pull(ctx context.Context, f remoteFlags) error {
	names, err := f.accounts("pull")
	if err != nil {
		return err
	}
	if !f.all && len(names) == 0 {
		return fmt.Errorf("pull: which accounts? give -a ACCOUNT or -A (all)")
	}
	return a.withManager(func(m *manage.Manager) error {
		rep := manage.PrintReport(a.out, f.asJSON)
		_, res, err := m.Pull(ctx, f.remote, names, f.all, rep)
		if err != nil && len(rep.Answers) == 0 {
			return err // refused before asking anything
		}
		failed := rep.Finish(a.out, "pull", f.asJSON)
		if !f.asJSON {
			res.WriteText(a.out) // under --json the output stays one JSON document
		}
		return errors.Join(failed, err)
	})
}
