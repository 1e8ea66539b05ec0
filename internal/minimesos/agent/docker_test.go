package agent

import (
	"bufio"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashfleet/hashfleet/internal/dockerapi"
	"github.com/hashfleet/hashfleet/internal/mesos"
	"github.com/hashfleet/hashfleet/internal/parts"
	"github.com/hashfleet/hashfleet/internal/parts/partstest"
	"github.com/hashfleet/hashfleet/internal/porttest"
)

const testImage = "hashfleet-minimesos-dockertask:test"

// needDocker skips (fails under HASHFLEET_REQUIRE_INTEGRATION=1) without a
// Docker Engine, fails with one that does not answer, then builds the FROM scratch test image from a
// static Go binary; no registry is needed.
func needDocker(t *testing.T) {
	t.Helper()
	partstest.Require(t, parts.Docker)
	// The agent talks to the engine's API itself, not through the CLI:
	// the engine answered the CLI, so this must answer too.
	if err := DockerAvailable(t.Context(), ""); err != nil {
		t.Fatalf("docker engine answers the CLI but not the agent's API client: %v", err)
	}
	dir := t.TempDir()
	build := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(dir, "dockertask"), "./testdata/dockertask")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build dockertask: %v\n%s", err, out)
	}
	df, _ := os.ReadFile("testdata/dockertask/Dockerfile")
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), df, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("docker", "build", "-q", "-t", testImage, dir).CombinedOutput(); err != nil {
		t.Fatalf("docker build: %v\n%s", err, out)
	}
	// Remove the image when the test ends (after the containers, whose
	// cleanups run first), so repeated runs leave no dangling images.
	t.Cleanup(func() { _ = exec.Command("docker", "image", "rm", "-f", testImage).Run() })
}

func dockerTask(id string, network mesos.DockerNetwork, ports []uint64, maps []mesos.PortMapping, args ...string) mesos.TaskInfo {
	f := false
	res := []mesos.Resource{mesos.ScalarResource("cpus", 0.1), mesos.ScalarResource("mem", 64)}
	if len(ports) > 0 {
		res = append(res, mesos.PortsResource(ports...))
	}
	return mesos.TaskInfo{Name: id, TaskID: mesos.TaskID{Value: id}, AgentID: mesos.AgentID{Value: "agent-1"},
		Resources: res, Command: &mesos.CommandInfo{Shell: &f, Arguments: args},
		Container: &mesos.ContainerInfo{Type: mesos.ContainerDocker,
			Docker: &mesos.DockerInfo{Image: testImage, Network: network, PortMappings: maps}}}
}

// containersOf lists the containers the agent created (by work-dir label).
func containersOf(t *testing.T, a *Agent) []string {
	t.Helper()
	list, err := dockerapi.New("").ListContainers(context.Background(), map[string][]string{"label": {labelWorkDir + "=" + a.cfg.WorkDir}})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range list {
		ids = append(ids, c.ID)
	}
	return ids
}

// TestDockerContainerizer runs DOCKER tasks through the Docker Engine:
// BRIDGE with a port mapping and a TCP health check, HOST with an exit
// status, the port-mapping checks, a missing image, and cleanup.
func TestDockerContainerizer(t *testing.T) {
	needDocker(t)
	a := startAgent(t, true, func(c *Config) { c.Containerizers = []string{ContainerizerProcess, ContainerizerDocker} })

	t.Run("bridge with port mapping and health check", func(t *testing.T) {
		hp := uint32(porttest.Port(t))
		ti := dockerTask("web", mesos.NetworkBridge, []uint64{uint64(hp)},
			[]mesos.PortMapping{{HostPort: hp, ContainerPort: 8080}}, "-listen", ":8080")
		// Failures within the grace period do not count, as in Mesos: a
		// loaded machine may start the container's listener late.
		zero, short, grace := 0.0, 0.2, 30.0
		ti.HealthCheck = &mesos.HealthCheck{Type: mesos.HealthTCP, TCP: &mesos.TCPCheckInfo{Port: 8080},
			DelaySeconds: &zero, IntervalSeconds: &short, GracePeriodSeconds: &grace}
		a.LaunchTask(testFW, ti)
		run := a.m.expect(t, "web", mesos.TaskRunning)
		cs := run.st.ContainerStatus
		if cs == nil || len(cs.NetworkInfos) != 1 || cs.NetworkInfos[0].IPAddresses[0].IPAddress == "" {
			t.Fatalf("container status: got %+v, want the container IP", cs)
		}
		h := a.m.next(t, "web")
		if h.st.Healthy == nil || !*h.st.Healthy {
			t.Fatalf("health: got %+v", h.st)
		}
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(int(hp)), 5*time.Second)
		if err != nil {
			t.Fatalf("dial mapped port: %v", err)
		}
		line, _ := bufio.NewReader(c).ReadString('\n')
		c.Close()
		if line != "hello from container\n" {
			t.Errorf("greeting: got %q", line)
		}
		a.KillTask(*testFW.ID, ti.TaskID, nil)
		a.m.expect(t, "web", mesos.TaskKilled)
		out, _ := os.ReadFile(filepath.Join(findSandbox(t, a.Agent, "web"), "stdout"))
		if !strings.Contains(string(out), "dockertask started web /mnt/mesos/sandbox") || !strings.Contains(string(out), "got SIGTERM") {
			t.Errorf("sandbox stdout: got %q", out)
		}
	})

	tests := []struct {
		name    string
		task    mesos.TaskInfo
		state   mesos.TaskState
		reason  string
		message string
	}{
		{name: "host exit status", task: dockerTask("exit3", mesos.NetworkHost, nil, nil, "-exit", "3"),
			state: mesos.TaskFailed, message: "Command exited with status 3"},
		{name: "host exit 0", task: dockerTask("exit0", "", nil, nil),
			state: mesos.TaskFinished},
		{name: "mapping outside ports", task: dockerTask("badport", mesos.NetworkBridge, []uint64{31000},
			[]mesos.PortMapping{{HostPort: 31001, ContainerPort: 80}}),
			state: mesos.TaskFailed, reason: mesos.ReasonContainerLaunchFailed, message: "Port [31001] not included in resources"},
		{name: "mapping on host network", task: dockerTask("hostmap", mesos.NetworkHost, []uint64{31000},
			[]mesos.PortMapping{{HostPort: 31000, ContainerPort: 80}}),
			state: mesos.TaskFailed, reason: mesos.ReasonContainerLaunchFailed, message: "only supported for bridge"},
		{name: "missing image", task: func() mesos.TaskInfo {
			ti := dockerTask("noimage", mesos.NetworkHost, nil, nil)
			ti.Container.Docker.Image = "hashfleet-no-such-image:never"
			return ti
		}(), state: mesos.TaskFailed, reason: mesos.ReasonContainerLaunchFailed, message: "No such image"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a.LaunchTask(testFW, tt.task)
			u := a.m.expect(t, tt.task.TaskID.Value, tt.state)
			if u.st.Reason != tt.reason {
				t.Errorf("reason: got %q, want %q", u.st.Reason, tt.reason)
			}
			if !strings.Contains(u.st.Message, tt.message) {
				t.Errorf("message: got %q, want it to contain %q", u.st.Message, tt.message)
			}
		})
	}
	// Finished tasks' containers are removed; a running one is removed
	// when the agent stops.
	a.LaunchTask(testFW, dockerTask("lingering", mesos.NetworkNone, nil, nil, "-listen", "127.0.0.1:9"))
	a.m.expect(t, "lingering", mesos.TaskRunning)
	if got := containersOf(t, a.Agent); len(got) != 1 {
		t.Errorf("containers while one task runs: got %d, want 1", len(got))
	}
	a.stop(t)
	if got := containersOf(t, a.Agent); len(got) != 0 {
		t.Errorf("containers after agent stop: got %v, want none", got)
	}
}
