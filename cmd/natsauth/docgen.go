package main

import (
	"github.com/spf13/cobra"

	"github.com/natsauth/natsauth/internal/clidoc"
)

func init() { register("", newDocgenCmd) }

func newDocgenCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:    "docgen",
		Short:  "Print the configuration reference (docs/reference.md) generated from the command tree",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return clidoc.Write(a.out, cmd.Root())
		},
	}
}
