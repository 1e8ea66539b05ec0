package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashfleet/hashfleet/internal/parts"
	"github.com/hashfleet/hashfleet/internal/parts/partstest"
	"github.com/hashfleet/hashfleet/internal/porttest"
)

// Docker tests: they run when a Docker Engine answers, skip locally
// without one and fail under HASHFLEET_REQUIRE_INTEGRATION=1 (partstest).
// Everything they create carries a label or a unique name and is removed at
// the end.

// needDocker skips or fails the test when the docker CLI or engine is
// missing, and fails it when the engine is there but does not answer.
func needDocker(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("docker tests skipped with -short")
	}
	partstest.Require(t, parts.Docker)
}

// docker runs the docker CLI and returns its trimmed stdout.
func docker(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("docker %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return strings.TrimSpace(string(out)), nil
}

func mustDocker(t *testing.T, args ...string) string {
	t.Helper()
	out, err := docker(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// buildTestImage builds the image with deploy/docker/build.sh under a tag
// unique to this test process, removed when the test ends.
func buildTestImage(t *testing.T) string {
	t.Helper()
	tag := fmt.Sprintf("hashfleet-test:%d-%s", os.Getpid(), randomHex(3))
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { docker(t, "image", "rm", "-f", tag) })
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, filepath.Join(root, "deploy/docker/build.sh"), tag).CombinedOutput()
	if err != nil {
		t.Fatalf("deploy/docker/build.sh: %v\n%s", err, out)
	}
	return tag
}

// TestDocker builds the image, checks what it is made of, then runs the
// demo on Docker: blocks accepted, the server container killed (workers
// stopped, a new server, blocks again), a worker cut off the network and
// put back (same container, shares again), and a clean Ctrl-C.
func TestDocker(t *testing.T) {
	needDocker(t)
	bin := hashfleetBinary(t)
	image := buildTestImage(t)
	t.Run("image", func(t *testing.T) { testDockerImage(t, image) })
	t.Run("demo", func(t *testing.T) { testDockerDemo(t, bin, image) })
	t.Run("compose", func(t *testing.T) { testDockerCompose(t, image) })
}

// testDockerCompose runs deploy/compose.yaml (node, master, scheduler)
// with the test image until the node accepts a block mined by the tasks
// the scheduler launched, then takes it down.
func testDockerCompose(t *testing.T, image string) {
	composeCmd := partstest.Require(t, parts.Compose).Command
	file, err := filepath.Abs("../../deploy/compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(t.TempDir(), "rpc_password")
	if err := os.WriteFile(secret, []byte(randomHex(16)), 0o644); err != nil { // read by uid 65532
		t.Fatal(err)
	}
	project := fmt.Sprintf("hftest%d%s", os.Getpid(), randomHex(2))
	env := append(os.Environ(), "HASHFLEET_IMAGE="+image, "HASHFLEET_RPC_PASSWORD_FILE="+secret,
		"HASHFLEET_MASTER_PORT="+strconv.Itoa(porttest.Port(t)), "HASHFLEET_STATUS_PORT="+strconv.Itoa(porttest.Port(t)))
	compose := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		argv := append(append(slices.Clone(composeCmd[1:]), "-p", project, "-f", file), args...)
		cmd := exec.CommandContext(ctx, composeCmd[0], argv...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			return string(out), fmt.Errorf("%s %s: %v\n%s", strings.Join(composeCmd, " "), strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out)), nil
	}
	if _, err := compose("config", "-q"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if out, err := compose("down", "-v", "--timeout", "5"); err != nil {
			t.Errorf("%v\n%s", err, out)
		}
	})
	if out, err := compose("up", "-d"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	node, err := compose("ps", "-q", "node")
	if err != nil || node == "" {
		t.Fatalf("compose ps node: %q %v", node, err)
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		logs, _ := exec.Command("docker", "logs", node).CombinedOutput()
		if n := strings.Count(string(logs), `"msg":"block accepted"`); n >= 1 {
			t.Logf("compose: %d blocks accepted by the node container", n)
			break
		}
		if time.Now().After(deadline) {
			out, _ := compose("logs", "--tail", "30")
			t.Fatalf("no block accepted within 90s; compose logs:\n%s", out)
		}
		time.Sleep(time.Second)
	}
}

func testDockerImage(t *testing.T, image string) {
	var insp []struct {
		Size   int64
		Config struct {
			User        string
			Entrypoint  []string
			Cmd         []string
			Labels      map[string]string
			Healthcheck struct{ Test []string }
		}
		RootFS struct{ Layers []string }
	}
	if err := json.Unmarshal([]byte(mustDocker(t, "image", "inspect", image)), &insp); err != nil || len(insp) != 1 {
		t.Fatalf("docker image inspect: %v (%d images)", err, len(insp))
	}
	c := insp[0].Config
	checks := []struct {
		name      string
		got, want string
	}{
		{name: "user", got: c.User, want: "65532:65532"},
		{name: "entrypoint", got: strings.Join(c.Entrypoint, " "), want: "/hashfleet"},
		{name: "healthcheck", got: strings.Join(c.Healthcheck.Test, " "), want: "CMD /hashfleet probe"},
		{name: "title label", got: c.Labels["org.opencontainers.image.title"], want: "hashfleet"},
	}
	for _, ck := range checks {
		if ck.got != ck.want {
			t.Errorf("%s: got %q, want %q", ck.name, ck.got, ck.want)
		}
	}
	if c.Labels["org.opencontainers.image.revision"] == "" {
		t.Errorf("revision label: got empty, want the git revision")
	}
	t.Logf("image %s: %.1f MB, %d layers", image, float64(insp[0].Size)/1e6, len(insp[0].RootFS.Layers))

	runs := []struct {
		name    string
		args    []string
		wantErr bool
		want    string
	}{
		{name: "version", args: []string{"version"}, want: "hashfleet"},
		{name: "probe fails on a closed port", args: []string{"probe", "--tcp", "127.0.0.1:1", "--timeout", "1s"}, wantErr: true},
		{name: "probe without a target is healthy", args: []string{"probe"}},
	}
	for _, r := range runs {
		t.Run(r.name, func(t *testing.T) {
			out, err := docker(t, append([]string{"run", "--rm", "--network", "none", image}, r.args...)...)
			if (err != nil) != r.wantErr {
				t.Fatalf("docker run %v: got err %v, want error %v (output %q)", r.args, err, r.wantErr, out)
			}
			if !strings.Contains(out, r.want) {
				t.Fatalf("docker run %v: got %q, want it to contain %q", r.args, out, r.want)
			}
		})
	}

	// The CA bundle is in the image (for https masters and nodes).
	cid := mustDocker(t, "create", image)
	defer docker(t, "rm", "-f", cid)
	tarball := mustDocker(t, "cp", cid+":/etc/ssl/certs/ca-certificates.crt", "-")
	if !strings.Contains(tarball, "BEGIN CERTIFICATE") {
		t.Errorf("/etc/ssl/certs/ca-certificates.crt: got %d bytes without a certificate, want a CA bundle", len(tarball))
	}
}

// demoRun is a `hashfleet demo` process whose stdout is read line by line.
type demoRun struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed once the process was waited for
	err    error         // its exit; read after exited is closed

	mu    sync.Mutex
	lines []string // guarded by mu
}

func (d *demoRun) find(prefix string) (string, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, l := range d.lines {
		if _, rest, ok := strings.Cut(l, "  "); ok && strings.HasPrefix(rest, prefix) {
			return strings.TrimSpace(strings.TrimPrefix(rest, prefix)), true
		}
	}
	return "", false
}

func (d *demoRun) output() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return strings.Join(d.lines, "\n")
}

// demoContainer is one container of the demo, from docker ps.
type demoContainer struct{ ID, Task string }

func (c demoContainer) role() string {
	switch {
	case strings.HasPrefix(c.Task, "hashfleet-server-"):
		return "server"
	case strings.HasPrefix(c.Task, "hashfleet-worker-"):
		return "worker"
	}
	return ""
}

// running lists the running containers on the demo network.
func running(t *testing.T, network string) []demoContainer {
	t.Helper()
	out, err := docker(t, "ps", "--no-trunc", "--filter", "network="+network,
		"--format", `{{.ID}} {{.Label "io.hashfleet.minimesos.task"}}`)
	if err != nil {
		// "none running" would make "old containers stopped" hold without
		// checking anything.
		t.Fatalf("listing the demo's containers: %v", err)
	}
	var cs []demoContainer
	for l := range strings.Lines(out) {
		if id, task, ok := strings.Cut(strings.TrimSpace(l), " "); ok {
			cs = append(cs, demoContainer{ID: id, Task: task})
		}
	}
	return cs
}

// leftContainers lists the containers, running or not, on the demo
// network or of an agent whose work directory is under tmp.
func leftContainers(t *testing.T, network, tmp string) []string {
	t.Helper()
	out, err := docker(t, "ps", "-aq", "--no-trunc", "--filter", "network="+network)
	if err != nil {
		t.Errorf("listing containers left on %s: %v", network, err)
	}
	ids := strings.Fields(out)
	out, err = docker(t, "ps", "-a", "--no-trunc", "--filter", "label="+agentWorkDirLabel,
		"--format", `{{.ID}} {{.Label "`+agentWorkDirLabel+`"}}`)
	if err != nil {
		t.Errorf("listing agent containers left: %v", err)
	}
	for l := range strings.Lines(out) {
		if id, dir, ok := strings.Cut(strings.TrimSpace(l), " "); ok && strings.HasPrefix(dir, tmp+string(filepath.Separator)) && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return ids
}

func byRole(cs []demoContainer, role string) []demoContainer {
	var out []demoContainer
	for _, c := range cs {
		if c.role() == role {
			out = append(out, c)
		}
	}
	return out
}

// waitUntil polls cond every 200 ms until it holds or d passes.
func waitUntil(t *testing.T, d time.Duration, what string, dr *demoRun, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		select {
		case <-dr.exited:
			t.Fatalf("demo exited (%v) while waiting for %s; output:\n%s", dr.err, what, dr.output())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %s; demo output:\n%s", what, d, dr.output())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// chainHeight reads the node height from the demo dashboard's JSON API
// (its latest sample; -1 when there is none or the node part failed).
func chainHeight(dash string) int64 { return chainHeightSince(dash, time.Time{}) }

// chainHeightSince is chainHeight from a sample taken after since, -1 if
// the dashboard has none yet: a sample taken before an event, or one whose
// node read failed, says nothing about the height after it.
func chainHeightSince(dash string, since time.Time) int64 {
	resp, err := http.Get(dash + "api/snapshot")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var snap struct {
		Time   time.Time              `json:"time"`
		Chain  struct{ Height int64 } `json:"chain"`
		Errors map[string]string      `json:"errors"`
	}
	if json.NewDecoder(resp.Body).Decode(&snap) != nil || !snap.Time.After(since) || snap.Errors["node"] != "" {
		return -1
	}
	return snap.Chain.Height
}

// freshChainHeight waits for a dashboard sample taken now or later and
// returns its height.
func freshChainHeight(t *testing.T, dash string, dr *demoRun) int64 {
	t.Helper()
	since, h := time.Now(), int64(-1)
	waitUntil(t, 30*time.Second, "a dashboard sample of the chain", dr, func() bool {
		h = chainHeightSince(dash, since)
		return h >= 0
	})
	return h
}

// acceptedShares is the highest "accepted" count a worker container has
// logged (the worker logs one JSON line per share answer).
func acceptedShares(t *testing.T, id string) int {
	t.Helper()
	out, err := exec.Command("docker", "logs", id).CombinedOutput()
	if err != nil {
		return -1
	}
	best := -1
	for l := range strings.Lines(string(out)) {
		var rec struct {
			Msg      string `json:"msg"`
			Accepted *int   `json:"accepted"`
		}
		if json.Unmarshal([]byte(l), &rec) == nil && rec.Accepted != nil && strings.HasPrefix(rec.Msg, "accepted:") {
			best = max(best, *rec.Accepted)
		}
	}
	return best
}

type containerState struct {
	Running      bool
	StartedAt    string
	RestartCount int
	IP           string
}

func inspectContainer(t *testing.T, id, network string) containerState {
	t.Helper()
	out := mustDocker(t, "inspect", "--format",
		`{{.State.Running}} {{.State.StartedAt}} {{.RestartCount}} {{with index .NetworkSettings.Networks "`+network+`"}}{{.IPAddress}}{{end}}`, id)
	f := strings.Fields(out)
	st := containerState{Running: len(f) > 0 && f[0] == "true"}
	if len(f) > 2 {
		st.StartedAt = f[1]
		fmt.Sscan(f[2], &st.RestartCount)
	}
	if len(f) > 3 {
		st.IP = f[3]
	}
	return st
}

func testDockerDemo(t *testing.T, bin, image string) {
	tmp := t.TempDir()
	cmd := exec.Command(bin, "demo", "--containerizer", "docker", "--image", image, "--workers", "2",
		"--http-listen", "127.0.0.1:0", "--timeout", "3m", "--log-level", "info")
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	dr := &demoRun{cmd: cmd, exited: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			dr.mu.Lock()
			dr.lines = append(dr.lines, sc.Text())
			dr.mu.Unlock()
		}
		_, _ = io.Copy(io.Discard, stdout)
		dr.err = cmd.Wait()
		close(dr.exited)
	}()
	var network string
	t.Cleanup(func() {
		// Whatever happened: no demo process, container or network is left.
		select {
		case <-dr.exited:
		default:
			cmd.Process.Signal(syscall.SIGINT)
			select {
			case <-dr.exited:
			case <-time.After(60 * time.Second):
				cmd.Process.Kill()
				<-dr.exited
			}
		}
		if network != "" {
			for _, id := range leftContainers(t, network, tmp) {
				docker(t, "rm", "-f", id)
			}
			docker(t, "network", "rm", network)
		}
		if t.Failed() {
			t.Logf("demo stderr (tail):\n%s", tail(stderr.String(), 4000))
		}
	})

	waitUntil(t, 30*time.Second, "docker network line", dr, func() bool {
		s, ok := dr.find("docker    network ")
		network, _, _ = strings.Cut(s, " ")
		return ok
	})
	var dash string
	waitUntil(t, 30*time.Second, "dashboard line", dr, func() bool {
		var ok bool
		dash, ok = dr.find("dashboard ")
		return ok
	})

	// 1. Blocks accepted with the server and the workers in containers.
	waitUntil(t, 90*time.Second, "first block", dr, func() bool { _, ok := dr.find("block     #1 accepted"); return ok })
	var cs []demoContainer
	waitUntil(t, 30*time.Second, "1 server and 2 worker containers", dr, func() bool {
		cs = running(t, network)
		return len(byRole(cs, "server")) == 1 && len(byRole(cs, "worker")) == 2
	})
	server, workers := byRole(cs, "server")[0], byRole(cs, "worker")
	if got := mustDocker(t, "inspect", "--format", "{{.HostConfig.NetworkMode}}", server.ID); got != network {
		t.Errorf("server container network: got %q, want the demo network %q", got, network)
	}
	// Stratum and HTTP are mapped to ports of the agent's offered range
	// (31000-31999), bound on the network's gateway address only (the
	// mapping names no address; the network's host_binding_ipv4 does).
	gateway := mustDocker(t, "network", "inspect", "--format", "{{(index .IPAM.Config 0).Gateway}}", network)
	var bindings map[string][]struct{ HostIp, HostPort string }
	if err := json.Unmarshal([]byte(mustDocker(t, "inspect", "--format", "{{json .NetworkSettings.Ports}}", server.ID)), &bindings); err != nil {
		t.Fatal(err)
	}
	for _, cport := range []string{"3333/tcp", "8080/tcp"} {
		bs := bindings[cport]
		var port int
		if len(bs) == 1 {
			fmt.Sscan(bs[0].HostPort, &port)
		}
		if len(bs) != 1 || port < 31000 || port > 31999 || bs[0].HostIp != gateway {
			t.Errorf("server %s mapping: got %+v, want one port in 31000-31999 on %s", cport, bs, gateway)
		}
	}
	// The image's HEALTHCHECK (hashfleet probe) dials the server's Stratum
	// port, named by the task environment; a worker's probe has no target.
	if env := mustDocker(t, "inspect", "--format", "{{json .Config.Env}}", server.ID); !strings.Contains(env, `"HASHFLEET_HEALTH_TCP=127.0.0.1:3333"`) {
		t.Errorf("server container environment: got %s, want HASHFLEET_HEALTH_TCP=127.0.0.1:3333", env)
	}
	waitUntil(t, 40*time.Second, "docker health status healthy for the server", dr, func() bool {
		out, _ := docker(t, "inspect", "--format", "{{.State.Health.Status}}", server.ID)
		return out == "healthy"
	})

	// 2. docker kill the server: the scheduler stops every worker and
	// starts a new server, and shares and blocks are accepted again.
	// HASHFLEET_DOCKER_KILLS=N repeats it N times (for BENCHMARKS.md).
	kills := 1
	if v := os.Getenv("HASHFLEET_DOCKER_KILLS"); v != "" {
		fmt.Sscan(v, &kills)
	}
	for i := range kills {
		server, workers, cs = killServer(t, dr, network, dash, server, workers, i+1)
	}

	// 3. A worker cut off the network and put back resumes mining in the
	// same container, without a restart.
	w := byRole(cs, "worker")[0]
	before := inspectContainer(t, w.ID, network)
	if before.IP == "" {
		t.Fatalf("worker %s has no address on %s", w.ID, network)
	}
	waitUntil(t, 60*time.Second, "a share from the worker", dr, func() bool { return acceptedShares(t, w.ID) >= 1 })
	mustDocker(t, "network", "disconnect", network, w.ID)
	time.Sleep(3 * time.Second)
	atReconnect := acceptedShares(t, w.ID)
	mustDocker(t, "network", "connect", "--ip", before.IP, network, w.ID)
	reconnected := time.Now()
	waitUntil(t, 60*time.Second, "shares accepted again after the reconnect", dr, func() bool {
		return acceptedShares(t, w.ID) > atReconnect
	})
	after := inspectContainer(t, w.ID, network)
	if !after.Running || after.StartedAt != before.StartedAt || after.RestartCount != before.RestartCount {
		t.Errorf("worker container after reconnect: got %+v, want the same running container as %+v", after, before)
	}
	t.Logf("worker %.12s: shares accepted again %.1fs after the reconnect (%d before it)", w.ID, time.Since(reconnected).Seconds(), atReconnect)

	// 4. Ctrl-C: the demo exits 0 and leaves no container and no network.
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-dr.exited:
		if dr.err != nil {
			t.Fatalf("demo after SIGINT: %v", dr.err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("demo did not exit within 60s of SIGINT")
	}
	if left := leftContainers(t, network, tmp); len(left) > 0 {
		t.Errorf("containers left after exit: %v", left)
	}
	if out, err := docker(t, "network", "inspect", network); err == nil {
		t.Errorf("network %s left after exit: %.200s", network, out)
	}
	waitNoOrphans(t, tmp)
}

// killServer docker-kills the server container and waits until the old
// workers are gone, a new server and two new workers run, a new worker has
// a share accepted and the node a new block. It returns the new containers.
func killServer(t *testing.T, dr *demoRun, network, dash string, server demoContainer, workers []demoContainer, round int) (demoContainer, []demoContainer, []demoContainer) {
	t.Helper()
	killed := time.Now()
	mustDocker(t, "kill", server.ID)
	waitUntil(t, 60*time.Second, "old worker containers stopped", dr, func() bool {
		now := running(t, network)
		for _, w := range workers {
			for _, c := range now {
				if c.ID == w.ID {
					return false
				}
			}
		}
		return true
	})
	workersStopped := time.Since(killed)
	// Nothing of the old generation mines now: a higher height is the new server's.
	h0 := freshChainHeight(t, dash, dr)
	var cs []demoContainer
	waitUntil(t, 90*time.Second, "new server with 2 new workers", dr, func() bool {
		cs = running(t, network)
		srv := byRole(cs, "server")
		return len(srv) == 1 && srv[0].ID != server.ID && len(byRole(cs, "worker")) == 2
	})
	newServer := time.Since(killed)
	var shares, block time.Duration
	waitUntil(t, 90*time.Second, "shares and a block after the server was replaced", dr, func() bool {
		if shares == 0 {
			for _, w := range byRole(cs, "worker") {
				if acceptedShares(t, w.ID) >= 1 {
					shares = time.Since(killed)
				}
			}
		}
		if block == 0 && chainHeight(dash) > h0 {
			block = time.Since(killed)
		}
		return shares > 0 && block > 0
	})
	t.Logf("kill %d: docker kill of the server -> old workers stopped %.1fs, new server and workers running %.1fs, share accepted %.1fs, block accepted %.1fs",
		round, workersStopped.Seconds(), newServer.Seconds(), shares.Seconds(), block.Seconds())
	return byRole(cs, "server")[0], byRole(cs, "worker"), cs
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
