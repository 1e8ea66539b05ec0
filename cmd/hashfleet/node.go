package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// Placeholder until the node subcommand lands; the owner of this file replaces it.
func newNodeCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "node",
		Short: "(node: not built yet)",
		RunE: func(*cobra.Command, []string) error {
			return errors.New("node: not built yet")
		},
	}
}
