package agent

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

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

// dockerClient speaks the Docker Engine HTTP API over a unix socket.
type dockerClient struct {
	socket string
	hc     *http.Client
}

func newDockerClient(socket string) *dockerClient {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
		MaxIdleConns: 8,
	}
	return &dockerClient{socket: socket, hc: &http.Client{Transport: tr}}
}

// DockerError is a non-success answer of the Docker Engine.
type DockerError struct {
	Op      string
	Status  int
	Message string
}

func (e *DockerError) Error() string {
	return fmt.Sprintf("docker: %s: %d %s", e.Op, e.Status, e.Message)
}

// do sends a request and decodes a JSON answer into out (when non-nil).
func (d *dockerClient) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://docker"+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := d.hc.Do(req)
	if err != nil {
		return fmt.Errorf("docker: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		var msg struct{ Message string }
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		if json.Unmarshal(b, &msg) != nil || msg.Message == "" {
			msg.Message = string(b)
		}
		return &DockerError{Op: method + " " + path, Status: resp.StatusCode, Message: msg.Message}
	}
	if out != nil {
		return json.NewDecoder(resp.Body).Decode(out)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return nil
}

// Ping reports whether the engine answers.
func (d *dockerClient) Ping(ctx context.Context) error {
	return d.do(ctx, http.MethodGet, "/_ping", nil, nil)
}

// DockerAvailable reports whether a Docker Engine answers on socket
// (default /var/run/docker.sock) within 2 s.
func DockerAvailable(ctx context.Context, socket string) error {
	if socket == "" {
		socket = "/var/run/docker.sock"
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return newDockerClient(socket).Ping(ctx)
}

// removeStale removes containers left by an earlier agent with the same
// work dir (a crashed process cannot clean up after itself).
func (d *dockerClient) removeStale(ctx context.Context, workDir string, log *slog.Logger) {
	f, _ := json.Marshal(map[string][]string{"label": {labelWorkDir + "=" + workDir}})
	var list []struct{ ID string }
	if err := d.do(ctx, http.MethodGet, "/containers/json?all=1&filters="+url.QueryEscape(string(f)), nil, &list); err != nil {
		log.Debug("docker: cannot list stale containers", "err", err)
		return
	}
	for _, c := range list {
		log.Warn("removing stale container", "id", c.ID)
		_ = d.do(ctx, http.MethodDelete, "/containers/"+c.ID+"?force=1&v=1", nil, nil)
	}
}

// dockerContainer runs one DOCKER task, like Mesos's Docker executor.
type dockerContainer struct {
	d       *dockerClient
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
		return nil, fmt.Errorf("unsupported docker network %q", network)
	}
	for _, p := range di.Parameters {
		if p.Key == "net" || p.Key == "network" {
			mode = p.Value
		}
	}
	if len(di.PortMappings) > 0 && (network == mesos.NetworkHost || network == mesos.NetworkNone) {
		return nil, errors.New("Port mappings are only supported for bridge and user-defined networks")
	}
	exposed := map[string]any{}
	bindings := map[string][]map[string]string{}
	ports := mesos.AllRanges(ti.Resources, mesos.ResPorts)
	for _, pm := range di.PortMappings {
		in := false
		for _, r := range ports {
			if uint64(pm.HostPort) >= r.Begin && uint64(pm.HostPort) <= r.End {
				in = true
			}
		}
		if !in {
			return nil, fmt.Errorf("Port [%d] not included in resources", pm.HostPort)
		}
		proto := pm.Protocol
		if proto == "" {
			proto = "tcp"
		}
		key := fmt.Sprintf("%d/%s", pm.ContainerPort, proto)
		exposed[key] = map[string]any{}
		bindings[key] = append(bindings[key], map[string]string{"HostPort": strconv.Itoa(int(pm.HostPort))})
	}
	ci := ti.Command
	var entrypoint, cmd []string
	if ci != nil {
		value := ""
		if ci.Value != nil {
			value = *ci.Value
		}
		if ci.IsShell() {
			if value == "" {
				return nil, errors.New("shell command of a docker task has no value")
			}
			entrypoint, cmd = []string{"/bin/sh", "-c"}, []string{value}
		} else {
			if value != "" {
				cmd = append(cmd, value)
			}
			cmd = append(cmd, ci.Arguments...)
		}
	}
	// Inside the container the sandbox is at /mnt/mesos/sandbox; only the
	// task's own variables and the MESOS_* ones are passed, not the agent's.
	var cenv []string
	for _, kv := range env {
		if k, _, _ := cutEnv(kv); isTaskEnv(ti, k) {
			cenv = append(cenv, kv)
		}
	}
	cenv = append(cenv, "MESOS_SANDBOX="+sandboxMount)
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
		"Env":          cenv,
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
	if err := c.d.do(ctx, http.MethodPost, "/containers/create?name="+url.QueryEscape(c.name), c.create, &created); err != nil {
		return nil, err
	}
	c.id = created.ID
	if err := c.d.do(ctx, http.MethodPost, "/containers/"+c.id+"/start", nil, nil); err != nil {
		return nil, err
	}
	var insp struct {
		State           struct{ Pid int }
		NetworkSettings struct {
			IPAddress string
			Networks  map[string]struct{ IPAddress string }
		}
	}
	if err := c.d.do(ctx, http.MethodGet, "/containers/"+c.id+"/json", nil, &insp); err != nil {
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
		err := c.d.do(wctx, http.MethodPost, "/containers/"+c.id+"/wait?condition=not-running", nil, &w)
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
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		"http://docker/containers/"+c.id+"/logs?follow=1&stdout=1&stderr=1", nil)
	if err != nil {
		return
	}
	resp, err := c.d.hc.Do(req)
	if err != nil {
		return
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
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
	_ = c.d.do(ctx, http.MethodPost, "/containers/"+c.id+"/kill?signal="+sig, nil, nil)
}

// cleanup removes the container (forcibly, with its anonymous volumes).
func (c *dockerContainer) cleanup() {
	ref := c.id
	if ref == "" {
		ref = c.name // created under its name even if start failed mid-way
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = c.d.do(ctx, http.MethodDelete, "/containers/"+url.PathEscape(ref)+"?force=1&v=1", nil, nil)
	if c.stop != nil {
		c.stop()
	}
}

func (c *dockerContainer) checkHost() string { return c.host }
