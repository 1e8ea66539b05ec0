package scheduler

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashfleet/hashfleet/internal/mesos"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

type offerOpt func(*mesos.Offer)

func offer(id string, cpus, mem float64, ports ...mesos.ValueRange) mesos.Offer {
	o := mesos.Offer{ID: mesos.OfferID{Value: id}, AgentID: mesos.AgentID{Value: "agent-" + id}, Hostname: "host-" + id}
	if cpus != 0 {
		o.Resources = append(o.Resources, mesos.ScalarResource(mesos.ResCPUs, cpus))
	}
	if mem != 0 {
		o.Resources = append(o.Resources, mesos.ScalarResource(mesos.ResMem, mem))
	}
	if len(ports) > 0 {
		o.Resources = append(o.Resources, mesos.RangesResource(mesos.ResPorts, ports...))
	}
	return o
}

func rg(b, e uint64) mesos.ValueRange { return mesos.ValueRange{Begin: b, End: e} }

func boolp(b bool) *bool { return &b }

// withServer returns a state whose current server is in state st.
func withServer(cfg PolicyConfig, st mesos.TaskState, healthy *bool) *State {
	s := NewState(cfg)
	s.NoteLaunch("srv-1", LaunchSpec{Role: RoleServer, CPUs: 1, Mem: 256, Ports: []uint64{31000, 31001}},
		offer("s", 1, 256), t0)
	s.Tasks["srv-1"].State = st
	s.Tasks["srv-1"].Healthy = healthy
	return s
}

func addWorkers(s *State, n int, cpus float64) {
	for i := range n {
		id := fmt.Sprintf("w-%d", i)
		s.NoteLaunch(id, LaunchSpec{Role: RoleWorker, CPUs: cpus, Mem: 128, Server: s.CurrentServer}, offer("w", cpus, 128), t0)
		s.Tasks[id].State = mesos.TaskRunning
	}
}

func summary(p Plan) string {
	var parts []string
	for _, d := range p.Offers {
		if len(d.Launches) == 0 {
			parts = append(parts, d.Offer.ID.Value+":decline")
			continue
		}
		var ls []string
		for _, l := range d.Launches {
			s := fmt.Sprintf("%s/%gc/%gm", l.Role, l.CPUs, l.Mem)
			if len(l.Ports) > 0 {
				s += fmt.Sprintf("/%v", l.Ports)
			}
			ls = append(ls, s)
		}
		parts = append(parts, d.Offer.ID.Value+":"+strings.Join(ls, "+"))
	}
	return strings.Join(parts, " ")
}

func TestDecideServerPlacement(t *testing.T) {
	tests := []struct {
		name       string
		offers     []mesos.Offer
		want       string
		reason     string // substring of the first offer's reason
		wantWanted int
	}{
		{name: "fits exactly", offers: []mesos.Offer{offer("o1", 1, 256, rg(31000, 31001))},
			want: "o1:server/1c/256m/[31000 31001]"},
		{name: "no ports", offers: []mesos.Offer{offer("o1", 4, 4096)},
			want: "o1:decline", reason: "0 free port(s) < 2", wantWanted: 1},
		{name: "single port", offers: []mesos.Offer{offer("o1", 4, 4096, rg(31000, 31000))},
			want: "o1:decline", reason: "1 free port(s) < 2", wantWanted: 1},
		{name: "two single-port ranges", offers: []mesos.Offer{offer("o1", 1, 256, rg(31000, 31000), rg(31005, 31005))},
			want: "o1:server/1c/256m/[31000 31005]"},
		{name: "first range single port, second range larger", offers: []mesos.Offer{offer("o1", 2, 512, rg(100, 100), rg(200, 300))},
			want: "o1:server/1c/256m/[100 200]"},
		{name: "zero cpus", offers: []mesos.Offer{offer("o1", 0, 4096, rg(1, 10))},
			want: "o1:decline", reason: "0 cpus < 1", wantWanted: 1},
		{name: "fractional cpus", offers: []mesos.Offer{offer("o1", 0.9, 4096, rg(1, 10))},
			want: "o1:decline", reason: "0.9 cpus < 1", wantWanted: 1},
		{name: "low memory", offers: []mesos.Offer{offer("o1", 8, 255, rg(1, 10))},
			want: "o1:decline", reason: "255 MB < 256 MB", wantWanted: 1},
		{name: "only one server across offers", offers: []mesos.Offer{offer("o1", 2, 512, rg(1, 10)), offer("o2", 2, 512, rg(1, 10))},
			want: "o1:server/1c/256m/[1 2] o2:decline"},
		{name: "bad offer then good", offers: []mesos.Offer{offer("o1", 2, 512), offer("o2", 1, 256, rg(5, 6))},
			want: "o1:decline o2:server/1c/256m/[5 6]", reason: "port"},
		{name: "no offers", offers: nil, want: "", wantWanted: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := NewState(PolicyConfig{})
			p := s.Decide(tc.offers, t0)
			if got := summary(p); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			if tc.reason != "" && !strings.Contains(p.Offers[0].Reason, tc.reason) {
				t.Fatalf("reason: got %q, want it to contain %q", p.Offers[0].Reason, tc.reason)
			}
			if p.Wanted != tc.wantWanted {
				t.Fatalf("wanted: got %d, want %d", p.Wanted, tc.wantWanted)
			}
			for _, d := range p.Offers {
				if len(d.Launches) == 0 && d.Refuse != time.Hour {
					t.Fatalf("decline filter: got %v, want 1h", d.Refuse)
				}
			}
		})
	}
}

func TestDecideWorkers(t *testing.T) {
	tests := []struct {
		name       string
		cfg        PolicyConfig
		server     mesos.TaskState
		healthy    *bool
		workers    int
		workerCPUs float64
		offers     []mesos.Offer
		want       string
		reason     string
		wantWanted int
	}{
		{name: "server staging: no workers", server: mesos.TaskStaging,
			offers: []mesos.Offer{offer("o1", 4, 1024)}, want: "o1:decline", reason: "waiting for the server"},
		{name: "server starting: no workers", server: mesos.TaskStarting,
			offers: []mesos.Offer{offer("o1", 4, 1024)}, want: "o1:decline", reason: "waiting"},
		{name: "running but health unknown with RequireHealthy", cfg: PolicyConfig{RequireHealthy: true}, server: mesos.TaskRunning,
			offers: []mesos.Offer{offer("o1", 4, 1024)}, want: "o1:decline", reason: "healthy"},
		{name: "running unhealthy with RequireHealthy", cfg: PolicyConfig{RequireHealthy: true}, server: mesos.TaskRunning, healthy: boolp(false),
			offers: []mesos.Offer{offer("o1", 4, 1024)}, want: "o1:decline"},
		{name: "running healthy with RequireHealthy", cfg: PolicyConfig{RequireHealthy: true}, server: mesos.TaskRunning, healthy: boolp(true),
			offers: []mesos.Offer{offer("o1", 4, 1024)}, want: "o1:worker/4c/128m", wantWanted: 1},
		{name: "default size takes whole cpus", server: mesos.TaskRunning,
			offers: []mesos.Offer{offer("o1", 3.5, 1024)}, want: "o1:worker/3c/128m", wantWanted: 1},
		{name: "zero cpus", server: mesos.TaskRunning,
			offers: []mesos.Offer{offer("o1", 0, 1024)}, want: "o1:decline", reason: "no whole cpu", wantWanted: 1},
		{name: "fractional cpu only", server: mesos.TaskRunning,
			offers: []mesos.Offer{offer("o1", 0.5, 1024)}, want: "o1:decline", reason: "no whole cpu", wantWanted: 1},
		{name: "not enough memory", server: mesos.TaskRunning,
			offers: []mesos.Offer{offer("o1", 4, 100)}, want: "o1:decline", reason: "100 MB < 128 MB", wantWanted: 1},
		{name: "fixed size packs several", cfg: PolicyConfig{WorkerCPUs: 1, WorkerMem: 200}, server: mesos.TaskRunning,
			offers: []mesos.Offer{offer("o1", 3.5, 1000)}, want: "o1:worker/1c/200m+worker/1c/200m+worker/1c/200m", wantWanted: 1},
		{name: "fixed size limited by memory", cfg: PolicyConfig{WorkerCPUs: 1, WorkerMem: 200}, server: mesos.TaskRunning,
			offers: []mesos.Offer{offer("o1", 8, 450)}, want: "o1:worker/1c/200m+worker/1c/200m", wantWanted: 1},
		{name: "fractional fixed size", cfg: PolicyConfig{WorkerCPUs: 0.5, WorkerMem: 64}, server: mesos.TaskRunning,
			offers: []mesos.Offer{offer("o1", 1, 1000)}, want: "o1:worker/0.5c/64m+worker/0.5c/64m", wantWanted: 1},
		{name: "max workers caps across offers", cfg: PolicyConfig{MaxWorkers: 2}, server: mesos.TaskRunning,
			offers: []mesos.Offer{offer("o1", 2, 512), offer("o2", 2, 512), offer("o3", 2, 512)},
			want:   "o1:worker/2c/128m o2:worker/2c/128m o3:decline", wantWanted: 0},
		{name: "max workers already reached", cfg: PolicyConfig{MaxWorkers: 2}, server: mesos.TaskRunning, workers: 2, workerCPUs: 1,
			offers: []mesos.Offer{offer("o1", 2, 512)}, want: "o1:decline", reason: "max workers reached (2)", wantWanted: 0},
		{name: "max cpus trims the size", cfg: PolicyConfig{MaxCPUs: 5}, server: mesos.TaskRunning, workers: 1, workerCPUs: 2,
			offers: []mesos.Offer{offer("o1", 8, 512)}, want: "o1:worker/3c/128m", wantWanted: 0},
		{name: "max cpus with fixed size", cfg: PolicyConfig{MaxCPUs: 3, WorkerCPUs: 2}, server: mesos.TaskRunning,
			offers: []mesos.Offer{offer("o1", 8, 512)}, want: "o1:worker/2c/128m", wantWanted: 0},
		{name: "max cpus reached", cfg: PolicyConfig{MaxCPUs: 2}, server: mesos.TaskRunning, workers: 2, workerCPUs: 1,
			offers: []mesos.Offer{offer("o1", 8, 512)}, want: "o1:decline", reason: "max cpus", wantWanted: 0},
		{name: "server being killed: no workers", server: mesos.TaskKilling,
			offers: []mesos.Offer{offer("o1", 4, 1024)}, want: "o1:decline"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := withServer(tc.cfg, tc.server, tc.healthy)
			addWorkers(s, tc.workers, tc.workerCPUs)
			p := s.Decide(tc.offers, t0)
			if got := summary(p); got != tc.want {
				t.Fatalf("got %q, want %q (reasons %v)", got, tc.want, reasons(p))
			}
			if tc.reason != "" && !strings.Contains(p.Offers[0].Reason, tc.reason) {
				t.Fatalf("reason: got %q, want it to contain %q", p.Offers[0].Reason, tc.reason)
			}
			if p.Wanted != tc.wantWanted {
				t.Fatalf("wanted: got %d, want %d", p.Wanted, tc.wantWanted)
			}
			for _, d := range p.Offers {
				for _, l := range d.Launches {
					if l.Role == RoleWorker && (l.Server != "srv-1" || l.ServerAddr != "host-s:31000") {
						t.Fatalf("worker told server %q at %q, want srv-1 at host-s:31000", l.Server, l.ServerAddr)
					}
				}
			}
		})
	}
}

func reasons(p Plan) []string {
	var r []string
	for _, d := range p.Offers {
		r = append(r, d.Reason)
	}
	return r
}

func status(id string, st mesos.TaskState) mesos.TaskStatus {
	return mesos.TaskStatus{TaskID: mesos.TaskID{Value: id}, State: st, AgentID: &mesos.AgentID{Value: "agent-" + id}}
}

func TestServerLossKillsWorkersAndBacksOff(t *testing.T) {
	for _, st := range []mesos.TaskState{mesos.TaskFailed, mesos.TaskFinished, mesos.TaskKilled, mesos.TaskLost,
		mesos.TaskError, mesos.TaskDropped, mesos.TaskGone, mesos.TaskGoneByOperator, mesos.TaskUnreachable} {
		t.Run(string(st), func(t *testing.T) {
			s := withServer(PolicyConfig{}, mesos.TaskRunning, nil)
			addWorkers(s, 3, 1)
			u := s.Apply(status("srv-1", st), t0.Add(time.Second))
			if !u.Known || !u.Changed {
				t.Fatalf("apply: got %+v", u)
			}
			if s.CurrentServer != "" {
				t.Fatalf("current server: got %q, want none", s.CurrentServer)
			}
			kills := s.DueKills(t0.Add(time.Second))
			wantKills := 3
			if st == mesos.TaskUnreachable {
				wantKills = 4 // the unreachable server may still run
			}
			if len(kills) != wantKills {
				t.Fatalf("kills: got %d %v, want %d", len(kills), kills, wantKills)
			}
			// No new server while in backoff; decline only until backoff ends.
			p := s.Decide([]mesos.Offer{offer("o1", 4, 4096, rg(1, 100))}, t0.Add(time.Second))
			if summary(p) != "o1:decline" || !strings.Contains(p.Offers[0].Reason, "backoff") {
				t.Fatalf("during backoff: got %q %v", summary(p), reasons(p))
			}
			if p.Offers[0].Refuse <= 0 || p.Offers[0].Refuse > s.Config.BackoffMax {
				t.Fatalf("backoff refuse: got %v", p.Offers[0].Refuse)
			}
			p = s.Decide([]mesos.Offer{offer("o1", 4, 4096, rg(1, 100))}, s.ServerBackoffUntil)
			if !strings.HasPrefix(summary(p), "o1:server") {
				t.Fatalf("after backoff: got %q", summary(p))
			}
		})
	}
}

func TestCrashLoopBackoffGrows(t *testing.T) {
	s := NewState(PolicyConfig{BackoffMin: time.Second, BackoffMax: 8 * time.Second})
	now := t0
	var gaps []time.Duration
	for i := range 6 {
		id := fmt.Sprintf("srv-%d", i)
		p := s.Decide([]mesos.Offer{offer("o", 2, 512, rg(1, 10))}, now)
		if len(p.Offers[0].Launches) != 1 {
			t.Fatalf("attempt %d: no launch at %v (backoff until %v): %v", i, now, s.ServerBackoffUntil, reasons(p))
		}
		s.NoteLaunch(id, p.Offers[0].Launches[0], p.Offers[0].Offer, now)
		s.Apply(status(id, mesos.TaskRunning), now)
		s.Apply(status(id, mesos.TaskFailed), now.Add(100*time.Millisecond))
		gap := s.ServerBackoffUntil.Sub(now.Add(100 * time.Millisecond))
		gaps = append(gaps, gap)
		now = s.ServerBackoffUntil
	}
	want := []time.Duration{1, 2, 4, 8, 8, 8}
	for i := range want {
		if gaps[i] != want[i]*time.Second {
			t.Fatalf("backoffs: got %v, want %v s", gaps, want)
		}
	}
	// A server that stayed up resets the count.
	s.NoteLaunch("stable", LaunchSpec{Role: RoleServer, Ports: []uint64{1, 2}}, offer("o", 2, 512), now)
	s.Apply(status("stable", mesos.TaskRunning), now)
	s.Apply(status("stable", mesos.TaskFailed), now.Add(time.Minute))
	if got := s.ServerBackoffUntil.Sub(now.Add(time.Minute)); got != time.Second {
		t.Fatalf("after a stable run: backoff %v, want 1s", got)
	}
}

func TestWorkerLossBacksOffAndIsReplaced(t *testing.T) {
	s := withServer(PolicyConfig{MaxWorkers: 2}, mesos.TaskRunning, nil)
	addWorkers(s, 2, 1)
	s.Apply(status("w-0", mesos.TaskFailed), t0)
	if s.Wanted() != 1 {
		t.Fatalf("wanted after a worker failed: got %d, want 1", s.Wanted())
	}
	p := s.Decide([]mesos.Offer{offer("o1", 1, 512)}, t0)
	if summary(p) != "o1:decline" || !strings.Contains(p.Offers[0].Reason, "worker relaunch backoff") {
		t.Fatalf("in backoff: got %q %v", summary(p), reasons(p))
	}
	p = s.Decide([]mesos.Offer{offer("o1", 1, 512)}, s.WorkerBackoffUntil)
	if summary(p) != "o1:worker/1c/128m" {
		t.Fatalf("after backoff: got %q %v", summary(p), reasons(p))
	}
	if len(s.DueKills(t0)) != 0 {
		t.Fatalf("a worker loss must not kill anything")
	}
}

func TestApplyIdempotentAndOrdered(t *testing.T) {
	tests := []struct {
		name      string
		updates   []mesos.TaskState
		wantState mesos.TaskState
		wantKill  bool
	}{
		{name: "duplicate running", updates: []mesos.TaskState{mesos.TaskRunning, mesos.TaskRunning}, wantState: mesos.TaskRunning},
		{name: "terminal then stale running", updates: []mesos.TaskState{mesos.TaskFinished, mesos.TaskRunning}, wantState: mesos.TaskFinished},
		{name: "duplicate terminal", updates: []mesos.TaskState{mesos.TaskKilled, mesos.TaskKilled}, wantState: mesos.TaskKilled},
		{name: "lost then running again is killed", updates: []mesos.TaskState{mesos.TaskLost, mesos.TaskRunning}, wantState: mesos.TaskRunning, wantKill: true},
		{name: "starting after running (no timestamps)", updates: []mesos.TaskState{mesos.TaskRunning, mesos.TaskStarting}, wantState: mesos.TaskStarting},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := withServer(PolicyConfig{}, mesos.TaskRunning, nil)
			addWorkers(s, 1, 1)
			for i, st := range tc.updates {
				s.Apply(status("w-0", st), t0.Add(time.Duration(i)*time.Second))
			}
			w := s.Tasks["w-0"]
			if w.State != tc.wantState || w.KillWanted != tc.wantKill {
				t.Fatalf("got %s kill=%v, want %s kill=%v", w.State, w.KillWanted, tc.wantState, tc.wantKill)
			}
		})
	}
	// With timestamps, an older non-terminal update is stale.
	s := withServer(PolicyConfig{}, mesos.TaskStaging, nil)
	run, start := status("srv-1", mesos.TaskRunning), status("srv-1", mesos.TaskStarting)
	run.Timestamp, start.Timestamp = 200, 100
	s.Apply(run, t0)
	if u := s.Apply(start, t0); u.Changed || s.Tasks["srv-1"].State != mesos.TaskRunning {
		t.Fatalf("stale STARTING applied: %+v, state %s", u, s.Tasks["srv-1"].State)
	}
	fail := status("srv-1", mesos.TaskFailed)
	fail.Timestamp = 50 // terminal updates always apply
	if u := s.Apply(fail, t0); !u.Terminal {
		t.Fatalf("old-stamped terminal update ignored: %+v", u)
	}
	s = NewState(PolicyConfig{})
	if u := s.Apply(status("nope", mesos.TaskRunning), t0); u.Known {
		t.Fatal("unknown task reported as known")
	}
}

// TestApplyUnderClockSkew: a reconciliation reply is stamped by the
// master's clock, real updates by the agent's (or the executor's). With the
// agent's clock a minute behind, the executor's RUNNING healthy=true that
// follows a reconciliation reply carries an older timestamp; it is a real
// update and must apply (else the server never becomes ready).
func TestApplyUnderClockSkew(t *testing.T) {
	s := withServer(PolicyConfig{RequireHealthy: true}, mesos.TaskStaging, nil)
	running := status("srv-1", mesos.TaskRunning)
	running.Timestamp, running.Source = 1000, mesos.SourceExecutor // agent clock
	s.Apply(running, t0)
	reply := status("srv-1", mesos.TaskRunning)
	reply.Timestamp, reply.Source, reply.Reason = 1060, mesos.SourceMaster, mesos.ReasonReconciliation // master clock
	s.Apply(reply, t0.Add(time.Second))
	healthy := status("srv-1", mesos.TaskRunning)
	healthy.Timestamp, healthy.Source, healthy.Healthy, healthy.Reason = 1005, mesos.SourceExecutor, boolp(true), mesos.ReasonTaskHealthCheckUpdated
	if u := s.Apply(healthy, t0.Add(2*time.Second)); !u.Changed {
		t.Fatalf("health update after a later-stamped reconciliation reply: got %+v, want it applied", u)
	}
	if !s.ServerReady() {
		t.Fatal("server not ready after its healthy=true update")
	}
	// Between real updates the order still holds: an older STARTING from
	// the executor after its RUNNING is stale.
	starting := status("srv-1", mesos.TaskStarting)
	starting.Timestamp, starting.Source = 1001, mesos.SourceExecutor
	if u := s.Apply(starting, t0.Add(3*time.Second)); u.Changed || s.Tasks["srv-1"].State != mesos.TaskRunning {
		t.Fatalf("stale STARTING applied: %+v, state %s", u, s.Tasks["srv-1"].State)
	}
}

func TestOldServerReappearingIsKilled(t *testing.T) {
	s := withServer(PolicyConfig{}, mesos.TaskRunning, nil)
	s.Apply(status("srv-1", mesos.TaskUnreachable), t0)
	s.NoteLaunch("srv-2", LaunchSpec{Role: RoleServer, Ports: []uint64{1, 2}}, offer("x", 1, 256), t0.Add(time.Minute))
	s.Apply(status("srv-1", mesos.TaskRunning), t0.Add(2*time.Minute))
	if s.CurrentServer != "srv-2" {
		t.Fatalf("current server: got %q, want srv-2", s.CurrentServer)
	}
	if !s.Tasks["srv-1"].KillWanted {
		t.Fatal("the old server came back and is not being killed")
	}
}

func TestKillRetry(t *testing.T) {
	s := withServer(PolicyConfig{KillRetry: 10 * time.Second}, mesos.TaskRunning, nil)
	addWorkers(s, 1, 1)
	s.Apply(status("srv-1", mesos.TaskFailed), t0)
	ks := s.DueKills(t0)
	if len(ks) != 1 || ks[0].TaskID != "w-0" {
		t.Fatalf("kills: got %v", ks)
	}
	s.KillSent("w-0", t0)
	if ks := s.DueKills(t0.Add(9 * time.Second)); len(ks) != 0 {
		t.Fatalf("re-sent too early: %v", ks)
	}
	if ks := s.DueKills(t0.Add(10 * time.Second)); len(ks) != 1 {
		t.Fatalf("not re-sent after KillRetry: %v", ks)
	}
	s.Apply(status("w-0", mesos.TaskKilled), t0.Add(11*time.Second))
	if ks := s.DueKills(t0.Add(time.Hour)); len(ks) != 0 {
		t.Fatalf("kill re-sent after terminal: %v", ks)
	}
}

func TestUnreachableGrace(t *testing.T) {
	s := withServer(PolicyConfig{UnreachableGrace: time.Minute}, mesos.TaskRunning, nil)
	addWorkers(s, 1, 1)
	s.Apply(status("srv-1", mesos.TaskUnreachable), t0)
	if s.CurrentServer != "srv-1" || s.Tick(t0.Add(59*time.Second)) {
		t.Fatal("server replaced within the grace period")
	}
	if !s.Tick(t0.Add(time.Minute)) || s.CurrentServer != "" {
		t.Fatal("server not replaced after the grace period")
	}
	if len(s.DueKills(t0.Add(time.Minute))) != 2 {
		t.Fatal("server and worker not both killed")
	}
}

func TestForgetKeepsRecentHistory(t *testing.T) {
	s := withServer(PolicyConfig{}, mesos.TaskRunning, nil)
	for i := range 5 {
		id := fmt.Sprintf("old-%d", i)
		s.NoteLaunch(id, LaunchSpec{Role: RoleWorker}, offer("o", 1, 1), t0)
		s.Apply(status(id, mesos.TaskFinished), t0.Add(time.Duration(i)*time.Second))
	}
	s.Forget(t0.Add(-time.Hour), 2)
	if len(s.Tasks) != 3 {
		t.Fatalf("tasks left: got %d, want 3 (server + 2 newest)", len(s.Tasks))
	}
	if _, ok := s.Tasks["old-4"]; !ok {
		t.Fatal("newest finished task forgotten")
	}
}

// TestRelaunchedServerGetsFreshPorts: a server that failed (say its port
// was busy) is relaunched on ports no ended server on that agent used, and
// only when the offer has no others does it reuse them.
func TestRelaunchedServerGetsFreshPorts(t *testing.T) {
	s := NewState(PolicyConfig{BackoffMin: time.Second})
	now := t0
	var got [][]uint64
	for i := range 3 {
		id := fmt.Sprintf("srv-%d", i)
		p := s.Decide([]mesos.Offer{offer("o", 2, 512, rg(100, 104), rg(200, 200))}, now)
		if len(p.Offers[0].Launches) != 1 {
			t.Fatalf("attempt %d: no launch: %v", i, reasons(p))
		}
		got = append(got, p.Offers[0].Launches[0].Ports)
		s.NoteLaunch(id, p.Offers[0].Launches[0], p.Offers[0].Offer, now)
		s.Apply(status(id, mesos.TaskFailed), now)
		now = s.ServerBackoffUntil
	}
	want := fmt.Sprint([][]uint64{{100, 101}, {102, 103}, {104, 200}})
	if fmt.Sprint(got) != want {
		t.Fatalf("server ports over relaunches: got %v, want %v", got, want)
	}
	// All offered ports were used by failed servers: take any.
	p := s.Decide([]mesos.Offer{offer("o", 2, 512, rg(100, 101))}, now)
	if l := p.Offers[0].Launches; len(l) != 1 || fmt.Sprint(l[0].Ports) != "[100 101]" {
		t.Fatalf("with only used ports offered: got %v (%v), want [100 101]", l, reasons(p))
	}
	// Another agent's failures do not count.
	p = s.Decide([]mesos.Offer{offer("other", 2, 512, rg(100, 104))}, now)
	if l := p.Offers[0].Launches; len(l) != 1 || fmt.Sprint(l[0].Ports) != "[100 101]" {
		t.Fatalf("on another agent: got %v, want [100 101]", l)
	}
}

// BenchmarkDecide: the policy's decision on a round of n offers of 4 cpus
// with a ready server, n/2 workers wanted (as BenchmarkFleetAtScale's
// worker round) and n/2 already running; its cost per offer stays flat
// from 1,000 to 10,000 offers.
func BenchmarkDecide(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("offers=%d", n), func(b *testing.B) {
			s := withServer(PolicyConfig{WorkerCPUs: 1, WorkerMem: 64, MaxWorkers: n}, mesos.TaskRunning, boolp(true))
			for i := range n / 2 {
				s.NoteLaunch(fmt.Sprintf("w-%d", i), LaunchSpec{Role: RoleWorker, CPUs: 1, Mem: 64, Server: "srv-1"}, offer("x", 1, 64), t0)
			}
			offers := make([]mesos.Offer, n)
			for i := range offers {
				offers[i] = offer(fmt.Sprint(i), 4, 8192, rg(40000, 40019))
			}
			b.ResetTimer()
			for range b.N {
				if p := s.Decide(offers, t0); p.Wanted != 0 {
					b.Fatalf("still wanted after the round: %d", p.Wanted)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/offer")
		})
	}
}
