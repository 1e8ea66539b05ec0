package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// Placeholder until the worker subcommand lands; the owner of this file replaces it.
func newWorkerCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "worker",
		Short: "(worker: not built yet)",
		RunE: func(*cobra.Command, []string) error {
			return errors.New("worker: not built yet")
		},
	}
}
