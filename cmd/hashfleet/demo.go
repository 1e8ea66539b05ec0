package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// Placeholder until the demo subcommand lands; the owner of this file replaces it.
func newDemoCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "demo",
		Short: "(demo: not built yet)",
		RunE: func(*cobra.Command, []string) error {
			return errors.New("demo: not built yet")
		},
	}
}
