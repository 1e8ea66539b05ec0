package main

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// TestFlagUsageHasNoBackquotes walks every command's flags: pflag takes a
// back-quoted word in a usage string as the flag's argument name, so
// "as `hashfleet bench` does" would show as "--benchmark hashfleet bench".
func TestFlagUsageHasNoBackquotes(t *testing.T) {
	var walk func(c *cobra.Command)
	n := 0
	walk = func(c *cobra.Command) {
		check := func(f *pflag.Flag) {
			n++
			if strings.Contains(f.Usage, "`") {
				t.Errorf("%s --%s: usage %q has a backquote (pflag shows the quoted text as the argument name)", c.CommandPath(), f.Name, f.Usage)
			}
		}
		c.Flags().VisitAll(check)
		c.PersistentFlags().VisitAll(check)
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRootCmd())
	if n < 50 {
		t.Fatalf("walked only %d flags: the walk missed commands", n)
	}
}

// TestWorkerHelpBenchmark: the --benchmark line reads as a switch.
func TestWorkerHelpBenchmark(t *testing.T) {
	f := newWorkerCmd().Flags().Lookup("benchmark")
	if name, _ := pflag.UnquoteUsage(f); name != "" {
		t.Errorf("worker --benchmark shows an argument %q in --help, want none", name)
	}
}
