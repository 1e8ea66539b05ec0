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
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Labels the demo puts on what it creates in Docker, so that it (and
// tests) can find and remove it.
const (
	labelDemo        = "io.hashfleet.demo"      // on the network and every container: the network's name
	labelDemoPID     = "io.hashfleet.demo.pid"  // on the network: the demo process that owns it…
	labelDemoHost    = "io.hashfleet.demo.host" // …on this host (pids of other namespaces mean nothing)
	dockerDemoPrefix = "hashfleet-demo-"        // network names
	dockerAPIPrefix  = "http://docker"          // host part of Engine API URLs (the socket is what matters)
	dockerCleanupMax = 30 * time.Second         // bound on removing containers and the network
	dockerSocketName = "docker.sock"            // the demo's Engine API proxy, in the work dir
	dockerEngineDial = 2 * time.Second          // first answer of the engine
	dockerBridgeMode = "bridge"                 // what a Mesos BRIDGE task asks the engine for
	dockerNetDriver  = "bridge"                 // the demo network's driver
	dockerNetOptName = "com.docker.network.bridge.name"
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
// network and an Engine API proxy that puts the agent's BRIDGE containers
// on it.
type dockerDemo struct {
	eng     *engine
	Network string // network name (and the value of labelDemo)
	Gateway string // the host's address on the network: what containers reach
	Socket  string // Engine API socket for the agent (the proxy)
	srv     *http.Server
	log     *slog.Logger
}

// setupDockerDemo checks the engine and the image, creates the demo
// network and starts the Engine API proxy on dir/docker.sock. The caller
// must call close once the agent has stopped (it removes what is left).
func setupDockerDemo(ctx context.Context, socket, image, dir string, log *slog.Logger) (*dockerDemo, error) {
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
	d := &dockerDemo{eng: eng, Network: dockerDemoPrefix + randomHex(4), log: log}
	if err := d.createNetwork(ctx); err != nil {
		return nil, err
	}
	if err := d.serveProxy(filepath.Join(dir, dockerSocketName)); err != nil {
		d.close()
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
func (d *dockerDemo) createNetwork(ctx context.Context) error {
	create := func(ipam any) (networkInspect, error) {
		body := map[string]any{
			"Name": d.Network, "Driver": dockerNetDriver, "CheckDuplicate": true,
			"Labels":  map[string]string{labelDemo: d.Network, labelDemoPID: strconv.Itoa(os.Getpid()), labelDemoHost: hostname()},
			"Options": map[string]string{dockerNetOptName: "hf-" + d.Network[len(dockerDemoPrefix):]},
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
	ni, err := create(nil)
	if err != nil {
		d.removeNetwork()
		return err
	}
	cfg := ni.IPAM.Config[0]
	if err := d.eng.do(ctx, http.MethodDelete, "/networks/"+ni.ID, nil, nil); err != nil {
		return fmt.Errorf("demo: re-create network %s: %w", d.Network, err)
	}
	ni, err = create(map[string]any{"Driver": "default", "Config": []map[string]string{{"Subnet": cfg.Subnet, "Gateway": cfg.Gateway}}})
	if err != nil {
		d.removeNetwork()
		return err
	}
	d.Gateway = ni.IPAM.Config[0].Gateway
	if i := strings.IndexByte(d.Gateway, '/'); i >= 0 {
		d.Gateway = d.Gateway[:i]
	}
	return nil
}

// serveProxy serves the Engine API on path, forwarding every call to the
// engine. Container creation is the one call it changes: a container that
// asks for the default bridge (a Mesos BRIDGE task) is put on the demo's
// network instead, with its port mappings bound to the gateway address,
// and every container gets the demo label.
func (d *dockerDemo) serveProxy(path string) error {
	os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("demo: docker proxy: %w", err)
	}
	d.Socket = path
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host = "http", "docker"
		},
		Transport:     d.eng.hc.Transport,
		FlushInterval: -1, // logs and wait stream
		ErrorLog:      slog.NewLogLogger(d.log.Handler(), slog.LevelWarn),
	}
	d.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/containers/create") {
			if err := d.rewriteCreate(r); err != nil {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				_ = json.NewEncoder(w).Encode(map[string]string{"message": err.Error()})
				return
			}
		}
		rp.ServeHTTP(w, r)
	}), ReadHeaderTimeout: 10 * time.Second}
	go d.srv.Serve(ln)
	return nil
}

// rewriteCreate puts a create request's container on the demo network.
func (d *dockerDemo) rewriteCreate(r *http.Request) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	r.Body.Close()
	if err != nil {
		return err
	}
	var body map[string]any
	if err := json.Unmarshal(b, &body); err != nil {
		return fmt.Errorf("demo proxy: container create body: %w", err)
	}
	hc, _ := body["HostConfig"].(map[string]any)
	if hc == nil {
		hc = map[string]any{}
		body["HostConfig"] = hc
	}
	if mode, _ := hc["NetworkMode"].(string); mode == "" || mode == dockerBridgeMode || mode == "default" {
		hc["NetworkMode"] = d.Network
		// Mapped ports on the gateway address only: the workers reach the
		// server there, and nothing outside this host does.
		bindings, _ := hc["PortBindings"].(map[string]any)
		for _, list := range bindings {
			bs, _ := list.([]any)
			for _, b := range bs {
				if m, ok := b.(map[string]any); ok && (m["HostIp"] == nil || m["HostIp"] == "") {
					m["HostIp"] = d.Gateway
				}
			}
		}
	}
	labels, _ := body["Labels"].(map[string]any)
	if labels == nil {
		labels = map[string]any{}
		body["Labels"] = labels
	}
	labels[labelDemo] = d.Network
	if b, err = json.Marshal(body); err != nil {
		return err
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	r.ContentLength = int64(len(b))
	r.Header.Set("Content-Length", strconv.Itoa(len(b)))
	return nil
}

// close stops the proxy and removes every container still labelled with
// the demo network, then the network. It is safe to call more than once.
func (d *dockerDemo) close() {
	if d.srv != nil {
		d.srv.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), dockerCleanupMax)
	defer cancel()
	f, _ := json.Marshal(map[string][]string{"label": {labelDemo + "=" + d.Network}})
	var list []struct{ ID string }
	if err := d.eng.do(ctx, http.MethodGet, "/containers/json?all=1&filters="+url.QueryEscape(string(f)), nil, &list); err != nil {
		d.log.Warn("docker: cannot list demo containers", "err", err)
	}
	for _, c := range list {
		d.log.Info("removing demo container", "id", c.ID)
		if err := d.eng.do(ctx, http.MethodDelete, "/containers/"+c.ID+"?force=1&v=1", nil, nil); err != nil {
			d.log.Warn("docker: cannot remove container", "id", c.ID, "err", err)
		}
	}
	d.removeNetworkCtx(ctx)
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
		(&dockerDemo{eng: eng, Network: n.Name, log: log}).close()
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
