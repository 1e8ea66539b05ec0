package scheduler_test

// The cluster scenarios on real Apache Mesos (mesos-master and mesos-agent
// from ../shared/mesos, see internal/mesos/mesostest): the same scheduler,
// the same stand-in tasks fetched from a URI, real agents running them
// under the Mesos containerizer and the command executor. They skip where
// Mesos is absent and fail under HASHFLEET_REQUIRE_INTEGRATION=1.

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashfleet/hashfleet/internal/mesos"
	"github.com/hashfleet/hashfleet/internal/mesos/mesostest"
	"github.com/hashfleet/hashfleet/internal/scheduler"
)

// realCluster is a real Mesos cluster plus an HTTP server handing out the
// task binary, as the scheduler's /bin/hashfleet does.
type realCluster struct {
	*mesostest.Cluster
	binURL string
}

// newRealCluster starts a real cluster serving exe (default: faketask).
func newRealCluster(t *testing.T, mc mesostest.Config, exe string) *realCluster {
	t.Helper()
	if exe == "" {
		dir, err := fakeTask()
		if err != nil {
			t.Fatal(err)
		}
		exe = filepath.Join(dir, "hashfleet")
	}
	rc := &realCluster{Cluster: mesostest.Start(t, mc)}
	bin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, exe)
	}))
	t.Cleanup(bin.Close)
	rc.binURL = bin.URL + "/bin/hashfleet"
	return rc
}

func (rc *realCluster) config(t *testing.T, stateDir string) scheduler.Config {
	cfg := schedConfig(t, rc.Addr, rc.binURL, stateDir)
	// Real agents start executors and run health checks more slowly than
	// the embedded ones on a loaded machine (these tests run in parallel).
	cfg.HealthGrace, cfg.LaunchTimeout = 120*time.Second, 120*time.Second
	return cfg
}

// killServerProcess sends SIGKILL to the server task's own process (not
// its executor), as `kill -9` of the server would.
func (rc *realCluster) killServerProcess(t *testing.T, taskID string) {
	t.Helper()
	pids := rc.TaskPIDs(taskID)
	if len(pids) != 1 {
		t.Fatalf("processes of task %s: got %v, want exactly one", taskID, pids)
	}
	if err := syscall.Kill(pids[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
}

// teardown removes the framework of cfg from the master (its tasks are
// killed) and waits until /state lists it as completed.
func (rc *realCluster) teardown(t *testing.T, cfg scheduler.Config, fw string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tcfg := cfg
	tcfg.NodeRPC, tcfg.Payout, tcfg.BinaryURL = "", "", ""
	if err := scheduler.Teardown(ctx, tcfg); err != nil {
		t.Fatalf("teardown: %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := rc.state(t)
		if !slices.ContainsFunc(st.Frameworks, func(f realFramework) bool { return f.ID == fw }) &&
			slices.ContainsFunc(st.CompletedFrameworks, func(f realFramework) bool { return f.ID == fw }) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("framework %s still active after teardown: %+v", fw, st.Frameworks)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type realTask struct {
	ID       string          `json:"id"`
	State    mesos.TaskState `json:"state"`
	SlaveID  string          `json:"slave_id"`
	Statuses []struct {
		State mesos.TaskState `json:"state"`
	} `json:"statuses"`
}

type realFramework struct {
	ID             string     `json:"id"`
	Active         bool       `json:"active"`
	Connected      bool       `json:"connected"`
	Tasks          []realTask `json:"tasks"`
	CompletedTasks []realTask `json:"completed_tasks"`
}

type realState struct {
	ID                  string          `json:"id"`
	Frameworks          []realFramework `json:"frameworks"`
	CompletedFrameworks []realFramework `json:"completed_frameworks"`
}

func (rc *realCluster) state(t *testing.T) realState {
	t.Helper()
	var st realState
	rc.GetJSON("/state", &st)
	return st
}

// running returns the ids of f's tasks in TASK_RUNNING on the master.
func (f realFramework) running() map[string]bool {
	out := map[string]bool{}
	for _, tk := range f.Tasks {
		if tk.State == mesos.TaskRunning {
			out[tk.ID] = true
		}
	}
	return out
}

func (st realState) framework(id string) (realFramework, bool) {
	for _, f := range st.Frameworks {
		if f.ID == id {
			return f, true
		}
	}
	return realFramework{}, false
}

// TestRealMesosScenarios runs the scenarios that can share one real
// cluster (with HTTP framework authentication on) one after another; each
// ends with a teardown of its framework, so the next starts on free
// agents.
func TestRealMesosScenarios(t *testing.T) {
	t.Parallel() // its own cluster and port block; mostly waiting on real daemons
	const principal, secret = "hashfleet", "real-s3cret"
	rc := newRealCluster(t, mesostest.Config{Agents: 2, Credentials: map[string]string{principal: secret}}, "")
	cfgFor := func(t *testing.T) scheduler.Config {
		cfg := rc.config(t, t.TempDir())
		cfg.Principal, cfg.Secret = principal, secret
		return cfg
	}
	t.Run("WrongSecret", func(t *testing.T) { realWrongSecret(t, rc, cfgFor(t)) })
	t.Run("SchedulerRestart", func(t *testing.T) { realSchedulerRestart(t, rc, cfgFor(t)) })
	t.Run("MasterRestart", func(t *testing.T) { realMasterRestart(t, rc, cfgFor(t)) })
	t.Run("AgentRestart", func(t *testing.T) { realAgentRestart(t, rc, cfgFor(t)) })
	t.Run("UnknownUser", func(t *testing.T) { realUnknownUser(t, rc, cfgFor(t)) })
}

// realUnknownUser: real agents run tasks as FrameworkInfo.user
// (--switch_user) and fail them when the agent has no such user. The
// scheduler reports the cause, naming --user, and launches no worker.
func realUnknownUser(t *testing.T, rc *realCluster, cfg scheduler.Config) {
	const user = "hashfleet-no-such-user"
	cfg.User = user
	r := start(t, cfg)
	st := waitFor(t, r.s, 300*time.Second, "the missing user reported", func(st scheduler.Status) bool {
		return strings.Contains(st.LastError, user) && strings.Contains(st.LastError, "--user")
	})
	t.Logf("scheduler error: %s", st.LastError)
	for _, tv := range st.Tasks {
		if tv.Role == scheduler.RoleWorker {
			t.Fatalf("worker %s launched without a running server", tv.ID)
		}
		if terminal(tv.State) && !strings.Contains(tv.Message, user) {
			t.Errorf("task %s %s: message %q does not name the user", tv.ID, tv.State, tv.Message)
		}
	}
	r.stop()
	rc.teardown(t, cfg, st.FrameworkID)
}

// realWrongSecret: the real master refuses a wrong secret (401); the
// scheduler says so without the secret and launches nothing; the right
// secret subscribes.
func realWrongSecret(t *testing.T, rc *realCluster, cfg scheduler.Config) {
	right := cfg.Secret
	cfg.Secret = "wrong-pw"
	r := start(t, cfg)
	st := waitFor(t, r.s, 30*time.Second, "a clear auth error", func(st scheduler.Status) bool {
		return strings.Contains(st.LastError, "401") && strings.Contains(st.LastError, "credentials")
	})
	if st.Connected || st.FrameworkID != "" || len(st.Tasks) != 0 {
		t.Fatalf("connected=%v framework=%q tasks=%d with a wrong secret", st.Connected, st.FrameworkID, len(st.Tasks))
	}
	for _, s := range []string{"wrong-pw", right} {
		if strings.Contains(st.LastError, s) {
			t.Fatalf("status leaks a secret: %q", st.LastError)
		}
	}
	if fs := rc.state(t).Frameworks; len(fs) != 0 {
		t.Fatalf("real master frameworks after a wrong secret: got %d, want 0", len(fs))
	}
	r.stop()
	cfg.Secret = right
	r2 := start(t, cfg)
	st = waitFor(t, r2.s, 300*time.Second, "server and 3 workers with the right secret", steady(3))
	r2.stop()
	rc.teardown(t, cfg, st.FrameworkID)
}

// realSchedulerRestart: a scheduler restarted from its stored state gets
// the same framework id back from the real master and adopts the running
// tasks: no new launch, no duplicate server.
func realSchedulerRestart(t *testing.T, rc *realCluster, cfg scheduler.Config) {
	r1 := start(t, cfg)
	st := waitFor(t, r1.s, 300*time.Second, "server and 3 workers", steady(3))
	fw, before := st.FrameworkID, activeIDs(st)
	r1.stop()
	r2 := start(t, cfg)
	st = waitFor(t, r2.s, 300*time.Second, "re-subscription and reconciliation", func(st scheduler.Status) bool {
		return st.Connected && st.Reconciling == 0 && steady(3)(st)
	})
	if st.FrameworkID != fw {
		t.Fatalf("framework id: got %q, want the stored %q", st.FrameworkID, fw)
	}
	r2.stop() // a barrier: every launch the scheduler decided has been sent
	rf, _ := rc.state(t).framework(fw)
	if got := rf.running(); len(got) != len(before) || len(rf.Tasks) != len(before) {
		t.Fatalf("tasks on the real master after the restart: got %v, want the adopted %v", rf.Tasks, before)
	}
	for id := range before {
		if !rf.running()[id] {
			t.Fatalf("task %s not running on the master after the restart", id)
		}
	}
	rc.teardown(t, cfg, fw)
}

// realMasterRestart: the real master is killed and restarted on the same
// work dir (replicated-log registry); the agents re-register with their
// tasks, the scheduler re-subscribes with the same framework id,
// reconciles, and keeps its tasks: nothing relaunched, nothing doubled.
func realMasterRestart(t *testing.T, rc *realCluster, cfg scheduler.Config) {
	r := start(t, cfg)
	st := waitFor(t, r.s, 300*time.Second, "server and 3 workers", steady(3))
	fw, before, subs := st.FrameworkID, activeIDs(st), st.Subscriptions
	oldMaster := rc.state(t).ID
	rc.StopMaster(syscall.SIGKILL)
	waitFor(t, r.s, 30*time.Second, "the scheduler to notice the master is gone", func(st scheduler.Status) bool {
		return !st.Connected
	})
	rc.StartMaster()
	rc.WaitAgents(2)
	st = waitFor(t, r.s, 300*time.Second, "re-subscription and reconciliation", func(st scheduler.Status) bool {
		return st.Connected && st.Subscriptions > subs && st.Reconciling == 0 && steady(3)(st)
	})
	if st.FrameworkID != fw {
		t.Fatalf("framework id after the master restart: got %q, want %q", st.FrameworkID, fw)
	}
	after := activeIDs(st)
	if len(after) != len(before) {
		t.Fatalf("active tasks after the master restart: got %v, want %v", after, before)
	}
	for id := range before {
		if after[id] != string(mesos.TaskRunning) {
			t.Fatalf("task %s after the master restart: %q, want TASK_RUNNING", id, after[id])
		}
	}
	ms := rc.state(t)
	if ms.ID == oldMaster {
		t.Fatalf("master id unchanged (%s): not a new master process", ms.ID)
	}
	rf, ok := ms.framework(fw)
	if !ok || !rf.Connected || len(rf.running()) != len(before) {
		t.Fatalf("framework %s on the new master: %+v, want connected with %d running tasks", fw, rf, len(before))
	}
	if n := r.maxServers(); n != 1 {
		t.Fatalf("at most one live server at a time: saw %d", n)
	}
	r.stop()
	rc.teardown(t, cfg, fw)
}

// realAgentRestart: the agent running the server is killed (SIGKILL) and
// restarted on its work dir. With the framework checkpointing and the
// agent's --recover=reconnect (Mesos's default), it recovers the
// executors and the tasks keep running; if it cannot (executors that
// miss the re-registration timeout on a loaded machine are killed), the
// scheduler replaces them. Either way: never doubled.
func realAgentRestart(t *testing.T, rc *realCluster, cfg scheduler.Config) {
	r := start(t, cfg)
	st := waitFor(t, r.s, 300*time.Second, "server and 3 workers", steady(3))
	fw, before := st.FrameworkID, activeIDs(st)
	idx := rc.agentIndex(t, st.Server.AgentID)
	rc.StopAgent(idx, syscall.SIGKILL)
	rc.StartAgent(idx)
	rc.WaitAgents(2)
	st = waitFor(t, r.s, 300*time.Second, "steady after the agent restart", func(st scheduler.Status) bool {
		return st.Reconciling == 0 && steady(3)(st)
	})
	if got, err := httpGet(fmt.Sprintf("http://127.0.0.1:%d/rpcpw", st.Server.Ports[1])); err != nil || got != testRPCPassword {
		t.Fatalf("server after the agent restart: got %q %v", got, err)
	}
	r.stop()
	rf, _ := rc.state(t).framework(fw)
	if n := len(rf.running()); n != len(before) || len(rf.Tasks) != len(before) {
		t.Fatalf("tasks on the master after the agent restart: got %d running of %v, want exactly %d", n, rf.Tasks, len(before))
	}
	survived := 0
	for id := range before {
		if rf.running()[id] {
			survived++
		}
	}
	t.Logf("tasks that survived the agent restart: %d of %d (the rest replaced)", survived, len(before))
	if n := r.maxServers(); n != 1 {
		t.Fatalf("at most one live server at a time: saw %d", n)
	}
	rc.teardown(t, cfg, fw)
}

// agentIndex maps a Mesos agent id to the harness's agent index by its
// port, as /master/slaves reports it.
func (rc *realCluster) agentIndex(t *testing.T, agentID string) int {
	t.Helper()
	var s struct {
		Slaves []struct {
			ID  string `json:"id"`
			PID string `json:"pid"`
		} `json:"slaves"`
	}
	rc.GetJSON("/master/slaves", &s)
	for _, a := range s.Slaves {
		if a.ID != agentID {
			continue
		}
		for i, ag := range rc.Agents {
			if strings.HasSuffix(a.PID, fmt.Sprintf(":%d", ag.Port)) {
				return i
			}
		}
	}
	t.Fatalf("agent %s not found in /master/slaves %+v", agentID, s.Slaves)
	return -1
}

// TestRealMesosReservedRole: agents whose cpus and mem are partly
// reserved for the framework's role (--resources "cpus(R):1;cpus:1;…").
// An offer to role R holds both; the scheduler sizes tasks from all of
// it and launches each task on the offered pieces, reservation and
// allocation included, so the master accepts every launch (no TASK_ERROR)
// and all four tasks fit only by using the reserved cpus.
func TestRealMesosReservedRole(t *testing.T) {
	t.Parallel() // its own cluster and port block; mostly waiting on real daemons
	const role = "hashfleet-miners"
	rc := newRealCluster(t, mesostest.Config{Agents: 2, AgentResources: func(int) string {
		return fmt.Sprintf("cpus(%s):1;cpus:1;mem(%s):256;mem:768", role, role)
	}}, "")
	cfg := rc.config(t, t.TempDir())
	cfg.Role = role
	r := start(t, cfg)
	st := waitFor(t, r.s, 300*time.Second, "server and 3 workers on 4 cpus, 2 of them reserved", steady(3))
	r.stop()
	for _, tv := range st.Tasks {
		if tv.State == string(mesos.TaskError) || tv.State == string(mesos.TaskDropped) {
			t.Errorf("task %s: %s %s", tv.ID, tv.State, tv.Message)
		}
	}
	var agents struct {
		Slaves []struct {
			UsedResources     map[string]any `json:"used_resources"`
			ReservedResources map[string]struct {
				CPUs float64 `json:"cpus"`
			} `json:"reserved_resources"`
		} `json:"slaves"`
	}
	rc.GetJSON("/master/slaves", &agents)
	used := 0.0
	for _, a := range agents.Slaves {
		if cpus, ok := a.UsedResources["cpus"].(float64); ok {
			used += cpus
		}
	}
	if used != 4 {
		t.Fatalf("cpus in use on the agents: got %v, want all 4 (the reserved ones too)", used)
	}
}

// TestRealMesosDocker: Docker tasks on a real agent with
// --containerizers=docker,mesos (the image built locally, no registry):
// the server and workers run as containers under mesos-docker-executor,
// BRIDGE networking with the server's ports mapped from the offer, the
// workers reaching it on the agent's advertised address (the docker0
// gateway); kill of the server container's process brings up a new one.
func TestRealMesosDocker(t *testing.T) {
	// Not parallel: the Docker engine is slow enough under load.
	gw := needDocker(t)
	rc := newRealCluster(t, mesostest.Config{Agents: 1, Containerizers: "docker,mesos", Hostname: gw}, "")
	t.Cleanup(func() { removeMesosContainers(t, rc.Dir) })
	cfg := rc.config(t, t.TempDir())
	cfg.TaskMode, cfg.Image, cfg.DockerNetwork = scheduler.ModeDocker, fakeImage, mesos.NetworkBridge
	cfg.Policy.MaxWorkers = 2
	r := start(t, cfg)
	st := waitFor(t, r.s, 300*time.Second, "server and 2 workers in containers", steady(2))
	if got, err := httpGet(fmt.Sprintf("http://%s:%d/rpcpw", gw, st.Server.Ports[1])); err != nil || got != testRPCPassword {
		t.Fatalf("server container environment via the mapped HTTP port: got %q %v", got, err)
	}
	old := st.Server.ID
	httpGet(fmt.Sprintf("http://%s:%d/exit", gw, st.Server.Ports[1]))
	waitFor(t, r.s, 300*time.Second, "a new server container with 2 workers", func(st scheduler.Status) bool {
		return st.Server != nil && st.Server.ID != old && steady(2)(st)
	})
	if n := r.maxServers(); n != 1 {
		t.Fatalf("at most one live server at a time: saw %d", n)
	}
	r.stop()
	rc.teardown(t, cfg, st.FrameworkID)
}

// removeMesosContainers removes the containers the real agent started
// (named mesos-…, with a sandbox under dir mounted), which outlive it.
func removeMesosContainers(t *testing.T, dir string) {
	out, err := exec.Command("docker", "ps", "-aq", "--filter", "name=mesos-").Output()
	if err != nil {
		return
	}
	for _, id := range strings.Fields(string(out)) {
		mounts, _ := exec.Command("docker", "inspect", "--format", "{{range .Mounts}}{{.Source}} {{end}}", id).Output()
		if strings.Contains(string(mounts), dir) {
			exec.Command("docker", "rm", "-f", id).Run()
		}
	}
}
