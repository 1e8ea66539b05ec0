package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// Placeholder until the master subcommand lands; the owner of this file replaces it.
func newMasterCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "master",
		Short: "(master: not built yet)",
		RunE: func(*cobra.Command, []string) error {
			return errors.New("master: not built yet")
		},
	}
}
