package agent

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/hashfleet/hashfleet/internal/dockerapi"
	"github.com/hashfleet/hashfleet/internal/mesos"
)

// LabelWorkDir is the label every container this agent creates carries,
// valued with the agent's WorkDir, so that its owner can find the agent's
// containers (for cleanup after a crash).
const LabelWorkDir = "io.hashfleet.minimesos.workdir"

// Labels put on every container this agent creates.
const (
	labelWorkDir = LabelWorkDir
	labelTask    = "io.hashfleet.minimesos.task"
	sandboxMount = "/mnt/mesos/sandbox"
)

// DockerAvailable reports whether a Docker Engine answers on socket
// ("" = /var/run/docker.sock) within 2 s.
func DockerAvailable(ctx context.Context, socket string) error {
	return dockerapi.Available(ctx, socket)
}

// removeStale removes containers left by an earlier agent with the same
// work dir (a crashed process cannot clean up after itself).
func removeStale(ctx context.Context, d *dockerapi.Client, workDir string, log *slog.Logger) {
	list, err := d.ListContainers(ctx, map[string][]string{"label": {labelWorkDir + "=" + workDir}})
	if err != nil {
		log.Debug("docker: cannot list stale containers", "err", err)
		return
	}
	for _, c := range list {
		log.Warn("removing stale container", "id", c.ID)
		_ = d.RemoveContainer(ctx, c.ID)
	}
}

// dockerContainer runs one DOCKER task, like Mesos's Docker executor.
type dockerContainer struct {
	d       *dockerapi.Client
	name    string
	create  map[string]any
	host    string // health-check host
	id      string
	sandbox string
	waitc   chan exitInfo
	stop    context.CancelFunc
	logs    chan struct{}
}

// newDockerContainer validates the task's DockerInfo against its
// resources and prepares the create request.
func (a *Agent) newDockerContainer(ti mesos.TaskInfo, sandbox, cid string, env []string) (*dockerContainer, error) {
	di := ti.Container.Docker
	mode, err := dockerNetworkMode(ti)
	if err != nil {
		return nil, err
	}
	exposed, bindings, err := dockerPorts(ti)
	if err != nil {
		return nil, err
	}
	entrypoint, cmd, err := dockerCommand(ti.Command)
	if err != nil {
		return nil, err
	}
	hostConfig := map[string]any{
		"NetworkMode":  mode,
		"Binds":        []string{sandbox + ":" + sandboxMount},
		"PortBindings": bindings,
		"Privileged":   di.Privileged,
	}
	if cpus := mesos.SumScalar(ti.Resources, mesos.ResCPUs); cpus > 0 {
		hostConfig["CpuShares"] = int64(cpus * 1024)
	}
	if mem := mesos.SumScalar(ti.Resources, mesos.ResMem); mem >= 32 {
		hostConfig["Memory"] = int64(mem * 1024 * 1024)
	}
	create := map[string]any{
		"Image":        di.Image,
		"Env":          containerEnv(ti, env),
		"Labels":       map[string]string{labelWorkDir: a.cfg.WorkDir, labelTask: ti.TaskID.Value},
		"ExposedPorts": exposed,
		"HostConfig":   hostConfig,
	}
	if entrypoint != nil {
		create["Entrypoint"] = entrypoint
	}
	if cmd != nil {
		create["Cmd"] = cmd
	}
	host := "127.0.0.1"
	if mode != "host" {
		host = ""
	}
	return &dockerContainer{d: a.docker, name: "mesos-" + cid, create: create, host: host, sandbox: sandbox,
		waitc: make(chan exitInfo, 1), logs: make(chan struct{})}, nil
}

// dockerNetworkMode is the Docker network mode of the task's container:
// its DockerInfo network (a user network by its NetworkInfo name), or a
// "net"/"network" parameter, which wins as it does on a Mesos agent.
func dockerNetworkMode(ti mesos.TaskInfo) (string, error) {
	di := ti.Container.Docker
	network := di.NetworkOrDefault()
	mode := ""
	switch network {
	case mesos.NetworkHost:
		mode = "host"
	case mesos.NetworkBridge:
		mode = "bridge"
	case mesos.NetworkNone:
		mode = "none"
	case mesos.NetworkUser:
		mode = ti.Container.NetworkInfos[0].Name
	default:
		return "", fmt.Errorf("unsupported docker network %q", network)
	}
	for _, p := range di.Parameters {
		if p.Key == "net" || p.Key == "network" {
			mode = p.Value
		}
	}
	if len(di.PortMappings) > 0 && (network == mesos.NetworkHost || network == mesos.NetworkNone) {
		return "", errors.New("Port mappings are only supported for bridge and user-defined networks")
	}
	return mode, nil
}

// dockerPorts turns the task's port mappings into the container's exposed
// ports and host bindings; each host port must be one of the task's port
// resources (the Mesos agent's words when it is not).
func dockerPorts(ti mesos.TaskInfo) (exposed map[string]any, bindings map[string][]map[string]string, err error) {
	exposed = map[string]any{}
	bindings = map[string][]map[string]string{}
	ports := mesos.AllRanges(ti.Resources, mesos.ResPorts)
	for _, pm := range ti.Container.Docker.PortMappings {
		in := false
		for _, r := range ports {
			if uint64(pm.HostPort) >= r.Begin && uint64(pm.HostPort) <= r.End {
				in = true
			}
		}
		if !in {
			return nil, nil, fmt.Errorf("Port [%d] not included in resources", pm.HostPort)
		}
		proto := pm.Protocol
		if proto == "" {
			proto = "tcp"
		}
		key := fmt.Sprintf("%d/%s", pm.ContainerPort, proto)
		exposed[key] = map[string]any{}
		bindings[key] = append(bindings[key], map[string]string{"HostPort": strconv.Itoa(int(pm.HostPort))})
	}
	return exposed, bindings, nil
}

// dockerCommand is the container's entrypoint and command: a shell
// command runs under /bin/sh -c; otherwise the value and arguments
// replace the image's command (its entrypoint kept). No CommandInfo keeps
// the image's own.
func dockerCommand(ci *mesos.CommandInfo) (entrypoint, cmd []string, err error) {
	if ci == nil {
		return nil, nil, nil
	}
	value := ""
	if ci.Value != nil {
		value = *ci.Value
	}
	if ci.IsShell() {
		if value == "" {
			return nil, nil, errors.New("shell command of a docker task has no value")
		}
		return []string{"/bin/sh", "-c"}, []string{value}, nil
	}
	if value != "" {
		cmd = append(cmd, value)
	}
	return nil, append(cmd, ci.Arguments...), nil
}

// containerEnv is the container's environment: inside it the sandbox is
// at /mnt/mesos/sandbox, and only the task's own variables and the
// MESOS_* ones are passed, not the agent's.
func containerEnv(ti mesos.TaskInfo, env []string) []string {
	var cenv []string
	for _, kv := range env {
		if k, _, _ := cutEnv(kv); isTaskEnv(ti, k) {
			cenv = append(cenv, kv)
		}
	}
	return append(cenv, "MESOS_SANDBOX="+sandboxMount)
}

func cutEnv(kv string) (string, string, bool) {
	for i := 0; i < len(kv); i++ {
		if kv[i] == '=' {
			return kv[:i], kv[i+1:], true
		}
	}
	return kv, "", false
}

func isTaskEnv(ti mesos.TaskInfo, k string) bool {
	if len(k) > 6 && k[:6] == "MESOS_" && k != "MESOS_SANDBOX" && k != "MESOS_DIRECTORY" {
		return true
	}
	if ti.Command != nil && ti.Command.Environment != nil {
		for _, v := range ti.Command.Environment.Variables {
			if v.Name == k {
				return true
			}
		}
	}
	return false
}

func (c *dockerContainer) start(ctx context.Context) (*mesos.ContainerStatus, error) {
	var created struct{ ID string }
	if err := c.d.Do(ctx, http.MethodPost, "/containers/create?name="+url.QueryEscape(c.name), c.create, &created); err != nil {
		return nil, err
	}
	c.id = created.ID
	if err := c.d.Do(ctx, http.MethodPost, "/containers/"+c.id+"/start", nil, nil); err != nil {
		return nil, err
	}
	var insp struct {
		State           struct{ Pid int }
		NetworkSettings struct {
			IPAddress string
			Networks  map[string]struct{ IPAddress string }
		}
	}
	if err := c.d.Do(ctx, http.MethodGet, "/containers/"+c.id+"/json", nil, &insp); err != nil {
		return nil, err
	}
	ip := insp.NetworkSettings.IPAddress
	for _, n := range insp.NetworkSettings.Networks {
		if ip == "" {
			ip = n.IPAddress
		}
	}
	if c.host == "" {
		c.host = ip
	}
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c.stop = cancel
	go c.followLogs(wctx)
	go func() {
		var w struct {
			StatusCode int
			Error      *struct{ Message string }
		}
		err := c.d.Do(wctx, http.MethodPost, "/containers/"+c.id+"/wait?condition=not-running", nil, &w)
		var ex exitInfo
		switch {
		case err != nil:
			ex.err = err
		case w.StatusCode > 128 && w.StatusCode <= 128+31:
			ex.signal = signalName(syscall.Signal(w.StatusCode - 128))
		default:
			ex.code = w.StatusCode
		}
		<-c.logs // the log files are complete before the exit is reported
		c.waitc <- ex
	}()
	cs := &mesos.ContainerStatus{ExecutorPID: uint32(insp.State.Pid)}
	if ip != "" {
		cs.NetworkInfos = []mesos.NetworkInfo{{IPAddresses: []mesos.IPAddress{{Protocol: "IPv4", IPAddress: ip}}}}
	}
	return cs, nil
}

// followLogs copies the container's multiplexed log stream into the
// sandbox's stdout and stderr files until the container stops.
func (c *dockerContainer) followLogs(ctx context.Context) {
	defer close(c.logs)
	stdout, err1 := os.Create(filepath.Join(c.sandbox, "stdout"))
	stderr, err2 := os.Create(filepath.Join(c.sandbox, "stderr"))
	if err1 != nil || err2 != nil {
		return
	}
	defer stdout.Close()
	defer stderr.Close()
	body, err := c.d.Stream(ctx, "/containers/"+c.id+"/logs?follow=1&stdout=1&stderr=1")
	if err != nil {
		return
	}
	defer body.Close()
	br := bufio.NewReader(body)
	var hdr [8]byte
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return
		}
		n := int64(binary.BigEndian.Uint32(hdr[4:]))
		dst := io.Writer(stdout)
		if hdr[0] == 2 {
			dst = stderr
		}
		if _, err := io.CopyN(dst, br, n); err != nil {
			return
		}
	}
}

func (c *dockerContainer) wait() <-chan exitInfo { return c.waitc }

func (c *dockerContainer) signal(force bool) {
	if c.id == "" {
		return
	}
	sig := "SIGTERM"
	if force {
		sig = "SIGKILL"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = c.d.Do(ctx, http.MethodPost, "/containers/"+c.id+"/kill?signal="+sig, nil, nil)
}

// cleanup removes the container (forcibly, with its anonymous volumes).
func (c *dockerContainer) cleanup() {
	ref := c.id
	if ref == "" {
		ref = c.name // created under its name even if start failed mid-way
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = c.d.RemoveContainer(ctx, ref)
	if c.stop != nil {
		c.stop()
	}
}

func (c *dockerContainer) checkHost() string { return c.host }
