package scheduler_test

// Scripted runs of the real scheduler against the embedded master and
// agents (internal/minimesos) over real HTTP on loopback. Tasks run
// testdata/faketask, a stand-in for "hashfleet server"/"hashfleet worker"
// that listens on the Stratum/HTTP ports it was given (server) or holds a
// TCP connection to the server address it was told (worker), fetched by
// the agent from a URI as the scheduler's command tasks are.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashfleet/hashfleet/internal/backoff"
	"github.com/hashfleet/hashfleet/internal/mesos"
	"github.com/hashfleet/hashfleet/internal/mesos/zktest"
	"github.com/hashfleet/hashfleet/internal/minimesos/agent"
	"github.com/hashfleet/hashfleet/internal/minimesos/master"
	"github.com/hashfleet/hashfleet/internal/parts/partstest"
	"github.com/hashfleet/hashfleet/internal/porttest"
	"github.com/hashfleet/hashfleet/internal/scheduler"
)

const testRPCPassword = "rpc-s3cret-value"

// fakeTask builds testdata/faketask (static, CGO_ENABLED=0) once per
// test process and returns the directory holding it as "hashfleet".
var fakeTask = sync.OnceValues(func() (string, error) {
	fakeTaskBuilt = true
	dir, err := os.MkdirTemp("", "hashfleet-faketask-")
	if err != nil {
		return "", err
	}
	build := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(dir, "hashfleet"), "./testdata/faketask")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build faketask: %v\n%s", err, out)
	}
	return dir, nil
})

// fakeTaskBuilt is set once a test asked for the fake task (so TestMain
// removes it without building it first).
var fakeTaskBuilt bool

func TestMain(m *testing.M) {
	code := m.Run()
	if fakeTaskBuilt {
		if dir, err := fakeTask(); err == nil {
			os.RemoveAll(dir)
		}
	}
	partstest.Report() // which integration parts were missing (docs/testing.md)
	os.Exit(code)
}

// cluster is an embedded master with process agents on loopback.
type cluster struct {
	t       *testing.T
	m       *master.Master
	addr    string // master host:port
	url     string
	binURL  string
	agents  map[string]context.CancelFunc // agent id -> stop
	agentWG sync.WaitGroup
	wrap    func(http.Handler) http.Handler
}

func newCluster(t *testing.T, nAgents int, res string, wrap func(http.Handler) http.Handler) *cluster {
	t.Helper()
	return newClusterWith(t, nAgents, res, wrap, master.Config{})
}

// newClusterWith is newCluster with further master settings in mc (e.g.
// Credentials); its address, allocation interval and logger are set here.
func newClusterWith(t *testing.T, nAgents int, res string, wrap func(http.Handler) http.Handler, mc master.Config) *cluster {
	t.Helper()
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mc.Addr, mc.AllocationInterval, mc.Logger = ln.Addr().String(), 100*time.Millisecond, log
	m, err := master.New(mc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &cluster{t: t, m: m, addr: ln.Addr().String(), url: "http://" + ln.Addr().String(), agents: map[string]context.CancelFunc{}}
	var h http.Handler = m.Handler()
	if wrap != nil {
		h = wrap(h)
	}
	srv := &http.Server{Handler: h}
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	go srv.Serve(ln)

	dir, err := fakeTask()
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "hashfleet")
	bin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, exe)
	}))
	c.binURL = bin.URL + "/bin/hashfleet"

	for range nAgents {
		base := porttest.Block(t, 21)
		c.addAgent(ctx, fmt.Sprintf("%s;ports:[%d-%d]", res, base, base+20), log)
	}
	t.Cleanup(func() {
		for _, stop := range c.agents {
			stop()
		}
		c.agentWG.Wait()
		cancel()
		srv.Close()
		bin.Close()
		<-done
	})
	return c
}

func (c *cluster) addAgent(ctx context.Context, res string, log *slog.Logger) string {
	rs, err := agent.ParseResources(res)
	if err != nil {
		c.t.Fatal(err)
	}
	a, err := agent.New(agent.Config{Hostname: "127.0.0.1", Resources: rs, WorkDir: c.t.TempDir(),
		Containerizers: []string{agent.ContainerizerProcess}, StatusRetry: time.Second, StatusRetryMax: 5 * time.Second,
		KillGrace: time.Second, ShutdownGrace: time.Second, Logger: log})
	if err != nil {
		c.t.Fatal(err)
	}
	id, err := c.m.RegisterAgent(ctx, a.Hostname(), a.Resources(), a)
	if err != nil {
		c.t.Fatal(err)
	}
	actx, stop := context.WithCancel(ctx)
	c.agents[id.Value] = stop
	done := make(chan struct{})
	c.agentWG.Go(func() { a.Run(actx, id, c.m); close(done) })
	// Registered after the agent's TempDir, so it runs before that is
	// removed (cleanups run last first): the agent and its tasks stop
	// writing into the work dir before it goes.
	c.t.Cleanup(func() { stop(); <-done })
	return id.Value
}

// removeAgent stops an agent (its tasks die) and removes it from the master.
func (c *cluster) removeAgent(id string) {
	c.agents[id]()
	delete(c.agents, id)
	if err := c.m.RemoveAgent(context.Background(), mesos.AgentID{Value: id}); err != nil {
		c.t.Fatal(err)
	}
}

func (c *cluster) config(t *testing.T, stateDir string) scheduler.Config {
	return schedConfig(t, c.addr, c.binURL, stateDir)
}

// schedConfig is the scheduler configuration of the cluster tests: the
// master at addr, command tasks fetching binURL, state in stateDir, fast
// health checks and backoffs.
func schedConfig(t *testing.T, addr, binURL, stateDir string) scheduler.Config {
	det, err := mesos.NewStaticDetector(addr)
	if err != nil {
		t.Fatal(err)
	}
	return scheduler.Config{
		Master: addr, Detector: det,
		NodeRPC: "http://127.0.0.1:18443", RPCUser: "rpc", RPCPassword: testRPCPassword, Payout: "bcrt1qp69lntsjkuzccuwdgqskuuatgu7umyvrnhr4lv",
		TaskMode: scheduler.ModeCommand, BinaryURL: binURL, StateDir: stateDir,
		HealthDelay: 200 * time.Millisecond, HealthInterval: 300 * time.Millisecond, HealthGrace: 10 * time.Second,
		KillGrace: time.Second, LaunchTimeout: 10 * time.Second,
		Backoff: backoff.Backoff{Min: 50 * time.Millisecond, Max: 500 * time.Millisecond},
		Policy: scheduler.PolicyConfig{WorkerCPUs: 1, WorkerMem: 64, MaxWorkers: 3,
			BackoffMin: 200 * time.Millisecond, BackoffMax: 2 * time.Second, KillRetry: 2 * time.Second},
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo})),
	}
}

// runner runs a scheduler in the background and checks, every 20 ms, that
// it never has two live servers.
type runner struct {
	s      *scheduler.Scheduler
	cancel context.CancelFunc
	done   chan error
	mu     sync.Mutex
	maxSrv int
	seen   map[string]bool // workers seen so far
	early  []string        // workers first seen while their server was not healthy
}

func start(t *testing.T, cfg scheduler.Config) *runner {
	t.Helper()
	s, err := scheduler.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &runner{s: s, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- s.Run(ctx) }()
	go func() {
		tk := time.NewTicker(20 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tk.C:
			}
			r.observe(s.Status())
		}
	}()
	t.Cleanup(r.stop)
	return r
}

// observe records the number of live servers and, for each worker seen
// for the first time, whether its server was healthy then (a server
// stays healthy once ready, so a worker launched before that shows here).
func (r *runner) observe(st scheduler.Status) {
	n := 0
	healthy := map[string]bool{}
	for _, tv := range st.Tasks {
		if tv.Role == scheduler.RoleServer && !tv.Killing && !terminal(tv.State) {
			n++
			healthy[tv.ID] = tv.State == string(mesos.TaskRunning) && tv.Healthy != nil && *tv.Healthy
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.maxSrv = max(r.maxSrv, n)
	if r.seen == nil {
		r.seen = map[string]bool{}
	}
	for _, tv := range st.Tasks {
		if tv.Role != scheduler.RoleWorker || r.seen[tv.ID] {
			continue
		}
		r.seen[tv.ID] = true
		if !healthy[tv.Server] && !terminal(tv.State) {
			r.early = append(r.early, tv.ID)
		}
	}
}

// workersBeforeHealthy returns the workers first seen while their server
// was not running and healthy.
func (r *runner) workersBeforeHealthy() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.early...)
}

func (r *runner) stop() {
	r.cancel()
	<-r.done
	r.done <- context.Canceled // later stops return at once
}

func (r *runner) maxServers() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.maxSrv
}

func terminal(s string) bool {
	return mesos.TaskState(s).IsTerminal() || s == string(mesos.TaskUnknown)
}

func waitFor(t *testing.T, s *scheduler.Scheduler, timeout time.Duration, what string, cond func(scheduler.Status) bool) scheduler.Status {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		st := s.Status()
		if cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			var b strings.Builder
			for _, tv := range st.Tasks {
				fmt.Fprintf(&b, "\n  %s %s %s healthy=%v killing=%v %s", tv.ID, tv.Role, tv.State, tv.Healthy, tv.Killing, tv.Message)
			}
			for _, o := range st.LastOffers {
				fmt.Fprintf(&b, "\n  offer %s: %s", o.ID, o.Decision)
			}
			t.Fatalf("timed out after %v waiting for %s; connected=%v err=%q tasks:%s", timeout, what, st.Connected, st.LastError, b.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// steady: a ready server and n running workers of it.
func steady(n int) func(scheduler.Status) bool {
	return func(st scheduler.Status) bool {
		if !st.ServerReady || st.Server == nil {
			return false
		}
		running := 0
		for _, tv := range st.Tasks {
			if tv.Role == scheduler.RoleWorker && tv.State == string(mesos.TaskRunning) && tv.Server == st.Server.ID && !tv.Killing {
				running++
			}
		}
		return running == n
	}
}

func activeIDs(st scheduler.Status) map[string]string {
	ids := map[string]string{}
	for _, tv := range st.Tasks {
		if !terminal(tv.State) {
			ids[tv.ID] = tv.State
		}
	}
	return ids
}

func httpGet(url string) (string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func TestClusterServerCrashReplacesServerAndWorkers(t *testing.T) {
	c := newCluster(t, 2, "cpus:4;mem:2048", nil)
	r := start(t, c.config(t, t.TempDir()))
	st := waitFor(t, r.s, 30*time.Second, "server and 3 workers", steady(3))

	old := st.Server
	if got, err := httpGet(fmt.Sprintf("http://127.0.0.1:%d/rpcpw", old.Ports[1])); err != nil || got != testRPCPassword {
		t.Fatalf("server task environment: got %q %v, want the RPC password", got, err)
	}
	for _, tv := range st.Tasks {
		if tv.Role == scheduler.RoleWorker && tv.ServerAddr != st.ServerAddr {
			t.Fatalf("worker %s told %q, want %q", tv.ID, tv.ServerAddr, st.ServerAddr)
		}
	}
	oldWorkers := map[string]bool{}
	for _, tv := range st.Tasks {
		if tv.Role == scheduler.RoleWorker && !terminal(tv.State) {
			oldWorkers[tv.ID] = true
		}
	}

	// Kill the server process: the scheduler must kill every worker and
	// bring up a new server, then new workers.
	httpGet(fmt.Sprintf("http://127.0.0.1:%d/exit", old.Ports[1]))
	st = waitFor(t, r.s, 30*time.Second, "a new server with 3 new workers", func(st scheduler.Status) bool {
		if st.Server == nil || st.Server.ID == old.ID || !steady(3)(st) {
			return false
		}
		for _, tv := range st.Tasks {
			if oldWorkers[tv.ID] && !terminal(tv.State) {
				return false
			}
		}
		return true
	})
	for _, tv := range st.Tasks {
		if tv.ID == old.ID && tv.State != string(mesos.TaskFailed) {
			t.Errorf("old server: got %s, want TASK_FAILED", tv.State)
		}
		if oldWorkers[tv.ID] && tv.State != string(mesos.TaskKilled) {
			t.Errorf("old worker %s: got %s, want TASK_KILLED", tv.ID, tv.State)
		}
	}
	if n := r.maxServers(); n != 1 {
		t.Fatalf("at most one live server at a time: saw %d", n)
	}
}

func TestClusterRestartAdoptsRunningTasks(t *testing.T) {
	c := newCluster(t, 2, "cpus:4;mem:2048", nil)
	dir := t.TempDir()
	r1 := start(t, c.config(t, dir))
	st := waitFor(t, r1.s, 30*time.Second, "server and 3 workers", steady(3))
	fw := st.FrameworkID
	before := activeIDs(st)
	r1.stop() // the scheduler goes away; tasks keep running (failover timeout)

	r2 := start(t, c.config(t, dir))
	st = waitFor(t, r2.s, 30*time.Second, "re-subscription and reconciliation", func(st scheduler.Status) bool {
		return st.Connected && st.Reconciling == 0 && steady(3)(st)
	})
	if st.FrameworkID != fw {
		t.Fatalf("framework id: got %q, want the stored %q", st.FrameworkID, fw)
	}
	// Barrier: with nothing wanted the scheduler suppresses offers; past
	// that point it launches nothing until something changes, so a
	// duplicate launch would show now.
	st = waitFor(t, r2.s, 30*time.Second, "offers suppressed with nothing wanted", func(st scheduler.Status) bool {
		return st.Suppressed && st.Wanted == 0
	})
	after := activeIDs(st)
	if len(after) != len(before) {
		t.Fatalf("active tasks: got %v, want the adopted %v", after, before)
	}
	for id := range before {
		if after[id] != string(mesos.TaskRunning) {
			t.Fatalf("task %s: got %q after restart, want TASK_RUNNING (adopted)", id, after[id])
		}
	}
}

func TestClusterAgentRemoval(t *testing.T) {
	c := newCluster(t, 2, "cpus:4;mem:2048", nil)
	r := start(t, c.config(t, t.TempDir()))
	st := waitFor(t, r.s, 30*time.Second, "server and 3 workers", steady(3))
	old := st.Server
	c.removeAgent(old.AgentID)
	st = waitFor(t, r.s, 30*time.Second, "a new server on the other agent, with workers", func(st scheduler.Status) bool {
		return st.Server != nil && st.Server.ID != old.ID && steady(3)(st)
	})
	if st.Server.AgentID == old.AgentID {
		t.Fatalf("new server on the removed agent %s", old.AgentID)
	}
	for _, tv := range st.Tasks {
		if tv.AgentID == old.AgentID && !terminal(tv.State) {
			t.Fatalf("task %s on the removed agent still %s", tv.ID, tv.State)
		}
	}
	if n := r.maxServers(); n != 1 {
		t.Fatalf("at most one live server at a time: saw %d", n)
	}
}

func TestClusterDuplicateAndOutOfOrderUpdates(t *testing.T) {
	c := newCluster(t, 1, "cpus:4;mem:2048", nil)
	r := start(t, c.config(t, t.TempDir()))
	st := waitFor(t, r.s, 30*time.Second, "server and 3 workers", steady(3))
	before := activeIDs(st)
	var w scheduler.TaskView
	for _, tv := range st.Tasks {
		if tv.Role == scheduler.RoleWorker {
			w = tv
		}
	}
	fw := mesos.FrameworkID{Value: st.FrameworkID}
	agentID := &mesos.AgentID{Value: w.AgentID}
	now := float64(time.Now().UnixNano()) / 1e9
	inject := func(task string, state mesos.TaskState, ts float64) {
		t.Helper()
		u := mesos.TaskStatus{TaskID: mesos.TaskID{Value: task}, State: state, Source: mesos.SourceExecutor,
			AgentID: agentID, Timestamp: ts}
		if err := c.m.StatusUpdate(context.Background(), fw, u, state); err != nil {
			t.Fatal(err)
		}
	}
	inject(w.ID, mesos.TaskRunning, now)         // duplicate
	inject(w.ID, mesos.TaskStarting, now-3600)   // stale, out of order
	inject(w.ID, mesos.TaskRunning, now)         // duplicate again
	ghost := "hashfleet-worker-00000000deadbeef" // a task this scheduler never launched
	inject(ghost, mesos.TaskRunning, now)
	waitFor(t, r.s, 10*time.Second, "the unknown task to be killed", func(st scheduler.Status) bool {
		for _, tv := range st.Tasks {
			if tv.ID == ghost {
				return tv.Killing || terminal(tv.State)
			}
		}
		return false
	})
	// The ghost was injected last: its kill shows the updates before it
	// were handled. Barrier for "no launch": offers suppressed with
	// nothing wanted.
	st = waitFor(t, r.s, 30*time.Second, "offers suppressed with nothing wanted", func(st scheduler.Status) bool {
		return st.Suppressed && st.Wanted == 0
	})
	for id, state := range before {
		if got := activeIDs(st)[id]; got != state {
			t.Fatalf("task %s: got %q, want %q (updates must be idempotent)", id, got, state)
		}
	}
	if !steady(3)(st) {
		t.Fatal("no longer steady after duplicate updates")
	}
	for _, tv := range st.Tasks {
		if _, ok := before[tv.ID]; !ok && tv.ID != ghost && !terminal(tv.State) {
			t.Fatalf("unexpected new task %s %s", tv.ID, tv.State)
		}
	}
}

func TestClusterCrashLoopBacksOff(t *testing.T) {
	c := newCluster(t, 1, "cpus:4;mem:2048", nil)
	cfg := c.config(t, t.TempDir())
	cfg.NodeRPC = "http://crash.invalid:1" // the stand-in server exits at once
	r := start(t, cfg)
	const want = 5 // launches to watch: the backoff doubles 4 times
	servers := func(st scheduler.Status) []scheduler.TaskView {
		var out []scheduler.TaskView
		for _, tv := range st.Tasks {
			if tv.Role == scheduler.RoleWorker {
				t.Fatalf("worker %s launched without a running server", tv.ID)
			}
			if tv.Role == scheduler.RoleServer {
				out = append(out, tv)
			}
		}
		return out
	}
	st := waitFor(t, r.s, 2*time.Minute, fmt.Sprintf("%d server launches", want), func(st scheduler.Status) bool {
		return len(servers(st)) >= want
	})
	launches := servers(st)
	slices.SortFunc(launches, func(a, b scheduler.TaskView) int { return a.LaunchedAt.Compare(b.LaunchedAt) })
	// Launch i+1 waits for launch i to fail and then for the backoff of i
	// failures (BackoffMin doubling up to BackoffMax): each
	// gap between launch times is at least that, whatever the load. A
	// launch storm (one per offer, every 100 ms) would break it at once.
	backoff := cfg.Policy.BackoffMin
	for i := 1; i < len(launches); i++ {
		gap := launches[i].LaunchedAt.Sub(launches[i-1].LaunchedAt)
		if gap < backoff {
			t.Errorf("server launch %d came %v after launch %d: want at least the backoff of %d failures, %v",
				i+1, gap, i, i, backoff)
		}
		backoff = min(2*backoff, cfg.Policy.BackoffMax)
	}
	if st.ServerFailures < len(launches)-1 {
		t.Errorf("server failures: got %d after %d launches, want >= %d", st.ServerFailures, len(launches), len(launches)-1)
	}
	if n := r.maxServers(); n > 1 {
		t.Fatalf("at most one live server at a time: saw %d", n)
	}
}

// TestClusterWrongSecret runs against the master's own HTTP framework
// authentication (Mesos --authenticate_http_frameworks with the basic
// authenticator): a wrong secret is refused with 401, which the scheduler
// reports clearly without the secret and without launching anything; the
// right secret works.
func TestClusterWrongSecret(t *testing.T) {
	c := newClusterWith(t, 1, "cpus:4;mem:2048", nil, master.Config{Credentials: map[string]string{"hashfleet": "right-s3cret"}})
	cfg := c.config(t, t.TempDir())
	cfg.Principal, cfg.Secret = "hashfleet", "wrong-pw"
	r := start(t, cfg)
	st := waitFor(t, r.s, 10*time.Second, "a clear auth error", func(st scheduler.Status) bool {
		return strings.Contains(st.LastError, "401") && strings.Contains(st.LastError, "credentials")
	})
	if st.Connected || st.FrameworkID != "" || len(st.Tasks) != 0 {
		t.Fatalf("connected=%v framework=%q tasks=%d with a wrong secret", st.Connected, st.FrameworkID, len(st.Tasks))
	}
	for _, secret := range []string{"wrong-pw", "right-s3cret"} {
		if strings.Contains(st.LastError, secret) {
			t.Fatalf("status leaks a secret: %q", st.LastError)
		}
	}
	// The master never admitted the framework, so nothing was launched.
	var state struct {
		Frameworks []json.RawMessage `json:"frameworks"`
	}
	body, err := httpGet(c.url + "/state")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(body), &state); err != nil {
		t.Fatalf("/state: %v", err)
	}
	if len(state.Frameworks) != 0 {
		t.Fatalf("master frameworks after a wrong secret: got %d, want 0", len(state.Frameworks))
	}

	// The right secret works.
	r.stop()
	cfg.Secret = "right-s3cret"
	r2 := start(t, cfg)
	waitFor(t, r2.s, 30*time.Second, "server and 3 workers", steady(3))
}

func TestUnreachableMaster(t *testing.T) {
	addr := porttest.Addr(t) // reserved, and nothing listens on it
	det, _ := mesos.NewStaticDetector(addr)
	r := start(t, scheduler.Config{Master: addr, Detector: det, NodeRPC: "http://127.0.0.1:1", Payout: "bcrt1qp69lntsjkuzccuwdgqskuuatgu7umyvrnhr4lv",
		BinaryURL: "http://127.0.0.1:1/bin/hashfleet", StateDir: t.TempDir(),
		Backoff: backoff.Backoff{Min: 10 * time.Millisecond, Max: 50 * time.Millisecond}})
	st := waitFor(t, r.s, 10*time.Second, "a connection error and the node probe", func(st scheduler.Status) bool {
		return st.LastError != "" && st.Subscriptions == 0 && st.NodeReachable != nil
	})
	if *st.NodeReachable || st.NodeError == "" {
		t.Fatalf("node probe: reachable=%v err=%q, want unreachable with a reason", *st.NodeReachable, st.NodeError)
	}
	if st.Connected || !strings.Contains(st.LastError, "connection refused") {
		t.Fatalf("status: connected=%v err=%q", st.Connected, st.LastError)
	}
}

func TestClusterTeardown(t *testing.T) {
	c := newCluster(t, 1, "cpus:4;mem:2048", nil)
	dir := t.TempDir()
	cfg := c.config(t, dir)
	r := start(t, cfg)
	st := waitFor(t, r.s, 30*time.Second, "server and 3 workers", steady(3))
	httpPort := st.Server.Ports[1]
	oldFW := st.FrameworkID
	r.stop()
	saved, err := os.ReadFile(filepath.Join(dir, "scheduler-state.json"))
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tcfg := cfg // teardown needs only the master and the state
	tcfg.NodeRPC, tcfg.Payout, tcfg.BinaryURL = "", "", ""
	if err := scheduler.Teardown(ctx, tcfg); err != nil {
		t.Fatalf("teardown: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "scheduler-state.json")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("state file after teardown: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := httpGet(fmt.Sprintf("http://127.0.0.1:%d/rpcpw", httpPort)); err != nil {
			break // the server process is gone
		}
		if time.Now().After(deadline) {
			t.Fatal("server task still running after teardown")
		}
		time.Sleep(50 * time.Millisecond)
	}

	// A scheduler started from the pre-teardown state is refused ("Framework
	// has been removed"): it records its tasks as gone and registers anew.
	if err := os.WriteFile(filepath.Join(dir, "scheduler-state.json"), saved, 0o600); err != nil {
		t.Fatal(err)
	}
	r2 := start(t, cfg)
	st = waitFor(t, r2.s, 30*time.Second, "a new framework with a server and 3 workers", func(st scheduler.Status) bool {
		return st.Connected && st.FrameworkID != oldFW && steady(3)(st)
	})
	if st.FrameworkID == oldFW || st.FrameworkID == "" {
		t.Fatalf("framework id: got %q, want a new one (old %q)", st.FrameworkID, oldFW)
	}
	for _, tv := range st.Tasks {
		if tv.Reason == mesos.ReasonFrameworkRemoved && tv.State != string(mesos.TaskKilled) {
			t.Fatalf("task %s of the removed framework: %s", tv.ID, tv.State)
		}
	}
}

// TestClusterLeaderRedirect: the scheduler is pointed at a non-leading
// master, which answers 307 with a protocol-relative Location, as Mesos does.
func TestClusterLeaderRedirect(t *testing.T) {
	c := newCluster(t, 1, "cpus:4;mem:2048", nil)
	follower := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "//"+c.addr+"/master/api/v1/scheduler")
		w.WriteHeader(http.StatusTemporaryRedirect)
	}))
	defer follower.Close()
	cfg := c.config(t, t.TempDir())
	det, _ := mesos.NewStaticDetector(strings.TrimPrefix(follower.URL, "http://"))
	cfg.Detector = det
	r := start(t, cfg)
	st := waitFor(t, r.s, 30*time.Second, "server and 3 workers via the leader", steady(3))
	if !strings.Contains(st.Master, c.addr) {
		t.Fatalf("master endpoint: got %q, want the leader %s", st.Master, c.addr)
	}
}

// TestClusterZooKeeper finds the master through ZooKeeper (a json.info_
// node, as Mesos masters register) and keeps its state in ZooKeeper; a
// restarted scheduler adopts the running tasks from there.
func TestClusterZooKeeper(t *testing.T) {
	zkAddr := zktest.Start(t)
	c := newCluster(t, 1, "cpus:4;mem:2048", nil)
	u, err := mesos.ParseZKURL("zk://" + zkAddr + "/mesos")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := mesos.DialZK(u, 5*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := mesos.RegisterMaster(conn, u.Path, c.m.Info()); err != nil {
		t.Fatal(err)
	}
	cfg := c.config(t, "")
	cfg.Detector = nil
	cfg.Master = "zk://" + zkAddr + "/mesos"
	cfg.StateURL = "zk://" + zkAddr + "/hashfleet"
	r1 := start(t, cfg)
	st := waitFor(t, r1.s, 30*time.Second, "server and 3 workers", steady(3))
	before := activeIDs(st)
	r1.stop()

	r2 := start(t, cfg)
	st = waitFor(t, r2.s, 30*time.Second, "adoption after restart", func(st scheduler.Status) bool {
		return st.Connected && st.Reconciling == 0 && steady(3)(st)
	})
	if after := activeIDs(st); len(after) != len(before) {
		t.Fatalf("active tasks after restart: got %v, want %v", after, before)
	}
}

// TestClusterRestartKillsUnknownTasks: a task the stored state does not
// know (here: deleted from the state file while the scheduler was down)
// is found by reconciliation after re-subscription and killed, and the
// policy replaces it.
func TestClusterRestartKillsUnknownTasks(t *testing.T) {
	c := newCluster(t, 1, "cpus:4;mem:2048", nil)
	dir := t.TempDir()
	r1 := start(t, c.config(t, dir))
	st := waitFor(t, r1.s, 30*time.Second, "server and 3 workers", steady(3))
	r1.stop()

	fs, err := scheduler.NewFileStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	p, _, err := fs.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var forgotten string
	for id, tk := range p.State.Tasks {
		if tk.Role == scheduler.RoleWorker && tk.Active() {
			forgotten = id
			delete(p.State.Tasks, id)
			break
		}
	}
	if err := fs.Save(context.Background(), p); err != nil {
		t.Fatal(err)
	}

	r2 := start(t, c.config(t, dir))
	st = waitFor(t, r2.s, 30*time.Second, "the unknown worker killed and replaced", func(st scheduler.Status) bool {
		for _, tv := range st.Tasks {
			if tv.ID == forgotten && !terminal(tv.State) {
				return false
			}
		}
		return steady(3)(st)
	})
	_ = st
}

func TestStatusAPI(t *testing.T) {
	c := newCluster(t, 1, "cpus:4;mem:2048", nil)
	r := start(t, c.config(t, t.TempDir()))
	waitFor(t, r.s, 30*time.Second, "server and 3 workers", steady(3))
	exe, _ := os.Executable()
	srv := httptest.NewServer(r.s.Handler(exe))
	defer srv.Close()
	body, err := httpGet(srv.URL + "/api/status")
	if err != nil {
		t.Fatal(err)
	}
	var st scheduler.Status
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("status JSON: %v", err)
	}
	if st.ServerAddr == "" || len(st.Tasks) != 4 || len(st.LastOffers) == 0 || st.States["TASK_RUNNING"] != 4 {
		t.Fatalf("status: %s", body)
	}
	if strings.Contains(body, testRPCPassword) {
		t.Fatal("status API leaks the RPC password")
	}
	for _, o := range st.LastOffers {
		if o.Decision == "" {
			t.Fatalf("offer %s without a decision", o.ID)
		}
	}
	bin, err := httpGet(srv.URL + "/bin/hashfleet")
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(exe); int64(len(bin)) != fi.Size() {
		t.Fatalf("binary: got %d bytes, want %d", len(bin), fi.Size())
	}
}
