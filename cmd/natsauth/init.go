package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/describe"
	"github.com/natsauth/natsauth/manage"
)

func init() { register("", newInitCmd) }

// defaultOperatorName is the operator `natsauth init` creates without --name.
const defaultOperatorName = "natsauth"

func newInitCmd(a *app) *cobra.Command {
	var name string
	var ifAbsent bool
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create the operator, its signing key and the system account in the home",
		Long: `Create a natsauth home: an operator with an operator signing key, the system
account SYS (with nsc's two monitoring exports) and its user sys with a creds file.
The layout is nsc's: nsc --data-dir HOME/stores --keystore-dir HOME/keys reads it.
init refuses to overwrite an existing operator; with --if-absent it leaves an existing
home as it is and succeeds (for container start-up).`,
		Example: "  natsauth init --name MyOperator",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.managerConfig()
			if err != nil {
				return err
			}
			m, res, err := manage.Init(cmd.Context(), cfg, name)
			if errors.Is(err, authority.ErrExists) && ifAbsent {
				fmt.Fprintf(a.out, "home %s already has an operator: nothing to do\n", cfg.Home)
				return nil
			}
			if errors.Is(err, authority.ErrExists) {
				return fmt.Errorf("%w\n(to work with it, drop `init`; to start over, use another --home)", err)
			}
			if m == nil {
				return err
			}
			defer m.Close()
			describe.HomeCreated(a.out, m.Home())
			res.WriteText(a.out)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.out, "next: natsauth add account -n MyAccount\n")
			return nil
		},
	}
	cmd.Flags().StringVarP(&name, "name", "n", defaultOperatorName, "operator name")
	cmd.Flags().BoolVar(&ifAbsent, "if-absent", false, "succeed without changes when the home already has an operator")
	return cmd
}
