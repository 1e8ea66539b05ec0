package scheduler

import (
	"cmp"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/user"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hashfleet/hashfleet/internal/backoff"
	"github.com/hashfleet/hashfleet/internal/fleet"
	"github.com/hashfleet/hashfleet/internal/mesos"
)

// Config configures a Scheduler. Secrets (Secret, RPCPassword) are never
// logged, put in task arguments or served by the status API.
type Config struct {
	// Master is "host:port[,host:port…]", an http(s) URL, or
	// "zk://host:2181[,…]/mesos". Ignored when Detector is set (the demo
	// passes an in-process master's address this way).
	Master   string
	Detector mesos.Detector
	Scheme   string      // "http" (default) or "https" for host:port masters
	TLS      *tls.Config // for https masters
	// Principal and Secret: HTTP basic auth for the master (optional).
	Principal string
	Secret    string

	FrameworkName   string        // default "hashfleet"
	User            string        // FrameworkInfo.user; default the current user
	Role            string        // default "*" (no MULTI_ROLE)
	Hostname        string        // FrameworkInfo.hostname; default os.Hostname
	WebUIURL        string        // advertised status UI
	FailoverTimeout time.Duration // default 7 days

	// What the tasks run.
	NodeRPC     string // required: bitcoind/btcd/hashfleet node RPC URL, as reachable from agents
	RPCUser     string
	RPCPassword string // given to the server task only via its environment
	Payout      string // required: payout address
	Network     string // default "regtest"
	WorkerUser  string // Stratum user of the workers; default "hashfleet"

	TaskMode      TaskMode            // default ModeCommand
	BinaryURL     string              // ModeCommand: URI of the hashfleet binary (required there)
	Image         string              // ModeDocker: image; default "hashfleet:latest"
	DockerNetwork mesos.DockerNetwork // ModeDocker: BRIDGE (default), HOST or USER
	// DockerNetworkName is the user-defined Docker network of DockerNetwork
	// USER (required there, an error with any other network). It becomes
	// ContainerInfo.network_infos[0].name, which the agent runs the
	// container on (docker run --net=NAME); the server's ports are mapped
	// as with BRIDGE.
	DockerNetworkName string
	ForcePullImage    bool

	// ServerListenHost is the address the server task binds its Stratum
	// and HTTP ports on, where it shares the agent's network (command
	// tasks, Docker HOST): default "0.0.0.0", since workers on other agents
	// dial it; "127.0.0.1" keeps a one-machine setup (the demo) off the
	// network. A container with its own network namespace (BRIDGE, USER)
	// always binds 0.0.0.0 inside it; its port mappings decide the rest.
	ServerListenHost string

	// NoHealthCheck disables the server's TCP health check on its Stratum
	// port; with the check on (default), workers wait for healthy=true.
	NoHealthCheck  bool
	HealthDelay    time.Duration // default 2 s
	HealthInterval time.Duration // default 5 s
	HealthGrace    time.Duration // default 60 s
	KillGrace      time.Duration // kill policy grace period; default 10 s

	Policy PolicyConfig

	// State: a durable store. Default: StateURL (zk://…) if set, else a
	// file in StateDir (default "./hashfleet-scheduler").
	Store    Store
	StateDir string
	StateURL string

	ReconcileInterval time.Duration     // periodic implicit reconciliation; default 15 min
	LaunchTimeout     time.Duration     // no update for a launched task this long → explicit reconcile; default 2 min
	HeartbeatMisses   int               // watchdog; default 5
	Backoff           backoff.Backoff   // re-subscription backoff; default 0.5 s .. 15 s
	Transport         http.RoundTripper // optional, for tests

	Logger     *slog.Logger
	Registerer prometheus.Registerer // metrics; nil = not registered
}

// validateMaster checks what talking to the master needs.
func (c *Config) validateMaster() error {
	var errs []error
	if c.Master == "" && c.Detector == nil {
		errs = append(errs, errors.New("scheduler: a master (--master) is required"))
	}
	if c.Master == "embedded" && c.Detector == nil {
		errs = append(errs, errors.New(`scheduler: --master embedded needs an in-process master: use "hashfleet demo"`))
	}
	if strings.ContainsRune(c.Principal, ':') {
		errs = append(errs, errors.New("scheduler: principal must not contain ':'"))
	}
	if c.Principal == "" && c.Secret != "" {
		errs = append(errs, errors.New("scheduler: a secret needs a principal"))
	}
	return errors.Join(errs...)
}

// Validate checks the configuration without changing it.
func (c *Config) Validate() error {
	errs := []error{c.validateMaster()}
	if c.NodeRPC == "" {
		errs = append(errs, errors.New("scheduler: the node RPC URL (--node-rpc) is required"))
	}
	if c.Payout == "" {
		errs = append(errs, errors.New("scheduler: a payout address (--payout) is required"))
	} else if err := fleet.CheckPayout(c.Network, c.Payout); err != nil {
		errs = append(errs, fmt.Errorf("scheduler: %w", err))
	}
	switch c.TaskMode {
	case "", ModeCommand:
		if c.BinaryURL == "" {
			errs = append(errs, errors.New("scheduler: command tasks need BinaryURL (the scheduler serves it with --http-listen)"))
		}
		if c.DockerNetworkName != "" {
			errs = append(errs, errors.New("scheduler: a docker network name needs task mode docker with network USER"))
		}
	case ModeDocker:
		switch c.DockerNetwork {
		case "", mesos.NetworkBridge, mesos.NetworkHost:
			if c.DockerNetworkName != "" {
				errs = append(errs, fmt.Errorf("scheduler: docker network name %q: only network USER takes a name, not %s",
					c.DockerNetworkName, cmp.Or(c.DockerNetwork, mesos.NetworkBridge)))
			}
		case mesos.NetworkUser:
			if c.DockerNetworkName == "" {
				errs = append(errs, errors.New("scheduler: docker network USER needs a network name (--docker-network-name)"))
			}
		default:
			errs = append(errs, fmt.Errorf("scheduler: docker network %q: want BRIDGE, HOST or USER", c.DockerNetwork))
		}
	default:
		errs = append(errs, fmt.Errorf("scheduler: task mode %q: want command or docker", c.TaskMode))
	}
	if c.ServerListenHost != "" && net.ParseIP(c.ServerListenHost) == nil {
		errs = append(errs, fmt.Errorf("scheduler: server listen host %q: want an IP address (0.0.0.0, 127.0.0.1, …)", c.ServerListenHost))
	}
	p := c.Policy
	if p.WorkerCPUs < 0 || p.WorkerMem < 0 || p.MaxWorkers < 0 || p.MaxCPUs < 0 {
		errs = append(errs, errors.New("scheduler: worker sizes and caps must not be negative"))
	}
	if p.MaxCPUs > 0 && p.WorkerCPUs > p.MaxCPUs {
		errs = append(errs, fmt.Errorf("scheduler: worker cpus %.3g exceed max cpus %.3g", p.WorkerCPUs, p.MaxCPUs))
	}
	return errors.Join(errs...)
}

// withDefaults returns c with defaults filled in.
func (c Config) withDefaults() Config {
	if c.FrameworkName == "" {
		c.FrameworkName = "hashfleet"
	}
	if c.User == "" {
		if u, err := user.Current(); err == nil {
			c.User = u.Username
		} else {
			c.User = "root"
		}
	}
	if c.Role == "" {
		c.Role = "*"
	}
	if c.Hostname == "" {
		c.Hostname, _ = os.Hostname()
	}
	if c.FailoverTimeout <= 0 {
		c.FailoverTimeout = 7 * 24 * time.Hour
	}
	if c.Network == "" {
		c.Network = "regtest"
	}
	if c.WorkerUser == "" {
		c.WorkerUser = "hashfleet"
	}
	if c.TaskMode == "" {
		c.TaskMode = ModeCommand
	}
	if c.Image == "" {
		c.Image = "hashfleet:latest"
	}
	if c.DockerNetwork == "" {
		c.DockerNetwork = mesos.NetworkBridge
	}
	if c.ServerListenHost == "" {
		c.ServerListenHost = "0.0.0.0"
	}
	if c.HealthDelay <= 0 {
		c.HealthDelay = 2 * time.Second
	}
	if c.HealthInterval <= 0 {
		c.HealthInterval = 5 * time.Second
	}
	if c.HealthGrace <= 0 {
		c.HealthGrace = 60 * time.Second
	}
	if c.KillGrace <= 0 {
		c.KillGrace = 10 * time.Second
	}
	if c.StateDir == "" {
		c.StateDir = "hashfleet-scheduler"
	}
	if c.ReconcileInterval <= 0 {
		c.ReconcileInterval = 15 * time.Minute
	}
	if c.LaunchTimeout <= 0 {
		c.LaunchTimeout = 2 * time.Minute
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	c.Policy.RequireHealthy = !c.NoHealthCheck
	c.Policy = c.Policy.withDefaults()
	return c
}

// frameworkInfo returns the FrameworkInfo to subscribe with.
func (c *Config) frameworkInfo(id string) mesos.FrameworkInfo {
	fi := mesos.FrameworkInfo{
		User:            c.User,
		Name:            c.FrameworkName,
		FailoverTimeout: c.FailoverTimeout.Seconds(),
		Checkpoint:      true,
		Hostname:        c.Hostname,
		Principal:       c.Principal,
		WebUIURL:        c.WebUIURL,
		Capabilities: []mesos.FrameworkCapability{
			{Type: mesos.CapPartitionAware},
			{Type: mesos.CapTaskKillingState},
		},
		Labels: &mesos.Labels{Labels: []mesos.Label{{Key: "app", Value: "hashfleet"}}},
	}
	if c.Role != "*" {
		fi.Roles = []string{c.Role}
		fi.Capabilities = append(fi.Capabilities, mesos.FrameworkCapability{Type: mesos.CapMultiRole})
	}
	if id != "" {
		fi.ID = &mesos.FrameworkID{Value: id}
	}
	return fi
}
