// Command hashfleet is a distributed Bitcoin mining system: a Mesos framework
// that runs a Stratum miner server and SHA-256d miner workers, plus an
// embedded regtest node and an embedded Mesos-compatible master for running
// everything on one machine.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "hashfleet:", err)
		os.Exit(1)
	}
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "hashfleet",
		Short:         "Distributed Bitcoin mining on Mesos: scheduler, Stratum server, CPU workers",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newVersionCmd(),
		newDemoCmd(),
		newSchedulerCmd(),
		newServerCmd(),
		newWorkerCmd(),
		newBenchCmd(),
		newNodeCmd(),
		newAddressCmd(),
		newMasterCmd(),
		newProbeCmd(),
		newDoctorCmd(),
		newLoadgenCmd(),
	)
	return root
}
