package scheduler_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashfleet/hashfleet/internal/mesos"
	"github.com/hashfleet/hashfleet/internal/minimesos/agent"
	"github.com/hashfleet/hashfleet/internal/parts"
	"github.com/hashfleet/hashfleet/internal/parts/partstest"
	"github.com/hashfleet/hashfleet/internal/porttest"
	"github.com/hashfleet/hashfleet/internal/scheduler"
)

const fakeImage = "hashfleet-scheduler-faketask:test"

// needDocker skips (fails under HASHFLEET_REQUIRE_INTEGRATION=1) without a
// Docker Engine, fails with one that does not answer, builds the FROM
// scratch faketask image, and returns the
// docker0 bridge address, which both the host and bridged containers reach.
func needDocker(t *testing.T) string {
	t.Helper()
	partstest.Require(t, parts.Docker)
	if err := agent.DockerAvailable(t.Context(), ""); err != nil {
		t.Fatalf("docker engine answers the CLI but not the agent's API client: %v", err)
	}
	missing := func(why string) { partstest.Missing(t, parts.Docker, "%s", why) }
	ifc, err := net.InterfaceByName("docker0")
	if err != nil {
		missing("no docker0 bridge: " + err.Error())
	}
	addrs, _ := ifc.Addrs()
	gw := ""
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil {
			gw = ipn.IP.String()
		}
	}
	if gw == "" {
		missing("docker0 has no IPv4 address")
	}
	dir, err := fakeTask()
	if err != nil {
		t.Fatal(err)
	}
	df, _ := os.ReadFile("testdata/faketask/Dockerfile")
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), df, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("docker", "build", "-q", "-t", fakeImage, dir).CombinedOutput(); err != nil {
		t.Fatalf("docker build: %v\n%s", err, out)
	}
	// Remove the image when the test ends (after the containers, whose
	// cleanups run first), so repeated runs leave no dangling images.
	t.Cleanup(func() { _ = exec.Command("docker", "image", "rm", "-f", fakeImage).Run() })
	return gw
}

// TestClusterDockerBridge runs the server and workers as Docker containers
// (BRIDGE network, port mappings from the offered ports, TCP health check
// on the container port), then kills the server container's process.
func TestClusterDockerBridge(t *testing.T) {
	gw := needDocker(t)
	c := newCluster(t, 0, "", nil)
	dockerAgent(t, c, gw)

	cfg := c.config(t, t.TempDir())
	cfg.TaskMode, cfg.Image, cfg.DockerNetwork = scheduler.ModeDocker, fakeImage, mesos.NetworkBridge
	cfg.Policy.MaxWorkers = 2
	r := start(t, cfg)
	st := waitFor(t, r.s, 60*time.Second, "server and 2 workers in containers", steady(2))
	if got, err := httpGet(fmt.Sprintf("http://%s:%d/rpcpw", gw, st.Server.Ports[1])); err != nil || got != testRPCPassword {
		t.Fatalf("server container environment via the mapped HTTP port: got %q %v", got, err)
	}
	old := st.Server.ID
	httpGet(fmt.Sprintf("http://%s:%d/exit", gw, st.Server.Ports[1]))
	waitFor(t, r.s, 60*time.Second, "a new server container with 2 workers", func(st scheduler.Status) bool {
		return st.Server != nil && st.Server.ID != old && steady(2)(st)
	})
	if n := r.maxServers(); n != 1 {
		t.Fatalf("at most one live server at a time: saw %d", n)
	}
}

// dockerAgent adds an agent with the Docker containerizer, advertising
// host, with a block of 10 ports of its own.
func dockerAgent(t *testing.T, c *cluster, host string) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	base := porttest.Block(t, 10)
	rs, err := agent.ParseResources(fmt.Sprintf("cpus:4;mem:2048;ports:[%d-%d]", base, base+9))
	if err != nil {
		t.Fatal(err)
	}
	a, err := agent.New(agent.Config{Hostname: host, Resources: rs, WorkDir: t.TempDir(),
		Containerizers: []string{agent.ContainerizerProcess, agent.ContainerizerDocker},
		StatusRetry:    time.Second, DockerStopGrace: time.Second, ShutdownGrace: 2 * time.Second, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	id, err := c.m.RegisterAgent(ctx, a.Hostname(), a.Resources(), a)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { a.Run(ctx, id, c.m); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

// TestClusterDockerUser runs the server and workers on a user-defined
// Docker network (Mesos USER networking: network_infos[0].name), with the
// server's ports mapped as with BRIDGE and reached on the network's
// gateway, and HASHFLEET_HEALTH_TCP in the server's environment.
func TestClusterDockerUser(t *testing.T) {
	needDocker(t)
	network := fmt.Sprintf("hashfleet-sched-test-%d", os.Getpid())
	docker := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("docker", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("docker %v: %v: %s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	docker("network", "create", "--label", "io.hashfleet.scheduler.test=1", network)
	t.Cleanup(func() { exec.Command("docker", "network", "rm", network).Run() }) // after the agent removed its containers
	gw, _, _ := strings.Cut(docker("network", "inspect", "--format", "{{(index .IPAM.Config 0).Gateway}}", network), "/")

	c := newCluster(t, 0, "", nil)
	dockerAgent(t, c, gw)
	cfg := c.config(t, t.TempDir())
	cfg.TaskMode, cfg.Image = scheduler.ModeDocker, fakeImage
	cfg.DockerNetwork, cfg.DockerNetworkName = mesos.NetworkUser, network
	cfg.Policy.MaxWorkers = 2
	r := start(t, cfg)
	st := waitFor(t, r.s, 60*time.Second, "server and 2 workers on the user network", steady(2))

	base := fmt.Sprintf("http://%s:%d", gw, st.Server.Ports[1])
	checks := []struct{ path, want string }{
		{path: "/rpcpw", want: testRPCPassword},
		{path: "/healthtcp", want: fmt.Sprintf("127.0.0.1:%d", scheduler.ContainerStratumPort)},
	}
	for _, ck := range checks {
		if got, err := httpGet(base + ck.path); err != nil || got != ck.want {
			t.Errorf("server %s via the mapped HTTP port on the gateway: got %q %v, want %q", ck.path, got, err, ck.want)
		}
	}
	ids := strings.Fields(docker("ps", "-q", "--filter", "network="+network))
	if len(ids) != 3 {
		t.Fatalf("containers on %s: got %d, want 3 (server and 2 workers)", network, len(ids))
	}
	for _, id := range ids {
		if got := docker("inspect", "--format", "{{.HostConfig.NetworkMode}}", id); got != network {
			t.Errorf("container %s network mode: got %q, want %q", id, got, network)
		}
	}
}
