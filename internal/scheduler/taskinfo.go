package scheduler

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/hashfleet/hashfleet/internal/fleet"
	"github.com/hashfleet/hashfleet/internal/mesos"
)

// TaskMode selects how tasks run.
type TaskMode string

// Task modes.
const (
	// ModeCommand runs the hashfleet binary fetched from BinaryURL.
	ModeCommand TaskMode = "command"
	// ModeDocker runs the hashfleet image under the Docker containerizer.
	ModeDocker TaskMode = "docker"
)

// Container ports of the server inside a BRIDGE- or USER-networked
// container (its own network namespace, ports mapped from the host).
const (
	ContainerStratumPort = 3333
	ContainerHTTPPort    = 8080
)

// Label keys set on every task.
const (
	LabelRole   = "hashfleet.role"
	LabelServer = "hashfleet.server"
)

// EnvRPCPassword is how the node RPC password reaches the server task.
const EnvRPCPassword = fleet.EnvRPCPassword

// EnvHealthTCP is read by `hashfleet probe`, the image's HEALTHCHECK: the
// address, inside the container, that must accept a TCP connection. Docker
// server tasks get their Stratum port. (Its sibling HASHFLEET_HEALTH_URL
// would suit a worker's --api-listen, but worker tasks run without one, so
// they get neither and the probe reports them healthy.)
const EnvHealthTCP = "HASHFLEET_HEALTH_TCP"

// newTaskID returns a fresh, unique task id for role.
func newTaskID(role Role) string {
	var b [8]byte
	rand.Read(b[:])
	return "hashfleet-" + string(role) + "-" + hex.EncodeToString(b[:])
}

// roleOfID infers the role of a task from its id (for unknown tasks).
func roleOfID(id string) Role {
	switch {
	case strings.HasPrefix(id, "hashfleet-server-"):
		return RoleServer
	case strings.HasPrefix(id, "hashfleet-worker-"):
		return RoleWorker
	}
	return ""
}

func ptr[T any](v T) *T { return &v }

// taskInfo builds the TaskInfo for a task the policy asked for.
func (c *Config) taskInfo(t *Task) mesos.TaskInfo {
	ti := mesos.TaskInfo{
		Name:    "hashfleet-" + string(t.Role),
		TaskID:  mesos.TaskID{Value: t.ID},
		AgentID: mesos.AgentID{Value: t.AgentID},
		Resources: []mesos.Resource{
			mesos.ScalarResource(mesos.ResCPUs, t.CPUs),
			mesos.ScalarResource(mesos.ResMem, t.Mem),
		},
		KillPolicy: &mesos.KillPolicy{GracePeriod: mesos.NewDurationInfo(c.KillGrace)},
		Labels:     &mesos.Labels{Labels: []mesos.Label{{Key: LabelRole, Value: string(t.Role)}}},
	}
	var args []string
	var env []mesos.EnvVariable
	switch t.Role {
	case RoleServer:
		ti.Resources = append(ti.Resources, mesos.PortsResource(t.Ports...))
		args, env = c.serverCommand(t)
		ti.HealthCheck = c.serverHealthCheck(t)
	case RoleWorker:
		args = fleet.WorkerArgs(t.ServerAddr, workerName(c.WorkerUser, t.ID), t.CPUs)
		ti.Labels.Labels = append(ti.Labels.Labels, mesos.Label{Key: LabelServer, Value: t.Server})
	}
	cmd := &mesos.CommandInfo{Shell: ptr(false)}
	if len(env) > 0 {
		cmd.Environment = &mesos.Environment{Variables: env}
	}
	switch c.TaskMode {
	case ModeDocker:
		// docker run … image args…: the image's ENTRYPOINT is hashfleet.
		cmd.Arguments = args
		ti.Container = c.dockerContainer(t)
	default:
		cmd.URIs = []mesos.CommandURI{{Value: c.BinaryURL, Executable: ptr(true), Extract: ptr(false), OutputFile: "hashfleet"}}
		cmd.Value = ptr("./hashfleet")
		cmd.Arguments = append([]string{"hashfleet"}, args...)
	}
	ti.Command = cmd
	return ti
}

// portsMapped reports whether a Docker task has its own network namespace
// and the server's offered ports are mapped to its fixed container ports.
func (c *Config) portsMapped() bool {
	return c.TaskMode == ModeDocker && (c.DockerNetwork == mesos.NetworkBridge || c.DockerNetwork == mesos.NetworkUser)
}

// serverListen is where the server task listens, as the task sees it: its
// offered ports on ServerListenHost, or the fixed container ports on all
// addresses when they are mapped.
func (c *Config) serverListen(t *Task) (host string, stratumPort, httpPort uint64) {
	if c.portsMapped() {
		return "0.0.0.0", ContainerStratumPort, ContainerHTTPPort
	}
	return c.ServerListenHost, t.Ports[0], t.Ports[1]
}

// serverCommand is the server task's arguments and environment: the RPC
// password only in the environment, never in argv; in Docker, the address
// the image's HEALTHCHECK (hashfleet probe) dials from inside the
// container's network namespace.
func (c *Config) serverCommand(t *Task) ([]string, []mesos.EnvVariable) {
	host, stratumPort, httpPort := c.serverListen(t)
	args := fleet.ServerArgs(fleet.Server{NodeRPC: c.NodeRPC, RPCUser: c.RPCUser, Payout: c.Payout, Network: c.Network,
		StratumListen: joinHostPort(host, stratumPort), HTTPListen: joinHostPort(host, httpPort)})
	var env []mesos.EnvVariable
	if c.RPCPassword != "" {
		env = append(env, mesos.EnvVariable{Name: EnvRPCPassword, Type: mesos.EnvValue, Value: ptr(c.RPCPassword)})
	}
	if c.TaskMode == ModeDocker {
		env = append(env, mesos.EnvVariable{Name: EnvHealthTCP, Type: mesos.EnvValue,
			Value: ptr(net.JoinHostPort("127.0.0.1", strconv.FormatUint(stratumPort, 10)))})
	}
	return args, env
}

// serverHealthCheck is the TCP check of the server's Stratum port; nil
// with NoHealthCheck.
func (c *Config) serverHealthCheck(t *Task) *mesos.HealthCheck {
	if c.NoHealthCheck {
		return nil
	}
	_, stratumPort, _ := c.serverListen(t)
	return &mesos.HealthCheck{
		Type:                mesos.HealthTCP,
		TCP:                 &mesos.TCPCheckInfo{Port: uint32(stratumPort)},
		DelaySeconds:        ptr(c.HealthDelay.Seconds()),
		IntervalSeconds:     ptr(c.HealthInterval.Seconds()),
		TimeoutSeconds:      ptr(5.0),
		ConsecutiveFailures: ptr(uint32(3)),
		GracePeriodSeconds:  ptr(c.HealthGrace.Seconds()),
	}
}

// dockerContainer is the ContainerInfo of a Docker task: the image, the
// network and, for a server with mapped ports, its port mappings.
func (c *Config) dockerContainer(t *Task) *mesos.ContainerInfo {
	dk := &mesos.DockerInfo{Image: c.Image, Network: c.DockerNetwork, ForcePullImage: c.ForcePullImage}
	if c.portsMapped() && t.Role == RoleServer {
		// With USER too, the Docker containerizer takes the mappings
		// from DockerInfo (NetworkInfo.port_mappings is for CNI).
		dk.PortMappings = []mesos.PortMapping{
			{HostPort: uint32(t.Ports[0]), ContainerPort: ContainerStratumPort, Protocol: "tcp"},
			{HostPort: uint32(t.Ports[1]), ContainerPort: ContainerHTTPPort, Protocol: "tcp"},
		}
	}
	ci := &mesos.ContainerInfo{Type: mesos.ContainerDocker, Docker: dk}
	if c.DockerNetwork == mesos.NetworkUser {
		// Exactly one network_infos entry, whose name is the network.
		ci.NetworkInfos = []mesos.NetworkInfo{{Name: c.DockerNetworkName}}
	}
	return ci
}

// CommandLine is the hashfleet command line (the subcommand, then its
// flags; no program name) that a task for t runs: what its CommandInfo
// carries. cmd/hashfleet's tests parse it with the real flag sets.
func (c *Config) CommandLine(t *Task) []string {
	args := c.taskInfo(t).Command.Arguments
	if c.TaskMode != ModeDocker {
		args = args[1:] // argv[0]
	}
	return args
}

// describeTask is a one-line description for logs (no secrets).
func describeTask(t *Task) string {
	s := fmt.Sprintf("%s %s on %s (%.3g cpus, %.0f MB", t.Role, t.ID, t.Hostname, t.CPUs, t.Mem)
	if len(t.Ports) > 0 {
		s += fmt.Sprintf(", ports %v", t.Ports)
	}
	if t.Server != "" {
		s += ", server " + t.ServerAddr
	}
	return s + ")"
}

// workerName is the Stratum user of a worker task (fleet.WorkerName).
func workerName(user, taskID string) string { return fleet.WorkerName(user, taskID) }
