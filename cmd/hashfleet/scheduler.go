package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// Placeholder until the scheduler subcommand lands; the owner of this file replaces it.
func newSchedulerCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "scheduler",
		Short: "(scheduler: not built yet)",
		RunE: func(*cobra.Command, []string) error {
			return errors.New("scheduler: not built yet")
		},
	}
}
