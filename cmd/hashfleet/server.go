package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// Placeholder until the server subcommand lands; the owner of this file replaces it.
func newServerCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "server",
		Short: "(server: not built yet)",
		RunE: func(*cobra.Command, []string) error {
			return errors.New("server: not built yet")
		},
	}
}
