package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/hashfleet/hashfleet/internal/parts"
)

func newDoctorCmd() *cobra.Command {
	var require []string
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Say which optional integration parts (Docker, chromium, ZooKeeper, btcd, Mesos, ...) are present and how to get the others",
		Long: `doctor checks the optional parts the integration tests and some deployments use
(btcd, ZooKeeper, chromium, the Docker engine, docker compose, real Apache Mesos,
qemu-user), prints each one's version and where it is, and for the missing ones
how to install them. Run it from the source tree (btcd and Mesos are found
relative to it). It exits 0 unless --require names a part that is not usable.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
			defer cancel()
			statuses := parts.CheckAll(ctx)
			if err := parts.WriteReport(cmd.OutOrStdout(), statuses); err != nil {
				return err
			}
			bad, err := parts.Unusable(statuses, require)
			if err != nil {
				return err
			}
			if len(bad) > 0 {
				return fmt.Errorf("doctor: required integration parts not usable: %v", bad)
			}
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&require, "require", nil, "fail unless these parts are present (comma-separated part names, or all)")
	return cmd
}
