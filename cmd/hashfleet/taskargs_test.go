package main

import (
	"strings"
	"testing"

	"github.com/hashfleet/hashfleet/internal/mesos"
	"github.com/hashfleet/hashfleet/internal/scheduler"
)

// TestTaskCommandLinesParse builds the command lines the scheduler gives
// its server and worker tasks, in every task mode, and parses each with
// this binary's real flag sets: every flag must exist and take its value,
// nothing may be left over, the values must be the scheduler's, and the
// RPC password must not be among them.
func TestTaskCommandLinesParse(t *testing.T) {
	server := &scheduler.Task{ID: "hashfleet-server-1", Role: scheduler.RoleServer, AgentID: "a1", Hostname: "h1",
		Ports: []uint64{31000, 31005}, CPUs: 1, Mem: 256}
	worker := &scheduler.Task{ID: "hashfleet-worker-1", Role: scheduler.RoleWorker, AgentID: "a2", Hostname: "h2",
		CPUs: 2.5, Mem: 128, Server: "hashfleet-server-1", ServerAddr: "h1:31000"}
	modes := []struct {
		name    string
		mode    scheduler.TaskMode
		network mesos.DockerNetwork
		rpcUser string
	}{
		{name: "command", mode: scheduler.ModeCommand, rpcUser: "rpc"},
		{name: "command without RPC user", mode: scheduler.ModeCommand},
		{name: "docker bridge", mode: scheduler.ModeDocker, network: mesos.NetworkBridge, rpcUser: "rpc"},
		{name: "docker host", mode: scheduler.ModeDocker, network: mesos.NetworkHost},
		{name: "docker user", mode: scheduler.ModeDocker, network: mesos.NetworkUser, rpcUser: "rpc"},
	}
	for _, m := range modes {
		cfg := scheduler.Config{NodeRPC: "http://10.0.0.2:18443", RPCUser: m.rpcUser, RPCPassword: "pw-SECRET",
			Payout: "bcrt1qp69lntsjkuzccuwdgqskuuatgu7umyvrnhr4lv", Network: "regtest", BinaryURL: "http://sched:8090/bin/hashfleet", Master: "m:5050",
			TaskMode: m.mode, Image: "hashfleet:test", DockerNetwork: m.network, DockerNetworkName: "net1",
			ServerListenHost: "0.0.0.0", WorkerUser: "hashfleet"}
		for _, task := range []*scheduler.Task{server, worker} {
			t.Run(m.name+"/"+string(task.Role), func(t *testing.T) {
				args := cfg.CommandLine(task)
				flags := parseTaskArgs(t, args, string(task.Role))
				want := map[string]string{"log-format": "json"}
				if task.Role == scheduler.RoleServer {
					want["node-rpc"], want["payout"], want["network"] = cfg.NodeRPC, cfg.Payout, cfg.Network
					want["rpc-user"] = cfg.RPCUser
				} else {
					want["url"], want["user"], want["threads"] = "[stratum+tcp://h1:31000]", "hashfleet.1", "2"
				}
				for name, w := range want {
					if got := flags[name]; got != w {
						t.Errorf("--%s: got %q, want %q (args %q)", name, got, w, args)
					}
				}
				for _, a := range args {
					if strings.Contains(a, "pw-SECRET") {
						t.Errorf("the RPC password is in the task's arguments: %q", args)
					}
				}
			})
		}
	}
}

// parseTaskArgs finds args' subcommand in the real command tree, checks it
// is want, parses the flags with its flag set and returns the values of
// those that were set.
func parseTaskArgs(t *testing.T, args []string, want string) map[string]string {
	t.Helper()
	sub, rest, err := newRootCmd().Find(args)
	if err != nil {
		t.Fatalf("%q: %v", args, err)
	}
	if sub.Name() != want {
		t.Fatalf("%q runs %q, want %q", args, sub.Name(), want)
	}
	if err := sub.ParseFlags(rest); err != nil {
		t.Fatalf("%q: %s's flags: %v", args, want, err)
	}
	if left := sub.Flags().Args(); len(left) > 0 {
		t.Fatalf("%q: arguments left after the flags: %q", args, left)
	}
	set := map[string]string{}
	for _, a := range rest {
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") {
			continue
		}
		f := sub.Flags().Lookup(name)
		if f == nil {
			f = sub.Flags().ShorthandLookup(name)
		}
		if f == nil {
			t.Fatalf("%q: no flag %s", args, a)
		}
		set[f.Name] = f.Value.String()
	}
	return set
}
