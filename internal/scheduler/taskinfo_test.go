package scheduler

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashfleet/hashfleet/internal/mesos"
)

func TestTaskInfo(t *testing.T) {
	base := Config{NodeRPC: "http://10.0.0.2:18443", RPCUser: "rpc", RPCPassword: "pw-SECRET", Payout: "bcrt1qp69lntsjkuzccuwdgqskuuatgu7umyvrnhr4lv",
		BinaryURL: "http://sched:8090/bin/hashfleet", Master: "m:5050"}
	server := &Task{ID: "hashfleet-server-1", Role: RoleServer, AgentID: "a1", Hostname: "h1", Ports: []uint64{31000, 31005}, CPUs: 1, Mem: 256}
	worker := &Task{ID: "hashfleet-worker-1", Role: RoleWorker, AgentID: "a2", Hostname: "h2", CPUs: 2.5, Mem: 128,
		Server: "hashfleet-server-1", ServerAddr: "h1:31000"}
	tests := []struct {
		name        string
		mode        TaskMode
		network     mesos.DockerNetwork
		networkName string // DockerNetworkName (USER)
		noRPCPass   bool
		noHealth    bool
		listenHost  string // ServerListenHost
		task        *Task
		wantArgs    []string // must appear in order (as a sub-sequence) in the arguments
		wantValue   string
		wantHealth  uint32 // TCP health check port; 0 = none
		wantMapping []mesos.PortMapping
		wantNetInfo []mesos.NetworkInfo // ContainerInfo.network_infos
		wantEnv     []string            // NAME=value, in order; nil = no environment
		wantJSON    []string            // substrings of the TaskInfo's JSON
		wantURI     bool
	}{
		{name: "command server", mode: ModeCommand, task: server, wantValue: "./hashfleet", wantURI: true,
			wantArgs:   []string{"hashfleet", "server", "--node-rpc", "http://10.0.0.2:18443", "--payout", "bcrt1qp69lntsjkuzccuwdgqskuuatgu7umyvrnhr4lv", "--stratum-listen", "0.0.0.0:31000", "--http-listen", "0.0.0.0:31005"},
			wantHealth: 31000, wantEnv: []string{"HASHFLEET_RPC_PASSWORD=pw-SECRET"}},
		{name: "command server on loopback", mode: ModeCommand, listenHost: "127.0.0.1", task: server, wantValue: "./hashfleet", wantURI: true,
			wantArgs:   []string{"server", "--stratum-listen", "127.0.0.1:31000", "--http-listen", "127.0.0.1:31005"},
			wantHealth: 31000, wantEnv: []string{"HASHFLEET_RPC_PASSWORD=pw-SECRET"}},
		{name: "docker bridge server ignores the listen host", mode: ModeDocker, network: mesos.NetworkBridge, listenHost: "127.0.0.1", task: server,
			wantArgs:    []string{"server", "--stratum-listen", "0.0.0.0:3333", "--http-listen", "0.0.0.0:8080"},
			wantHealth:  3333,
			wantMapping: []mesos.PortMapping{{HostPort: 31000, ContainerPort: 3333, Protocol: "tcp"}, {HostPort: 31005, ContainerPort: 8080, Protocol: "tcp"}},
			wantEnv:     []string{"HASHFLEET_RPC_PASSWORD=pw-SECRET", "HASHFLEET_HEALTH_TCP=127.0.0.1:3333"}},
		{name: "docker host server on loopback", mode: ModeDocker, network: mesos.NetworkHost, listenHost: "127.0.0.1", task: server,
			wantArgs: []string{"server", "--stratum-listen", "127.0.0.1:31000", "--http-listen", "127.0.0.1:31005"}, wantHealth: 31000,
			wantEnv: []string{"HASHFLEET_RPC_PASSWORD=pw-SECRET", "HASHFLEET_HEALTH_TCP=127.0.0.1:31000"}},
		{name: "command server without health check", mode: ModeCommand, noHealth: true, task: server, wantValue: "./hashfleet", wantURI: true,
			wantArgs: []string{"server"}, wantEnv: []string{"HASHFLEET_RPC_PASSWORD=pw-SECRET"}},
		{name: "command server without RPC password", mode: ModeCommand, noRPCPass: true, task: server, wantValue: "./hashfleet", wantURI: true,
			wantArgs: []string{"server"}, wantHealth: 31000},
		{name: "command worker", mode: ModeCommand, task: worker, wantValue: "./hashfleet", wantURI: true,
			wantArgs: []string{"hashfleet", "worker", "-o", "stratum+tcp://h1:31000", "-u", "hashfleet.1", "-t", "2"}},
		{name: "docker bridge server", mode: ModeDocker, network: mesos.NetworkBridge, task: server,
			wantArgs:    []string{"server", "--stratum-listen", "0.0.0.0:3333", "--http-listen", "0.0.0.0:8080"},
			wantHealth:  3333,
			wantMapping: []mesos.PortMapping{{HostPort: 31000, ContainerPort: 3333, Protocol: "tcp"}, {HostPort: 31005, ContainerPort: 8080, Protocol: "tcp"}},
			wantEnv:     []string{"HASHFLEET_RPC_PASSWORD=pw-SECRET", "HASHFLEET_HEALTH_TCP=127.0.0.1:3333"}},
		{name: "docker host server", mode: ModeDocker, network: mesos.NetworkHost, task: server,
			wantArgs: []string{"server", "--stratum-listen", "0.0.0.0:31000"}, wantHealth: 31000,
			wantEnv: []string{"HASHFLEET_RPC_PASSWORD=pw-SECRET", "HASHFLEET_HEALTH_TCP=127.0.0.1:31000"}},
		{name: "docker user network server", mode: ModeDocker, network: mesos.NetworkUser, networkName: "hashfleet-net", task: server,
			wantArgs:    []string{"server", "--stratum-listen", "0.0.0.0:3333", "--http-listen", "0.0.0.0:8080"},
			wantHealth:  3333,
			wantMapping: []mesos.PortMapping{{HostPort: 31000, ContainerPort: 3333, Protocol: "tcp"}, {HostPort: 31005, ContainerPort: 8080, Protocol: "tcp"}},
			wantNetInfo: []mesos.NetworkInfo{{Name: "hashfleet-net"}},
			wantEnv:     []string{"HASHFLEET_RPC_PASSWORD=pw-SECRET", "HASHFLEET_HEALTH_TCP=127.0.0.1:3333"},
			wantJSON: []string{`"network":"USER","port_mappings":[{"host_port":31000,"container_port":3333,"protocol":"tcp"},{"host_port":31005,"container_port":8080,"protocol":"tcp"}]`,
				`"network_infos":[{"name":"hashfleet-net"}]`}},
		{name: "docker server without RPC password or health check", mode: ModeDocker, network: mesos.NetworkBridge, noRPCPass: true, noHealth: true, task: server,
			wantArgs:    []string{"server", "--stratum-listen", "0.0.0.0:3333"},
			wantMapping: []mesos.PortMapping{{HostPort: 31000, ContainerPort: 3333, Protocol: "tcp"}, {HostPort: 31005, ContainerPort: 8080, Protocol: "tcp"}},
			wantEnv:     []string{"HASHFLEET_HEALTH_TCP=127.0.0.1:3333"}},
		{name: "docker worker", mode: ModeDocker, network: mesos.NetworkBridge, task: worker,
			wantArgs: []string{"worker", "-o", "stratum+tcp://h1:31000", "-t", "2"}},
		{name: "docker user network worker", mode: ModeDocker, network: mesos.NetworkUser, networkName: "hashfleet-net", task: worker,
			wantArgs:    []string{"worker", "-o", "stratum+tcp://h1:31000", "-t", "2"},
			wantNetInfo: []mesos.NetworkInfo{{Name: "hashfleet-net"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base
			cfg.TaskMode, cfg.DockerNetwork, cfg.DockerNetworkName, cfg.NoHealthCheck = tc.mode, tc.network, tc.networkName, tc.noHealth
			cfg.ServerListenHost = tc.listenHost
			if tc.noRPCPass {
				cfg.RPCPassword = ""
			}
			if err := cfg.Validate(); err != nil {
				t.Fatalf("config: %v", err)
			}
			cfg = cfg.withDefaults()
			ti := cfg.taskInfo(tc.task)
			b, _ := json.Marshal(ti)
			js := string(b)
			if strings.Count(js, "pw-SECRET") > 1 || (tc.task.Role == RoleWorker && strings.Contains(js, "pw-SECRET")) {
				t.Fatalf("secret appears where it must not: %s", js)
			}
			for _, want := range tc.wantJSON {
				if !strings.Contains(js, want) {
					t.Fatalf("JSON: got %s, want it to contain %s", js, want)
				}
			}
			for _, a := range ti.Command.Arguments {
				if strings.Contains(a, "pw-SECRET") {
					t.Fatalf("secret in argv: %q", ti.Command.Arguments)
				}
			}
			if !subsequence(ti.Command.Arguments, tc.wantArgs) {
				t.Fatalf("arguments: got %q, want in order %q", ti.Command.Arguments, tc.wantArgs)
			}
			if ti.Command.IsShell() {
				t.Fatal("shell command; want shell=false")
			}
			gotValue := ""
			if ti.Command.Value != nil {
				gotValue = *ti.Command.Value
			}
			if gotValue != tc.wantValue {
				t.Fatalf("value: got %q, want %q", gotValue, tc.wantValue)
			}
			if got := len(ti.Command.URIs) == 1 && *ti.Command.URIs[0].Executable; got != tc.wantURI {
				t.Fatalf("executable URI: got %v, want %v", ti.Command.URIs, tc.wantURI)
			}
			var gotHealth uint32
			if ti.HealthCheck != nil {
				gotHealth = ti.HealthCheck.TCP.Port
			}
			if gotHealth != tc.wantHealth {
				t.Fatalf("health check port: got %d, want %d", gotHealth, tc.wantHealth)
			}
			if tc.mode == ModeDocker {
				if ti.Container == nil || ti.Container.Type != mesos.ContainerDocker || ti.Container.Docker.Image != "hashfleet:latest" {
					t.Fatalf("container: got %+v", ti.Container)
				}
				if !slices.Equal(ti.Container.Docker.PortMappings, tc.wantMapping) {
					t.Fatalf("port mappings: got %+v, want %+v", ti.Container.Docker.PortMappings, tc.wantMapping)
				}
				if got := ti.Container.Docker.NetworkOrDefault(); got != cfg.DockerNetwork {
					t.Fatalf("docker network: got %q, want %q", got, cfg.DockerNetwork)
				}
				if !slices.EqualFunc(ti.Container.NetworkInfos, tc.wantNetInfo, func(a, b mesos.NetworkInfo) bool { return a.Name == b.Name }) {
					t.Fatalf("network infos: got %+v, want %+v", ti.Container.NetworkInfos, tc.wantNetInfo)
				}
			} else if ti.Container != nil {
				t.Fatalf("command task with a container: %+v", ti.Container)
			}
			if tc.task.Role == RoleServer {
				ports := mesos.AllRanges(ti.Resources, mesos.ResPorts)
				if len(ports) != 2 || ports[0] != (mesos.ValueRange{Begin: 31000, End: 31000}) || ports[1] != (mesos.ValueRange{Begin: 31005, End: 31005}) {
					t.Fatalf("ports resource: got %+v", ports)
				}
			}
			var gotEnv []string
			if ti.Command.Environment != nil {
				for _, v := range ti.Command.Environment.Variables {
					if v.Type != mesos.EnvValue || v.Value == nil {
						t.Fatalf("environment variable %s: got type %q value %v, want a VALUE", v.Name, v.Type, v.Value)
					}
					gotEnv = append(gotEnv, v.Name+"="+*v.Value)
				}
			}
			if !slices.Equal(gotEnv, tc.wantEnv) {
				t.Fatalf("environment: got %q, want %q", gotEnv, tc.wantEnv)
			}
			if got := mesos.SumScalar(ti.Resources, mesos.ResCPUs); got != tc.task.CPUs {
				t.Fatalf("cpus: got %v, want %v", got, tc.task.CPUs)
			}
			if ti.KillPolicy.GracePeriod.Duration() != 10*time.Second {
				t.Fatalf("kill grace: got %v", ti.KillPolicy.GracePeriod.Duration())
			}
			if role, _ := ti.Labels.Get(LabelRole); role != string(tc.task.Role) {
				t.Fatalf("role label: got %q", role)
			}
		})
	}
}

func subsequence(have, want []string) bool {
	i := 0
	for _, h := range have {
		if i < len(want) && h == want[i] {
			i++
		}
	}
	return i == len(want)
}

func TestConfigValidate(t *testing.T) {
	ok := Config{Master: "m:5050", NodeRPC: "http://n", Payout: "bcrt1qp69lntsjkuzccuwdgqskuuatgu7umyvrnhr4lv", BinaryURL: "http://b"}
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{name: "valid", mutate: func(*Config) {}},
		{name: "no master", mutate: func(c *Config) { c.Master = "" }, want: "master"},
		{name: "embedded without detector", mutate: func(c *Config) { c.Master = "embedded" }, want: "hashfleet demo"},
		{name: "no node", mutate: func(c *Config) { c.NodeRPC = "" }, want: "node RPC"},
		{name: "no payout", mutate: func(c *Config) { c.Payout = "" }, want: "payout"},
		{name: "payout not an address", mutate: func(c *Config) { c.Payout = "bcrt1qexample" }, want: "--payout: btc: address: cannot decode"},
		{name: "payout of another network", mutate: func(c *Config) { c.Network = "testnet4" }, want: "not a testnet4 address"},
		{name: "unknown bitcoin network", mutate: func(c *Config) { c.Network = "testnet5" }, want: "unknown network"},
		{name: "command without binary", mutate: func(c *Config) { c.BinaryURL = "" }, want: "BinaryURL"},
		{name: "docker needs no binary", mutate: func(c *Config) { c.BinaryURL = ""; c.TaskMode = ModeDocker }},
		{name: "bad mode", mutate: func(c *Config) { c.TaskMode = "vm" }, want: "task mode"},
		{name: "bad network", mutate: func(c *Config) { c.TaskMode = ModeDocker; c.DockerNetwork = "NONE" }, want: "BRIDGE, HOST or USER"},
		{name: "user network with a name", mutate: func(c *Config) {
			c.TaskMode, c.DockerNetwork, c.DockerNetworkName = ModeDocker, mesos.NetworkUser, "hashfleet-net"
		}},
		{name: "user network without a name", mutate: func(c *Config) { c.TaskMode, c.DockerNetwork = ModeDocker, mesos.NetworkUser }, want: "needs a network name"},
		{name: "name with bridge", mutate: func(c *Config) {
			c.TaskMode, c.DockerNetwork, c.DockerNetworkName = ModeDocker, mesos.NetworkBridge, "hashfleet-net"
		}, want: "not BRIDGE"},
		{name: "name with the default network", mutate: func(c *Config) { c.TaskMode, c.DockerNetworkName = ModeDocker, "hashfleet-net" }, want: "not BRIDGE"},
		{name: "name with host", mutate: func(c *Config) {
			c.TaskMode, c.DockerNetwork, c.DockerNetworkName = ModeDocker, mesos.NetworkHost, "hashfleet-net"
		}, want: "not HOST"},
		{name: "name with command tasks", mutate: func(c *Config) { c.DockerNetworkName = "hashfleet-net" }, want: "needs task mode docker"},
		{name: "secret without principal", mutate: func(c *Config) { c.Secret = "s" }, want: "principal"},
		{name: "colon in principal", mutate: func(c *Config) { c.Principal = "a:b" }, want: "':'"},
		{name: "negative", mutate: func(c *Config) { c.Policy.MaxWorkers = -1 }, want: "negative"},
		{name: "worker bigger than cap", mutate: func(c *Config) { c.Policy.WorkerCPUs = 4; c.Policy.MaxCPUs = 2 }, want: "exceed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.mutate(&c)
			err := c.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
}

func TestFrameworkInfo(t *testing.T) {
	c := Config{Role: "mining", Principal: "p"}.withDefaults()
	fi := c.frameworkInfo("fw-1")
	if fi.ID == nil || fi.ID.Value != "fw-1" || !fi.Checkpoint || fi.FailoverTimeout != 7*24*3600 {
		t.Fatalf("got %+v", fi)
	}
	if !fi.HasCapability(mesos.CapPartitionAware) || !fi.HasCapability(mesos.CapMultiRole) || fi.Roles[0] != "mining" {
		t.Fatalf("capabilities/roles: got %+v %v", fi.Capabilities, fi.Roles)
	}
	d := Config{}.withDefaults()
	if fi := d.frameworkInfo(""); fi.ID != nil || fi.HasCapability(mesos.CapMultiRole) || fi.User == "" {
		t.Fatalf("default: got %+v", fi)
	}
}

func TestWorkerName(t *testing.T) {
	tests := []struct{ user, id, want string }{
		{user: "hashfleet", id: "hashfleet-worker-adff8db7b5b6bfb9", want: "hashfleet.adff8db7"},
		{user: "bcrt1qpay", id: "hashfleet-worker-1", want: "bcrt1qpay.1"},
		{user: "u", id: "plain", want: "u.plain"},
	}
	for _, tt := range tests {
		if got := workerName(tt.user, tt.id); got != tt.want {
			t.Errorf("workerName(%q, %q) = %q, want %q", tt.user, tt.id, got, tt.want)
		}
	}
}
