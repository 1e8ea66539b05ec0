package main

import (
	"context"
	"strings"
	"testing"
)

// TestSchedulerBackendFlags: a flag the chosen backend does not read is an
// error, not silently ignored; an unknown backend is refused.
func TestSchedulerBackendFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "mesos flag with kubernetes", args: []string{"--backend", "kubernetes", "--master", "m:5050", "--state-dir", "x"}, want: "--master, --state-dir not used by --backend kubernetes"},
		{name: "kubernetes flag with mesos", args: []string{"--namespace", "mining"}, want: "--namespace not used by --backend mesos"},
		{name: "unknown backend", args: []string{"--backend", "nomad"}, want: `--backend "nomad": want mesos or kubernetes`},
		{name: "missing kubeconfig", args: []string{"--backend", "kubernetes", "--kubeconfig", "/nonexistent/kubeconfig"}, want: "kubernetes client config"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := newRootCmd()
			root.SetArgs(append([]string{"scheduler"}, tt.args...))
			err := root.ExecuteContext(context.Background())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
}
