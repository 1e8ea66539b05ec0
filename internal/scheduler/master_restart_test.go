package scheduler_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hashfleet/hashfleet/internal/mesos"
	"github.com/hashfleet/hashfleet/internal/minimesos/master"
	"github.com/hashfleet/hashfleet/internal/porttest"
	"github.com/hashfleet/hashfleet/internal/scheduler"
)

// bootMaster starts an embedded master on ln with nAgents fresh process
// agents (each with its own block of ports) and points c at it. The returned stop ends the
// master first (its subscription streams end, then its HTTP server shuts
// down gracefully, as obs.Serve does in production), then its agents, which kill their tasks: an
// in-process cluster going down as a whole. stop waits for all of it.
func bootMaster(t *testing.T, c *cluster, ln net.Listener, nAgents int, log *slog.Logger) (stop func()) {
	t.Helper()
	m, err := master.New(master.Config{Addr: c.addr, AllocationInterval: 100 * time.Millisecond, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	mctx, stopMaster := context.WithCancel(context.Background())
	actx, stopAgents := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Run(mctx); close(done) }()
	srv := &http.Server{Handler: m.Handler()}
	go srv.Serve(ln)
	c.m, c.agents = m, map[string]context.CancelFunc{}
	for range nAgents {
		base := porttest.Block(t, 21)
		c.addAgent(actx, fmt.Sprintf("cpus:4;mem:2048;ports:[%d-%d]", base, base+20), log)
	}
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		stopMaster()
		<-done
		// Shutdown, not Close: the stream handlers are returning now and
		// net/http must still write each stream's last chunk, or the
		// scheduler reads an unexpected EOF instead of an ended stream
		// (Close raced them: a CI failure of TestClusterMasterRestart).
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := srv.Shutdown(sctx); err != nil {
			t.Errorf("master HTTP server shutdown: %v", err)
			srv.Close()
		}
		cancel()
		stopAgents()
		c.agentWG.Wait()
	}
	t.Cleanup(stop)
	return stop
}

// listenAgain binds addr again once the old listener is gone, polling
// until the deadline.
func listenAgain(t *testing.T, addr string) net.Listener {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ln, err := net.Listen("tcp", addr)
		if err == nil {
			return ln
		}
		if time.Now().After(deadline) {
			t.Fatalf("re-binding the master address %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// disconnectLog records the err of each "disconnected from master" log
// record of the scheduler, passing every record on.
type disconnectLog struct {
	slog.Handler
	rec *disconnects
}

type disconnects struct {
	mu   sync.Mutex
	list []string
}

func newDisconnectLog(h slog.Handler) *disconnectLog {
	return &disconnectLog{Handler: h, rec: &disconnects{}}
}

func (d *disconnectLog) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "scheduler: disconnected from master" {
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "err" {
				d.rec.mu.Lock()
				d.rec.list = append(d.rec.list, a.Value.String())
				d.rec.mu.Unlock()
			}
			return true
		})
	}
	return d.Handler.Handle(ctx, r)
}

func (d *disconnectLog) WithAttrs(as []slog.Attr) slog.Handler {
	return &disconnectLog{Handler: d.Handler.WithAttrs(as), rec: d.rec}
}

func (d *disconnectLog) WithGroup(name string) slog.Handler {
	return &disconnectLog{Handler: d.Handler.WithGroup(name), rec: d.rec}
}

func (d *disconnectLog) errs() []string {
	d.rec.mu.Lock()
	defer d.rec.mu.Unlock()
	return append([]string(nil), d.rec.list...)
}

type masterState struct {
	ID         string `json:"id"`
	Frameworks []struct {
		ID        string `json:"id"`
		Connected bool   `json:"connected"`
		Tasks     []struct {
			ID    string          `json:"id"`
			State mesos.TaskState `json:"state"`
		} `json:"tasks"`
	} `json:"frameworks"`
}

func getMasterState(t *testing.T, url string) masterState {
	t.Helper()
	body, err := httpGet(url + "/master/state")
	if err != nil {
		t.Fatal(err)
	}
	var ms masterState
	if err := json.Unmarshal([]byte(body), &ms); err != nil {
		t.Fatalf("/master/state: %v: %s", err, body)
	}
	return ms
}

// TestClusterMasterRestart: the Mesos master (with its agents, as an
// in-process cluster) goes down mid-run and a new master comes up on the
// same address with fresh agents. The scheduler must notice the ended
// stream, re-subscribe with its framework id (the new master re-admits an
// id it does not know, as Mesos does after failover), learn by
// reconciliation that its old tasks are gone, and bring up exactly one new
// server with its workers, never holding two live servers.
func TestClusterMasterRestart(t *testing.T) {
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	dir, err := fakeTask()
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "hashfleet")
	bin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, exe)
	}))
	defer bin.Close()

	ln, err := net.Listen("tcp", porttest.Addr(t)) // reserved: the new master binds it again
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{t: t, addr: ln.Addr().String(), url: "http://" + ln.Addr().String(), binURL: bin.URL + "/bin/hashfleet"}
	stopOld := bootMaster(t, c, ln, 2, log)
	oldMasterID := c.m.Info().ID

	cfg := c.config(t, t.TempDir())
	disc := newDisconnectLog(cfg.Logger.Handler())
	cfg.Logger = slog.New(disc)
	r := start(t, cfg)
	st := waitFor(t, r.s, 30*time.Second, "server and 3 workers", steady(3))
	fw := st.FrameworkID
	oldServer := *st.Server
	before := activeIDs(st)
	if len(before) != 4 {
		t.Fatalf("active tasks before the restart: got %v, want a server and 3 workers", before)
	}
	if ms := getMasterState(t, c.url); len(ms.Frameworks) != 1 || ms.Frameworks[0].ID != fw {
		t.Fatalf("old master: got frameworks %+v, want only %s", ms.Frameworks, fw)
	}
	subsBefore := st.Subscriptions
	discBefore := len(disc.errs())

	// The master goes down, and its agents with it.
	stopOld()
	st = waitFor(t, r.s, 10*time.Second, "the scheduler to notice the master is gone", func(st scheduler.Status) bool {
		return !st.Connected
	})
	if errs := disc.errs()[discBefore:]; len(errs) == 0 || errs[0] != "mesos: subscription stream closed by master" {
		t.Errorf("disconnect causes: got %q, want the ended subscription stream first", errs)
	}
	if _, err := httpGet(fmt.Sprintf("http://127.0.0.1:%d/rpcpw", oldServer.Ports[1])); err == nil {
		t.Fatalf("old server %s still answers after its agent stopped", oldServer.ID)
	}
	// Nothing has told the scheduler its tasks died: it still believes them.
	for id := range before {
		if got := activeIDs(r.s.Status())[id]; got == "" {
			t.Fatalf("task %s: terminal while no master was up", id)
		}
	}

	// A new master on the same address, with fresh agents.
	bootMaster(t, c, listenAgain(t, c.addr), 2, log)
	if c.m.Info().ID == oldMasterID {
		t.Fatalf("new master has the old master's id %s", oldMasterID)
	}
	st = waitFor(t, r.s, 30*time.Second, "re-subscription, reconciliation and a new server with 3 workers", func(st scheduler.Status) bool {
		if !st.Connected || st.Subscriptions <= subsBefore || st.Reconciling != 0 || st.Server == nil || st.Server.ID == oldServer.ID {
			return false
		}
		for _, tv := range st.Tasks {
			if _, old := before[tv.ID]; old && !terminal(tv.State) {
				return false
			}
		}
		return steady(3)(st)
	})

	if st.FrameworkID != fw {
		t.Fatalf("framework id after the restart: got %q, want the same %q", st.FrameworkID, fw)
	}
	if got := st.Subscriptions - subsBefore; got != 1 {
		t.Errorf("re-subscriptions: got %d, want 1", got)
	}
	ms := getMasterState(t, c.url)
	if ms.ID != c.m.Info().ID || len(ms.Frameworks) != 1 || ms.Frameworks[0].ID != fw || !ms.Frameworks[0].Connected {
		t.Fatalf("new master %s: got frameworks %+v, want only %s, connected", ms.ID, ms.Frameworks, fw)
	}
	// Every old task was reported gone by the new master's reconciliation
	// (partition-aware framework, agent unknown to the new master).
	for _, tv := range st.Tasks {
		if _, old := before[tv.ID]; !old {
			continue
		}
		if tv.State != string(mesos.TaskUnknown) || tv.Reason != string(mesos.ReasonReconciliation) {
			t.Errorf("old task %s (%s): got %s %s, want TASK_UNKNOWN REASON_RECONCILIATION", tv.ID, tv.Role, tv.State, tv.Reason)
		}
	}
	// Exactly one new server, and its 3 workers, launched on the new master.
	var newServers, newWorkers []string
	for _, tv := range st.Tasks {
		if _, old := before[tv.ID]; old {
			continue
		}
		switch tv.Role {
		case scheduler.RoleServer:
			newServers = append(newServers, tv.ID)
		case scheduler.RoleWorker:
			newWorkers = append(newWorkers, tv.ID)
			if tv.Server != st.Server.ID || tv.ServerAddr != st.ServerAddr {
				t.Errorf("new worker %s: server %s at %s, want %s at %s", tv.ID, tv.Server, tv.ServerAddr, st.Server.ID, st.ServerAddr)
			}
		}
		if _, ok := c.agents[tv.AgentID]; !ok {
			t.Errorf("new task %s on agent %s, not one of the new master's", tv.ID, tv.AgentID)
		}
	}
	if len(newServers) != 1 || len(newWorkers) != 3 {
		t.Fatalf("launched after the restart: got servers %v workers %v, want 1 server and 3 workers", newServers, newWorkers)
	}
	if got, err := httpGet(fmt.Sprintf("http://127.0.0.1:%d/rpcpw", st.Server.Ports[1])); err != nil || got != testRPCPassword {
		t.Fatalf("new server: got %q %v, want it serving", got, err)
	}
	running := 0
	for _, tk := range ms.Frameworks[0].Tasks {
		if _, old := before[tk.ID]; old {
			t.Errorf("new master knows old task %s (%s)", tk.ID, tk.State)
		}
		if tk.State == mesos.TaskRunning {
			running++
		}
	}
	if running != 4 {
		t.Errorf("new master: got %d running tasks, want 4", running)
	}
	if n := r.maxServers(); n != 1 {
		t.Fatalf("at most one live server at a time: saw %d", n)
	}
}
