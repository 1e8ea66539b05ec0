package main

import (
	"bytes"
	"context"
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
	"strings"
	"syscall"
	"time"

	"github.com/hashfleet/hashfleet/internal/minimesos/agent"
)

// Labels the demo puts on the network it creates in Docker, so that it
// (and a later demo, after a SIGKILL) can find it and what runs on it.
const (
	labelDemo        = "io.hashfleet.demo"        // the network's name
	labelDemoPID     = "io.hashfleet.demo.pid"    // the demo process that owns it…
	labelDemoHost    = "io.hashfleet.demo.host"   // …on this host (pids of other namespaces mean nothing)
	labelDemoAgents  = "io.hashfleet.demo.agents" // the agents' work directory
	dockerDemoPrefix = "hashfleet-demo-"          // network names
	dockerAPIPrefix  = "http://docker"            // host part of Engine API URLs (the socket is what matters)
	dockerCleanupMax = 30 * time.Second           // bound on removing containers and the network
	dockerEngineDial = 2 * time.Second            // first answer of the engine
	dockerNetDriver  = "bridge"                   // the demo network's driver
	dockerNetOptName = "com.docker.network.bridge.name"
	// dockerNetOptBind is the address the bridge driver binds a published
	// port to when the mapping names none (Mesos port mappings never do).
	dockerNetOptBind  = "com.docker.network.bridge.host_binding_ipv4"
	agentWorkDirLabel = agent.LabelWorkDir // the minimesos agent's containers
)

// engine is a minimal Docker Engine API client over its unix socket: the
// few calls the demo makes itself (the agent has its own client).
type engine struct {
	socket string
	hc     *http.Client
}

func newEngine(socket string) *engine {
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", socket)
	}}
	return &engine{socket: socket, hc: &http.Client{Transport: tr}}
}

// engineError is a non-2xx answer of the engine.
type engineError struct {
	op     string
	status int
	msg    string
}

func (e *engineError) Error() string { return fmt.Sprintf("docker: %s: %d %s", e.op, e.status, e.msg) }

func (e *engine) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, dockerAPIPrefix+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := e.hc.Do(req)
	if err != nil {
		return fmt.Errorf("docker: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		var m struct{ Message string }
		if json.Unmarshal(b, &m) != nil || m.Message == "" {
			m.Message = strings.TrimSpace(string(b))
		}
		return &engineError{op: method + " " + path, status: resp.StatusCode, msg: m.Message}
	}
	if out != nil {
		return json.NewDecoder(resp.Body).Decode(out)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return nil
}

// dockerDemo is what the demo set up in Docker: a user-defined bridge
// network, which the scheduler puts every task on (Mesos USER networking).
type dockerDemo struct {
	eng     *engine
	Network string // network name (and the value of labelDemo)
	Gateway string // the host's address on the network: what containers reach
	Agents  string // the agents' work directory (their containers carry it)
	log     *slog.Logger
}

// setupDockerDemo checks the engine and the image and creates the demo
// network; agents is the work directory of the agents that will run the
// containers. The caller must call close once the agents have stopped (it
// removes what is left).
func setupDockerDemo(ctx context.Context, socket, image, agents string, log *slog.Logger) (*dockerDemo, error) {
	eng := newEngine(socket)
	pctx, cancel := context.WithTimeout(ctx, dockerEngineDial)
	err := eng.do(pctx, http.MethodGet, "/_ping", nil, nil)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("demo: --containerizer docker: no Docker Engine at %s: %w", socket, err)
	}
	if err := eng.do(ctx, http.MethodGet, "/images/"+url.PathEscape(image)+"/json", nil, nil); err != nil {
		if ee, ok := errors.AsType[*engineError](err); ok && ee.status == http.StatusNotFound {
			return nil, fmt.Errorf("demo: image %s not found: build it with deploy/docker/build.sh %s (or make image)", image, image)
		}
		return nil, fmt.Errorf("demo: image %s: %w", image, err)
	}
	removeOrphans(ctx, eng, log)
	d := &dockerDemo{eng: eng, Network: dockerDemoPrefix + randomHex(4), Agents: agents, log: log}
	if err := d.createNetwork(ctx); err != nil {
		return nil, err
	}
	return d, nil
}

type networkInspect struct {
	ID   string
	IPAM struct {
		Config []struct{ Subnet, Gateway string }
	}
}

// createNetwork creates the demo's bridge network. Docker picks a free
// subnet; the network is then re-created with that subnet stated, because
// only networks with a configured subnet let a container keep its address
// when it is disconnected and reconnected (docker network connect --ip).
//
// The re-created network also binds published ports to its gateway
// address only: the workers reach the server there, and nothing outside
// this host does.
func (d *dockerDemo) createNetwork(ctx context.Context) error {
	create := func(ipam any, gateway string) (networkInspect, error) {
		opts := map[string]string{dockerNetOptName: "hf-" + d.Network[len(dockerDemoPrefix):]}
		if gateway != "" {
			opts[dockerNetOptBind] = gateway
		}
		body := map[string]any{
			"Name": d.Network, "Driver": dockerNetDriver, "CheckDuplicate": true,
			"Labels": map[string]string{labelDemo: d.Network, labelDemoPID: strconv.Itoa(os.Getpid()),
				labelDemoHost: hostname(), labelDemoAgents: d.Agents},
			"Options": opts,
		}
		if ipam != nil {
			body["IPAM"] = ipam
		}
		var created struct{ ID string }
		if err := d.eng.do(ctx, http.MethodPost, "/networks/create", body, &created); err != nil {
			return networkInspect{}, fmt.Errorf("demo: create network %s: %w", d.Network, err)
		}
		var ni networkInspect
		if err := d.eng.do(ctx, http.MethodGet, "/networks/"+created.ID, nil, &ni); err != nil {
			return ni, fmt.Errorf("demo: inspect network %s: %w", d.Network, err)
		}
		if len(ni.IPAM.Config) == 0 || ni.IPAM.Config[0].Gateway == "" {
			return ni, fmt.Errorf("demo: network %s has no IPv4 gateway", d.Network)
		}
		return ni, nil
	}
	ni, err := create(nil, "")
	if err != nil {
		d.removeNetwork()
		return err
	}
	cfg := ni.IPAM.Config[0]
	if err := d.eng.do(ctx, http.MethodDelete, "/networks/"+ni.ID, nil, nil); err != nil {
		return fmt.Errorf("demo: re-create network %s: %w", d.Network, err)
	}
	gateway, _, _ := strings.Cut(cfg.Gateway, "/")
	ni, err = create(map[string]any{"Driver": "default", "Config": []map[string]string{{"Subnet": cfg.Subnet, "Gateway": cfg.Gateway}}}, gateway)
	if err != nil {
		d.removeNetwork()
		return err
	}
	d.Gateway, _, _ = strings.Cut(ni.IPAM.Config[0].Gateway, "/")
	return nil
}

// close removes every container still on the demo network or left by
// its agents, then the network. It is safe to call more than once.
func (d *dockerDemo) close() {
	ctx, cancel := context.WithTimeout(context.Background(), dockerCleanupMax)
	defer cancel()
	for _, id := range d.containers(ctx) {
		d.log.Info("removing demo container", "id", id)
		if err := d.eng.do(ctx, http.MethodDelete, "/containers/"+id+"?force=1&v=1", nil, nil); err != nil {
			d.log.Warn("docker: cannot remove container", "id", id, "err", err)
		}
	}
	d.removeNetworkCtx(ctx)
}

// containers lists the demo's containers, running or not: those on its
// network and those of its agents (a container disconnected from the
// network is still one of theirs).
func (d *dockerDemo) containers(ctx context.Context) []string {
	seen := map[string]bool{}
	var ids []string
	for _, c := range d.list(ctx, "network", d.Network) {
		if !seen[c.ID] {
			seen[c.ID] = true
			ids = append(ids, c.ID)
		}
	}
	if d.Agents == "" {
		return ids
	}
	for _, c := range d.list(ctx, "label", agentWorkDirLabel) {
		dir := c.Labels[agentWorkDirLabel]
		if !seen[c.ID] && (dir == d.Agents || strings.HasPrefix(dir, d.Agents+string(filepath.Separator))) {
			seen[c.ID] = true
			ids = append(ids, c.ID)
		}
	}
	return ids
}

type containerSummary struct {
	ID     string
	Labels map[string]string
}

// list lists the containers, running or not, that match one filter.
func (d *dockerDemo) list(ctx context.Context, filter, value string) []containerSummary {
	f, _ := json.Marshal(map[string][]string{filter: {value}})
	var cs []containerSummary
	if err := d.eng.do(ctx, http.MethodGet, "/containers/json?all=1&filters="+url.QueryEscape(string(f)), nil, &cs); err != nil {
		d.log.Warn("docker: cannot list demo containers", "filter", filter+"="+value, "err", err)
	}
	return cs
}

// removeOrphans removes the networks and containers of earlier demos on
// this host whose process is gone (killed with SIGKILL, say: it could not
// clean up). Networks of running demos are left alone.
func removeOrphans(ctx context.Context, eng *engine, log *slog.Logger) {
	f, _ := json.Marshal(map[string][]string{"label": {labelDemoPID}})
	var nets []struct {
		Name   string
		Labels map[string]string
	}
	if err := eng.do(ctx, http.MethodGet, "/networks?filters="+url.QueryEscape(string(f)), nil, &nets); err != nil {
		log.Debug("docker: cannot list demo networks", "err", err)
		return
	}
	for _, n := range nets {
		pid, err := strconv.Atoi(n.Labels[labelDemoPID])
		if err != nil || pid <= 0 || !strings.HasPrefix(n.Name, dockerDemoPrefix) || n.Labels[labelDemoHost] != hostname() || processAlive(pid) {
			continue
		}
		log.Warn("removing the network and containers of a demo that is gone", "network", n.Name, "pid", pid)
		(&dockerDemo{eng: eng, Network: n.Name, Agents: n.Labels[labelDemoAgents], log: log}).close()
	}
}

func hostname() string {
	h, _ := os.Hostname()
	return h
}

// processAlive reports whether a process with this pid exists (signal 0).
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

func (d *dockerDemo) removeNetwork() {
	ctx, cancel := context.WithTimeout(context.Background(), dockerCleanupMax)
	defer cancel()
	d.removeNetworkCtx(ctx)
}

func (d *dockerDemo) removeNetworkCtx(ctx context.Context) {
	err := d.eng.do(ctx, http.MethodDelete, "/networks/"+url.PathEscape(d.Network), nil, nil)
	if ee, ok := errors.AsType[*engineError](err); err != nil && !(ok && ee.status == http.StatusNotFound) {
		d.log.Warn("docker: cannot remove the demo network", "network", d.Network, "err", err)
	}
}
