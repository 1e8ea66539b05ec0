package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// Placeholder until the bench subcommand lands; the owner of this file replaces it.
func newBenchCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "bench",
		Short: "(bench: not built yet)",
		RunE: func(*cobra.Command, []string) error {
			return errors.New("bench: not built yet")
		},
	}
}
