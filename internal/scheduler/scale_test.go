package scheduler_test

// The scheduler against the embedded master with thousands of simulated
// agents (issue #18): agents that report their tasks' states without
// running processes, so that the scheduler's and the master's own costs are
// what is measured. The three-agent tests with real processes stay in
// cluster_test.go.

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/hashfleet/hashfleet/internal/backoff"
	"github.com/hashfleet/hashfleet/internal/mesos"
	"github.com/hashfleet/hashfleet/internal/minimesos/master"
	"github.com/hashfleet/hashfleet/internal/scheduler"
)

// simAgent is an in-process agent that runs nothing: a launched task is
// TASK_RUNNING (healthy when it has a health check) at once, a killed one
// TASK_KILLED; send ends a task as if its process died.
type simAgent struct {
	m  *master.Master
	id mesos.AgentID
	// Updates are delivered in order by one goroutine per agent (the
	// master's Agent methods must not block).
	mu    sync.Mutex
	queue []simUpdate
	wake  chan struct{}
}

type simUpdate struct {
	fw mesos.FrameworkID
	st mesos.TaskStatus
}

func newSimAgent(m *master.Master) *simAgent {
	return &simAgent{m: m, wake: make(chan struct{}, 1)}
}

func (a *simAgent) send(fw mesos.FrameworkID, task mesos.TaskID, state mesos.TaskState, healthy *bool) {
	uuid := make([]byte, 16)
	rand.Read(uuid)
	id := a.id
	a.mu.Lock()
	a.queue = append(a.queue, simUpdate{fw, mesos.TaskStatus{TaskID: task, State: state, Source: mesos.SourceExecutor,
		AgentID: &id, Timestamp: float64(time.Now().UnixNano()) / 1e9, UUID: uuid, Healthy: healthy}})
	a.mu.Unlock()
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// run delivers the queued updates until ctx ends.
func (a *simAgent) run(ctx context.Context) {
	for {
		select {
		case <-a.wake:
		case <-ctx.Done():
			return
		}
		a.mu.Lock()
		q := a.queue
		a.queue = nil
		a.mu.Unlock()
		for _, u := range q {
			if err := a.m.StatusUpdate(ctx, u.fw, u.st, u.st.State); err != nil {
				return
			}
		}
	}
}

func (a *simAgent) LaunchTask(fw mesos.FrameworkInfo, task mesos.TaskInfo) {
	var healthy *bool
	if task.HealthCheck != nil {
		t := true
		healthy = &t
	}
	a.send(*fw.ID, task.TaskID, mesos.TaskRunning, healthy)
}

func (a *simAgent) KillTask(fw mesos.FrameworkID, task mesos.TaskID, _ *mesos.KillPolicy) {
	a.send(fw, task, mesos.TaskKilled, nil)
}

func (a *simAgent) Acknowledge(mesos.FrameworkID, mesos.TaskID, []byte) {}
func (a *simAgent) ShutdownFramework(mesos.FrameworkID)                 {}
func (a *simAgent) UpdateFramework(mesos.FrameworkInfo)                 {}

// offerClock times each offer round: from the master writing an OFFERS
// event to the scheduler's last ACCEPT or DECLINE call before the next one.
type offerClock struct {
	mu      sync.Mutex
	offered time.Time
	pending bool
	rounds  []time.Duration
}

func (c *offerClock) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		switch {
		case bytes.Contains(body, []byte(`"type":"SUBSCRIBE"`)):
			h.ServeHTTP(&offerWatch{ResponseWriter: w, c: c}, r)
		case bytes.Contains(body, []byte(`"type":"ACCEPT"`)), bytes.Contains(body, []byte(`"type":"DECLINE"`)):
			h.ServeHTTP(w, r)
			c.answered()
		default:
			h.ServeHTTP(w, r)
		}
	})
}

func (c *offerClock) answered() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.offered.IsZero() {
		return
	}
	d := time.Since(c.offered)
	switch {
	case c.pending:
		c.rounds = append(c.rounds, d)
		c.pending = false
	case len(c.rounds) > 0:
		c.rounds[len(c.rounds)-1] = d // a later call of the same round
	}
}

// longest returns the longest round and the number of rounds.
func (c *offerClock) longest() (time.Duration, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var m time.Duration
	for _, d := range c.rounds {
		m = max(m, d)
	}
	return m, len(c.rounds)
}

type offerWatch struct {
	http.ResponseWriter
	c *offerClock
}

func (w *offerWatch) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte(`"type":"OFFERS"`)) {
		w.c.mu.Lock()
		w.c.offered, w.c.pending = time.Now(), true
		w.c.mu.Unlock()
	}
	return w.ResponseWriter.Write(p)
}

func (w *offerWatch) Flush() { w.ResponseWriter.(http.Flusher).Flush() }

// simCluster is an embedded master with n simulated agents.
type simCluster struct {
	addr   string
	clock  *offerClock
	agents map[string]*simAgent
}

func newSimCluster(tb testing.TB, n int) *simCluster {
	tb.Helper()
	log := slog.New(slog.DiscardHandler)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	m, err := master.New(master.Config{Addr: ln.Addr().String(), AllocationInterval: 100 * time.Millisecond,
		MaxBodyBytes: 64 << 20, StreamQueue: 1 << 16, Logger: log})
	if err != nil {
		tb.Fatal(err)
	}
	c := &simCluster{addr: ln.Addr().String(), clock: &offerClock{}, agents: map[string]*simAgent{}}
	ctx, cancel := context.WithCancel(context.Background())
	srv := &http.Server{Handler: c.clock.wrap(m.Handler())}
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	go srv.Serve(ln)
	res := []mesos.Resource{mesos.ScalarResource("cpus", 4), mesos.ScalarResource("mem", 8192),
		mesos.RangesResource("ports", mesos.ValueRange{Begin: 40000, End: 40019})}
	var wg sync.WaitGroup
	for i := range n {
		a := newSimAgent(m)
		id, err := m.RegisterAgent(ctx, fmt.Sprintf("sim-%d", i), res, a)
		if err != nil {
			tb.Fatal(err)
		}
		a.id = id
		c.agents[id.Value] = a
		wg.Go(func() { a.run(ctx) })
	}
	tb.Cleanup(func() {
		cancel()
		srv.Close()
		<-done
		wg.Wait()
	})
	return c
}

func simSchedConfig(tb testing.TB, addr string, workers int) scheduler.Config {
	det, err := mesos.NewStaticDetector(addr)
	if err != nil {
		tb.Fatal(err)
	}
	return scheduler.Config{
		Master: addr, Detector: det,
		NodeRPC: "http://127.0.0.1:18443", RPCUser: "rpc", RPCPassword: testRPCPassword, Payout: "bcrt1qexample",
		TaskMode: scheduler.ModeCommand, BinaryURL: "http://127.0.0.1:1/bin/hashfleet", StateDir: tb.TempDir(),
		HealthDelay: time.Second, HealthInterval: time.Second, HealthGrace: 10 * time.Second,
		KillGrace: time.Second, LaunchTimeout: time.Minute,
		Backoff: backoff.Backoff{Min: 50 * time.Millisecond, Max: 500 * time.Millisecond},
		Policy: scheduler.PolicyConfig{WorkerCPUs: 1, WorkerMem: 64, MaxWorkers: workers, RequireHealthy: true,
			BackoffMin: 50 * time.Millisecond, BackoffMax: 500 * time.Millisecond, KillRetry: 10 * time.Second},
		Logger: slog.New(slog.DiscardHandler),
	}
}

// fleetPhases is how long each phase of the scenario took.
type fleetPhases struct {
	serverReady, workersUp, workersKilled, serverBack, workersBack time.Duration
	maxServers                                                     int
	suppressed                                                     bool
}

// runFleet runs the scheduler with a fleet of workers, kills the server and
// waits for the fleet to come back, timing each phase.
func runFleet(tb testing.TB, c *simCluster, workers int, timeout time.Duration) fleetPhases {
	tb.Helper()
	s, err := scheduler.New(simSchedConfig(tb, c.addr, workers))
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	tb.Cleanup(func() { cancel(); <-done })

	var ph fleetPhases
	wait := func(what string, cond func(scheduler.Status) bool) (time.Duration, scheduler.Status) {
		start := time.Now()
		for deadline := start.Add(timeout); ; time.Sleep(100 * time.Millisecond) {
			st := s.Status()
			ph.maxServers = max(ph.maxServers, liveServers(st))
			if cond(st) {
				return time.Since(start), st
			}
			if time.Now().After(deadline) {
				tb.Fatalf("timed out after %v waiting for %s (server ready %v, %d tasks)", timeout, what, st.ServerReady, len(st.Tasks))
			}
		}
	}
	ph.serverReady, _ = wait("a healthy server", func(st scheduler.Status) bool { return st.ServerReady })
	var st scheduler.Status
	ph.workersUp, st = wait(fmt.Sprintf("%d workers", workers), steady(workers))
	_, st = wait("offers suppressed", func(st scheduler.Status) bool { return st.Suppressed })
	ph.suppressed = st.Suppressed

	// The server's process dies.
	old := st.Server
	a := c.agents[old.AgentID]
	if a == nil {
		tb.Fatalf("server %s on unknown agent %q", old.ID, old.AgentID)
	}
	a.send(mesos.FrameworkID{Value: st.FrameworkID}, mesos.TaskID{Value: old.ID}, mesos.TaskFailed, nil)
	ph.workersKilled, _ = wait("every worker of the dead server gone", func(st scheduler.Status) bool {
		for _, tv := range st.Tasks {
			if tv.Role == scheduler.RoleWorker && tv.Server == old.ID && !terminal(tv.State) {
				return false
			}
		}
		return true
	})
	ph.serverBack, _ = wait("a new healthy server", func(st scheduler.Status) bool {
		return st.ServerReady && st.Server != nil && st.Server.ID != old.ID
	})
	ph.workersBack, _ = wait(fmt.Sprintf("%d workers of the new server", workers), steady(workers))
	return ph
}

func liveServers(st scheduler.Status) int {
	n := 0
	for _, tv := range st.Tasks {
		if tv.Role == scheduler.RoleServer && !terminal(tv.State) && !tv.Killing {
			n++
		}
	}
	return n
}

// TestFleetOnSimulatedAgents: 200 simulated agents, 100 workers: the
// framework suppresses offers once it has what it wants, and a dead server
// takes every worker with it and comes back with a full fleet, never two
// servers at once.
func TestFleetOnSimulatedAgents(t *testing.T) {
	c := newSimCluster(t, 200)
	ph := runFleet(t, c, 100, 2*time.Minute)
	if ph.maxServers > 1 {
		t.Errorf("%d live servers at once", ph.maxServers)
	}
	t.Logf("phases: %+v", ph)
}

// BenchmarkFleetAtScale reports each phase's time, the longest offer
// round's decision time and the memory the master and scheduler hold,
// against the number of simulated agents, with half as many workers as
// agents. Run with -benchtime=1x.
func BenchmarkFleetAtScale(b *testing.B) {
	// 10,000 agents did not finish within 15 minutes (see BENCHMARKS.md).
	for _, agents := range []int{100, 1000, 3000} {
		b.Run(fmt.Sprintf("agents=%d", agents), func(b *testing.B) {
			for range b.N {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				c := newSimCluster(b, agents)
				ph := runFleet(b, c, agents/2, 10*time.Minute)
				runtime.GC()
				runtime.ReadMemStats(&after)
				decide, rounds := c.clock.longest()
				b.ReportMetric(ph.serverReady.Seconds(), "server-ready-s")
				b.ReportMetric(ph.workersUp.Seconds(), "workers-up-s")
				b.ReportMetric(ph.workersKilled.Seconds(), "workers-killed-s")
				b.ReportMetric(ph.serverBack.Seconds(), "server-back-s")
				b.ReportMetric(ph.workersBack.Seconds(), "workers-back-s")
				b.ReportMetric(decide.Seconds()*1000, "max-decision-ms")
				b.ReportMetric(float64(rounds), "offer-rounds")
				b.ReportMetric(float64(int64(after.HeapInuse+after.StackInuse)-int64(before.HeapInuse+before.StackInuse))/(1<<20), "heap+stack-MiB")
				if ph.maxServers > 1 {
					b.Errorf("max live servers %d", ph.maxServers)
				}
			}
		})
	}
}
