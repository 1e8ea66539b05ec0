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
	id  mesos.AgentID
	out *simDeliverer
}

type simUpdate struct {
	fw mesos.FrameworkID
	st mesos.TaskStatus
}

// simDeliverer delivers the updates of a share of the agents to the
// master, in the order they were sent (the master's Agent methods must not
// block). A few deliverers serve all agents: a goroutine per agent was 10,000
// goroutines' stacks at 10,000 agents, counted as the master's memory.
type simDeliverer struct {
	m     *master.Master
	mu    sync.Mutex
	queue []simUpdate
	wake  chan struct{}
}

func (a *simAgent) send(fw mesos.FrameworkID, task mesos.TaskID, state mesos.TaskState, healthy *bool) {
	uuid := make([]byte, 16)
	rand.Read(uuid)
	id := a.id
	d := a.out
	d.mu.Lock()
	d.queue = append(d.queue, simUpdate{fw, mesos.TaskStatus{TaskID: task, State: state, Source: mesos.SourceExecutor,
		AgentID: &id, Timestamp: float64(time.Now().UnixNano()) / 1e9, UUID: uuid, Healthy: healthy}})
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// run delivers the queued updates until ctx ends.
func (d *simDeliverer) run(ctx context.Context) {
	for {
		select {
		case <-d.wake:
		case <-ctx.Done():
			return
		}
		d.mu.Lock()
		q := d.queue
		d.queue = nil
		d.mu.Unlock()
		for _, u := range q {
			if err := d.m.StatusUpdate(ctx, u.fw, u.st, u.st.State); err != nil {
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

// offerClock times each offer round, from the master writing the first
// OFFERS event not yet answered to the scheduler's last ACCEPT or DECLINE
// call before the next such event, and counts OFFERS events and DECLINE
// calls.
type offerClock struct {
	mu       sync.Mutex
	offered  time.Time
	pending  bool
	rounds   []time.Duration
	offers   int // OFFERS events written
	declines int // DECLINE calls
}

func (c *offerClock) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		switch {
		case bytes.Contains(body, []byte(`"type":"SUBSCRIBE"`)):
			h.ServeHTTP(&offerWatch{ResponseWriter: w, c: c}, r)
		case bytes.Contains(body, []byte(`"type":"ACCEPT"`)):
			h.ServeHTTP(w, r)
			c.answered(false)
		case bytes.Contains(body, []byte(`"type":"DECLINE"`)):
			h.ServeHTTP(w, r)
			c.answered(true)
		default:
			h.ServeHTTP(w, r)
		}
	})
}

func (c *offerClock) answered(decline bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if decline {
		c.declines++
	}
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

// counts returns the OFFERS events and DECLINE calls so far.
func (c *offerClock) counts() (offers, declines int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.offers, c.declines
}

type offerWatch struct {
	http.ResponseWriter
	c *offerClock
}

func (w *offerWatch) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte(`"type":"OFFERS"`)) {
		w.c.mu.Lock()
		if !w.c.pending {
			// A round's offers may come in several events: the round
			// starts with the first.
			w.c.offered, w.c.pending = time.Now(), true
		}
		w.c.offers++
		w.c.mu.Unlock()
	}
	return w.ResponseWriter.Write(p)
}

func (w *offerWatch) Flush() { w.ResponseWriter.(http.Flusher).Flush() }

// simAllocationInterval is the simulated master's allocation period.
const simAllocationInterval = 100 * time.Millisecond

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
	// The master's defaults but for a faster allocation (1 s by default):
	// its event queue per subscriber (1,024) and body limit (16 MiB) hold
	// at 10,000 agents.
	m, err := master.New(master.Config{Addr: ln.Addr().String(), AllocationInterval: simAllocationInterval, Logger: log})
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
	outs := make([]*simDeliverer, 8)
	for i := range outs {
		outs[i] = &simDeliverer{m: m, wake: make(chan struct{}, 1)}
		wg.Go(func() { outs[i].run(ctx) })
	}
	for i := range n {
		a := &simAgent{out: outs[i%len(outs)]}
		id, err := m.RegisterAgent(ctx, fmt.Sprintf("sim-%d", i), res, a)
		if err != nil {
			tb.Fatal(err)
		}
		a.id = id
		c.agents[id.Value] = a
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
		NodeRPC: "http://127.0.0.1:18443", RPCUser: "rpc", RPCPassword: testRPCPassword, Payout: "bcrt1qp69lntsjkuzccuwdgqskuuatgu7umyvrnhr4lv",
		TaskMode: scheduler.ModeCommand, BinaryURL: "http://127.0.0.1:1/bin/hashfleet", StateDir: tb.TempDir(),
		HealthDelay: time.Second, HealthInterval: time.Second, HealthGrace: 10 * time.Second,
		KillGrace: time.Second, LaunchTimeout: time.Minute,
		Backoff: backoff.Backoff{Min: 50 * time.Millisecond, Max: 500 * time.Millisecond},
		Policy: scheduler.PolicyConfig{WorkerCPUs: 1, WorkerMem: 64, MaxWorkers: workers, RequireHealthy: true,
			BackoffMin: 50 * time.Millisecond, BackoffMax: 500 * time.Millisecond, KillRetry: 10 * time.Second},
		Logger: slog.New(slog.DiscardHandler),
	}
}

// fleetPhases is how long each phase of the scenario took, and what was
// seen on the way.
type fleetPhases struct {
	serverReady, workersUp, workersKilled, serverBack, workersBack time.Duration
	maxServers                                                     int
	// offersWhileSuppressed and declinesWhileSuppressed count the OFFERS
	// events and DECLINE calls during quietFor after each complete fleet
	// suppressed offers (both times): 0 unless offers go round in a loop.
	offersWhileSuppressed, declinesWhileSuppressed int
	// liveHeap is the live heap (after GC, plus goroutine stacks) with the
	// new fleet complete; schedHeap how much of it the scheduler's end
	// freed (its state, snapshots, connections).
	liveHeap, schedHeap uint64
	// subscriptions is how many times the scheduler subscribed: 1 unless
	// its stream broke (the master drops a subscriber that falls behind).
	subscriptions int
}

// quietFor is how long a complete, suppressed fleet is watched for offers:
// ten allocation rounds of the simulated master.
const quietFor = 10 * simAllocationInterval

// runFleet runs the scheduler configured by cfg with a fleet of workers,
// kills the server and waits for the fleet to come back, timing each
// phase; then it stops the scheduler.
func runFleet(tb testing.TB, c *simCluster, cfg scheduler.Config, timeout time.Duration) fleetPhases {
	tb.Helper()
	workers := cfg.Policy.MaxWorkers
	s, err := scheduler.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
		}
	}
	tb.Cleanup(stop)

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
				tb.Fatalf("timed out after %v waiting for %s (server ready %v, %d tasks, last error %q)",
					timeout, what, st.ServerReady, len(st.Tasks), st.LastError)
			}
		}
	}
	quiet := func() {
		wait("offers suppressed", func(st scheduler.Status) bool { return st.Suppressed })
		// Offers the master sent before the SUPPRESS arrived may still
		// be declined: wait until three allocation rounds pass without
		// an OFFERS event or a DECLINE, then watch for quietFor.
		for still, last, deadline := 0, -1, time.Now().Add(timeout); still < 3; time.Sleep(simAllocationInterval) {
			o, d := c.clock.counts()
			if o+d == last {
				still++
			} else {
				still, last = 0, o+d
			}
			if time.Now().After(deadline) {
				tb.Fatalf("offers kept coming while suppressed for %v: %d OFFERS events and %d DECLINE calls in all", timeout, o, d)
			}
		}
		o0, d0 := c.clock.counts()
		time.Sleep(quietFor)
		o1, d1 := c.clock.counts()
		ph.offersWhileSuppressed += o1 - o0
		ph.declinesWhileSuppressed += d1 - d0
	}
	ph.serverReady, _ = wait("a healthy server", func(st scheduler.Status) bool { return st.ServerReady })
	ph.workersUp, _ = wait(fmt.Sprintf("%d workers", workers), steady(workers))
	quiet()
	st := s.Status()

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
	quiet()
	ph.subscriptions = s.Status().Subscriptions
	ph.liveHeap = liveHeap()
	stop()
	s = nil
	// Connections and goroutines end a little after Run returns: the
	// least of ten samples, 100 ms apart.
	after := liveHeap()
	for range 9 {
		time.Sleep(100 * time.Millisecond)
		after = min(after, liveHeap())
	}
	ph.schedHeap = ph.liveHeap - min(ph.liveHeap, after)
	return ph
}

// liveHeap returns the bytes of live heap objects and goroutine stacks
// after two collections: the first leaves what sync.Pools hold (encoding
// buffers of the size of the state) in their victim caches, the second
// frees it, which the first sample of a scheduler's heap otherwise counted
// or not by chance.
func liveHeap() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc + ms.StackInuse
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

// savesStore counts the saves that recorded new tasks (launch intents).
type savesStore struct {
	scheduler.Store
	mu       sync.Mutex
	tasks    int
	launches int // saves with more tasks than the previous save
}

func (s *savesStore) Save(ctx context.Context, p scheduler.Persisted) error {
	s.mu.Lock()
	if n := len(p.State.Tasks); n > s.tasks {
		s.launches++
		s.tasks = n
	}
	s.mu.Unlock()
	return s.Store.Save(ctx, p)
}

// TestFleetOnSimulatedAgents: 200 simulated agents, 100 workers: a dead
// server takes every worker with it and comes back with a full fleet, never
// two servers at once; the framework suppresses offers once it has what it
// wants (no offer is made or declined while the fleet is complete); every
// launch of an offer round is saved at once (one save per round, not one
// per accepted offer: 25 offers of 4 workers each were 25 saves of the
// whole state).
func TestFleetOnSimulatedAgents(t *testing.T) {
	c := newSimCluster(t, 200)
	cfg := simSchedConfig(t, c.addr, 100)
	fs, err := scheduler.NewFileStore(cfg.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	store := &savesStore{Store: fs}
	cfg.Store = store
	ph := runFleet(t, c, cfg, 2*time.Minute)
	if ph.maxServers > 1 {
		t.Errorf("%d live servers at once", ph.maxServers)
	}
	if ph.subscriptions != 1 {
		t.Errorf("subscribed %d times, want once", ph.subscriptions)
	}
	if ph.offersWhileSuppressed != 0 || ph.declinesWhileSuppressed != 0 {
		t.Errorf("with the fleet complete and offers suppressed: %d OFFERS events and %d DECLINE calls in %v, want none",
			ph.offersWhileSuppressed, ph.declinesWhileSuppressed, quietFor)
	}
	_, rounds := c.clock.longest()
	if store.launches > rounds {
		t.Errorf("%d saves recorded new tasks in %d offer rounds: launches are saved per offer, not per round", store.launches, rounds)
	}
	t.Logf("phases: %+v, %d offer rounds, %d launch saves", ph, rounds, store.launches)
}

// BenchmarkFleetAtScale reports each phase's time, the longest offer
// round's decision time, the offers and declines while suppressed, and the
// memory the master and scheduler hold, against the number of simulated
// agents, with half as many workers as agents. Run with -benchtime=1x;
// -bench 'FleetAtScale/agents=10000' for one size.
func BenchmarkFleetAtScale(b *testing.B) {
	for _, agents := range []int{100, 1000, 3000, 10000} {
		b.Run(fmt.Sprintf("agents=%d", agents), func(b *testing.B) {
			for range b.N {
				base := liveHeap()
				c := newSimCluster(b, agents)
				idle := liveHeap()
				ph := runFleet(b, c, simSchedConfig(b, c.addr, agents/2), 10*time.Minute)
				decide, rounds := c.clock.longest()
				b.ReportMetric(ph.serverReady.Seconds(), "server-ready-s")
				b.ReportMetric(ph.workersUp.Seconds(), "workers-up-s")
				b.ReportMetric(ph.workersKilled.Seconds(), "workers-killed-s")
				b.ReportMetric(ph.serverBack.Seconds(), "server-back-s")
				b.ReportMetric(ph.workersBack.Seconds(), "workers-back-s")
				b.ReportMetric(decide.Seconds()*1000, "max-decision-ms")
				b.ReportMetric(float64(rounds), "offer-rounds")
				b.ReportMetric(float64(ph.offersWhileSuppressed), "offers-while-suppressed")
				b.ReportMetric(float64(ph.subscriptions), "subscriptions")
				b.ReportMetric(float64(int64(idle)-int64(base))/(1<<20), "master-idle-MiB")
				b.ReportMetric(float64(int64(ph.liveHeap-ph.schedHeap)-int64(base))/(1<<20), "master-MiB")
				b.ReportMetric(float64(ph.schedHeap)/(1<<20), "scheduler-MiB")
				if ph.maxServers > 1 {
					b.Errorf("max live servers %d", ph.maxServers)
				}
			}
		})
	}
}
