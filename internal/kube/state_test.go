package kube

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashfleet/hashfleet/internal/fleet"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func newTestState(p fleet.Policy) *State {
	return NewState(Policy{Policy: p, Nonce: "n"})
}

func twoNodes() []Node {
	return []Node{
		{Name: "a", CPUs: 4, Requested: 1, Usable: true}, // the server's request
		{Name: "b", CPUs: 4, Usable: true},
	}
}

func server(phase Phase, ready bool) Pod {
	return Pod{Name: "hashfleet-server", UID: "s1", Role: RoleServer, Node: "a", Phase: phase, Ready: ready, CPUs: 1}
}

func worker(name, node string, cpus float64) Pod {
	return Pod{Name: name, UID: "u-" + name, Role: RoleWorker, ServerUID: "s1", Node: node, Phase: PhaseRunning, CPUs: cpus}
}

func createdCPUs(p Plan, role Role) []float64 {
	var out []float64
	for _, c := range p.Creates {
		if c.Role == role {
			out = append(out, c.CPUs)
		}
	}
	return out
}

func deleted(p Plan) []string {
	var out []string
	for _, d := range p.Deletes {
		out = append(out, d.Name)
	}
	slices.Sort(out)
	return out
}

func reasons(p Plan) []string {
	var out []string
	for _, e := range p.Events {
		out = append(out, e.Reason)
	}
	return out
}

func TestServerCreatedOnceWhileUnseen(t *testing.T) {
	s := newTestState(fleet.Policy{})
	p := s.Reconcile(World{Nodes: twoNodes(), Now: t0})
	if len(p.Creates) != 1 || p.Creates[0].Role != RoleServer || p.Creates[0].Name != "hashfleet-server" {
		t.Fatalf("creates = %+v, want the server", p.Creates)
	}
	s.Created(p.Creates[0], t0)
	// The informer has not shown it yet: no second server.
	if p := s.Reconcile(World{Nodes: twoNodes(), Now: t0.Add(time.Second)}); len(p.Creates) != 0 {
		t.Fatalf("second reconcile creates %+v, want nothing while the first is in flight", p.Creates)
	}
	// Never seen within ExpectTimeout: created again.
	if p := s.Reconcile(World{Nodes: twoNodes(), Now: t0.Add(2 * time.Minute)}); len(p.Creates) != 1 {
		t.Fatalf("after the expectation timed out, creates = %+v, want the server again", p.Creates)
	}
}

func TestWorkerSizing(t *testing.T) {
	tests := []struct {
		name    string
		policy  fleet.Policy
		nodes   []Node
		pods    []Pod // besides the Ready server
		want    []float64
		wantWhy string
	}{
		{name: "fill the cluster: all whole free cpus of each node", nodes: twoNodes(), want: []float64{3, 4}},
		{name: "fixed size fills the nodes", policy: fleet.Policy{WorkerCPUs: 2}, nodes: twoNodes(), want: []float64{2, 2, 2}},
		{name: "max workers", policy: fleet.Policy{WorkerCPUs: 1, MaxWorkers: 2}, nodes: twoNodes(), want: []float64{1, 1}, wantWhy: "max workers reached (2)"},
		{name: "max cpus lowers the whole-cpu worker", policy: fleet.Policy{MaxCPUs: 5}, nodes: twoNodes(), want: []float64{3, 2}, wantWhy: "max cpus reached"},
		{name: "existing workers count", policy: fleet.Policy{WorkerCPUs: 1, MaxWorkers: 3},
			nodes: []Node{{Name: "a", CPUs: 8, Requested: 3, Usable: true}},
			pods:  []Pod{worker("w1", "a", 1), worker("w2", "a", 1)}, want: []float64{1}},
		{name: "an unplaced worker takes its cpus first", nodes: []Node{{Name: "a", CPUs: 4, Requested: 1, Usable: true}},
			pods: []Pod{worker("w1", "", 3)}, want: nil, wantWhy: "no usable node"},
		{name: "unusable node skipped", nodes: []Node{{Name: "a", CPUs: 4, Requested: 1, Usable: true}, {Name: "c", CPUs: 16}}, want: []float64{3}},
		{name: "fractional free cpus: no whole cpu", nodes: []Node{{Name: "a", CPUs: 1.5, Requested: 1, Usable: true}}, want: nil, wantWhy: "no usable node"},
		{name: "fractional worker size", policy: fleet.Policy{WorkerCPUs: 0.5, MaxWorkers: 3}, nodes: twoNodes(), want: []float64{0.5, 0.5, 0.5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestState(tt.policy)
			pods := append([]Pod{server(PhaseRunning, true)}, tt.pods...)
			p := s.Reconcile(World{Pods: pods, Nodes: tt.nodes, Now: t0})
			if got := createdCPUs(p, RoleWorker); !slices.Equal(got, tt.want) {
				t.Errorf("worker cpus = %v, want %v", got, tt.want)
			}
			if len(p.Deletes) != 0 {
				t.Errorf("deletes = %v, want none", deleted(p))
			}
			if !strings.Contains(s.WorkerReason, tt.wantWhy) {
				t.Errorf("WorkerReason = %q, want it to contain %q", s.WorkerReason, tt.wantWhy)
			}
			for _, c := range p.Creates {
				if c.ServerUID != "s1" || !strings.HasPrefix(c.Name, "hashfleet-worker-n") {
					t.Errorf("create %+v: want server uid s1 and a hashfleet-worker-n… name", c)
				}
			}
			// The creates are in flight: the next pass adds nothing.
			if p := s.Reconcile(World{Pods: pods, Nodes: tt.nodes, Now: t0.Add(time.Second)}); len(p.Creates) != 0 {
				t.Errorf("second pass creates %+v, want none", p.Creates)
			}
		})
	}
}

func TestNoWorkersUntilServerReady(t *testing.T) {
	for _, srv := range []Pod{server(PhasePending, false), server(PhaseRunning, false)} {
		s := newTestState(fleet.Policy{})
		p := s.Reconcile(World{Pods: []Pod{srv}, Nodes: twoNodes(), Now: t0})
		if len(p.Creates) != 0 {
			t.Errorf("server %s ready=%v: creates %+v, want none", srv.Phase, srv.Ready, p.Creates)
		}
	}
}

func TestServerNotReadyDeletesWorkersAndTheyComeBack(t *testing.T) {
	s := newTestState(fleet.Policy{WorkerCPUs: 4, MaxWorkers: 1})
	nodes := []Node{{Name: "a", CPUs: 8, Requested: 5, Usable: true}}
	ws := []Pod{worker("w1", "a", 4)}
	p := s.Reconcile(World{Pods: append([]Pod{server(PhaseRunning, true)}, ws...), Nodes: nodes, Now: t0})
	if !slices.Equal(reasons(p), []string{"ServerReady"}) || len(p.Creates)+len(p.Deletes) != 0 {
		t.Fatalf("ready with its worker: plan %+v, want only a ServerReady event", p)
	}
	p = s.Reconcile(World{Pods: append([]Pod{server(PhaseRunning, false)}, ws...), Nodes: nodes, Now: t0.Add(time.Second)})
	if !slices.Equal(deleted(p), []string{"w1"}) || !slices.Equal(reasons(p), []string{"ServerNotReady"}) {
		t.Fatalf("not ready: deleted %v events %v, want [w1] [ServerNotReady]", deleted(p), reasons(p))
	}
	// The worker is gone; the server is Ready again: a new worker.
	p = s.Reconcile(World{Pods: []Pod{server(PhaseRunning, true)}, Nodes: []Node{{Name: "a", CPUs: 8, Requested: 1, Usable: true}}, Now: t0.Add(2 * time.Second)})
	if got := createdCPUs(p, RoleWorker); !slices.Equal(got, []float64{4}) {
		t.Fatalf("ready again: worker cpus %v, want [4]", got)
	}
	if s.ServerFailures != 0 {
		t.Errorf("ServerFailures = %d, want 0 (not ready is not a failure)", s.ServerFailures)
	}
}

// TestServerCrashLoop scripts a server that fails again and again: each
// failure deletes the workers and the pod, the next server waits a
// doubling backoff, and nothing is created in between (no storm).
func TestServerCrashLoop(t *testing.T) {
	s := newTestState(fleet.Policy{BackoffMin: time.Second, BackoffMax: 4 * time.Second})
	now := t0
	wantBackoff := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second}
	for i, want := range wantBackoff {
		uid := "s" + string(rune('1'+i))
		srv := Pod{Name: "hashfleet-server", UID: uid, Role: RoleServer, Node: "a", Phase: PhaseFailed, Message: "exit 1"}
		w := worker("w"+uid, "a", 1)
		w.ServerUID = uid
		p := s.Reconcile(World{Pods: []Pod{srv, w}, Nodes: twoNodes(), Now: now})
		if got := deleted(p); !slices.Equal(got, []string{"hashfleet-server", "w" + uid}) {
			t.Fatalf("failure %d: deleted %v, want the server and its worker", i+1, got)
		}
		if !slices.Equal(reasons(p), []string{"ServerFailed"}) || !p.Events[0].Warning {
			t.Fatalf("failure %d: events %+v, want one ServerFailed warning", i+1, p.Events)
		}
		if got := s.ServerBackoffUntil.Sub(now); got != want {
			t.Fatalf("failure %d: backoff %v, want %v", i+1, got, want)
		}
		// Seen again before it is gone: no second count, no second delete.
		if p := s.Reconcile(World{Pods: []Pod{srv}, Nodes: twoNodes(), Now: now.Add(time.Millisecond)}); len(p.Deletes)+len(p.Events)+len(p.Creates) != 0 {
			t.Fatalf("failure %d seen twice: plan %+v, want nothing", i+1, p)
		}
		// Gone, backoff running: nothing created, requeued for its end.
		p = s.Reconcile(World{Nodes: twoNodes(), Now: now.Add(want / 2)})
		if len(p.Creates) != 0 || p.Requeue != want-want/2 {
			t.Fatalf("failure %d during backoff: creates %+v requeue %v, want none and %v", i+1, p.Creates, p.Requeue, want-want/2)
		}
		now = now.Add(want)
		p = s.Reconcile(World{Nodes: twoNodes(), Now: now})
		if len(p.Creates) != 1 || p.Creates[0].Role != RoleServer {
			t.Fatalf("failure %d after backoff: creates %+v, want the server", i+1, p.Creates)
		}
		s.Created(p.Creates[0], now)
	}
	if s.ServerFailures != 4 {
		t.Errorf("ServerFailures = %d, want 4", s.ServerFailures)
	}
}

func TestStableServerResetsFailures(t *testing.T) {
	s := newTestState(fleet.Policy{BackoffMin: time.Second, StableAfter: time.Minute})
	s.ServerFailures = 5
	s.Reconcile(World{Pods: []Pod{server(PhaseRunning, true)}, Nodes: twoNodes(), Now: t0})
	s.Reconcile(World{Pods: []Pod{server(PhaseFailed, false)}, Nodes: twoNodes(), Now: t0.Add(2 * time.Minute)})
	if s.ServerFailures != 1 || s.ServerBackoffUntil != t0.Add(2*time.Minute+time.Second) {
		t.Errorf("after a stable server: failures %d backoff until %v, want 1 and +1s", s.ServerFailures, s.ServerBackoffUntil)
	}
}

func TestServerDeletedFromOutside(t *testing.T) {
	s := newTestState(fleet.Policy{BackoffMin: time.Second})
	s.Reconcile(World{Pods: []Pod{server(PhaseRunning, true), worker("w1", "b", 4)}, Nodes: twoNodes(), Now: t0})
	// kubectl delete pod: it shows as deleting, its worker still runs.
	srv := server(PhaseRunning, true)
	srv.Deleting = true
	p := s.Reconcile(World{Pods: []Pod{srv, worker("w1", "b", 4)}, Nodes: twoNodes(), Now: t0.Add(time.Second)})
	if !slices.Equal(deleted(p), []string{"w1"}) || !slices.Equal(reasons(p), []string{"ServerDeleted"}) || len(p.Creates) != 0 {
		t.Fatalf("server deleting: plan %+v, want w1 deleted, a ServerDeleted event, no create", p)
	}
	// Gone: counted once, the next one after the backoff.
	p = s.Reconcile(World{Nodes: twoNodes(), Now: t0.Add(time.Second + time.Millisecond)})
	if len(p.Events) != 0 || len(p.Creates) != 0 || s.ServerFailures != 1 {
		t.Fatalf("server gone: plan %+v failures %d, want nothing yet and 1 failure", p, s.ServerFailures)
	}
	if p = s.Reconcile(World{Nodes: twoNodes(), Now: t0.Add(2 * time.Second)}); len(p.Creates) != 1 {
		t.Fatalf("after backoff: creates %+v, want the server", p.Creates)
	}
}

func TestServerVanishedEventOnService(t *testing.T) {
	s := newTestState(fleet.Policy{})
	s.Reconcile(World{Pods: []Pod{server(PhaseRunning, true)}, Nodes: twoNodes(), Now: t0})
	p := s.Reconcile(World{Nodes: twoNodes(), Now: t0.Add(time.Second)})
	if len(p.Events) != 1 || p.Events[0].Reason != "ServerDeleted" || p.Events[0].Pod != "" {
		t.Fatalf("events %+v, want one ServerDeleted on the Service", p.Events)
	}
}

func TestWaitingReportedOnceAndPodKept(t *testing.T) {
	s := newTestState(fleet.Policy{})
	srv := server(PhasePending, false)
	var got []string
	for i, reason := range []string{"ErrImagePull", "ImagePullBackOff", "ErrImagePull", "ImagePullBackOff"} {
		srv.Waiting, srv.Message = reason, "pull access denied"
		p := s.Reconcile(World{Pods: []Pod{srv}, Nodes: twoNodes(), Now: t0.Add(time.Duration(i) * time.Second)})
		if len(p.Creates)+len(p.Deletes) != 0 {
			t.Fatalf("%s: plan %+v, want the pod kept and nothing created", reason, p)
		}
		got = append(got, reasons(p)...)
	}
	if !slices.Equal(got, []string{"ImagePullFailed"}) {
		t.Errorf("events %v, want one ImagePullFailed", got)
	}
	srv.Waiting, srv.Message = "CreateContainerConfigError", `secret "hashfleet-rpc" not found`
	p := s.Reconcile(World{Pods: []Pod{srv}, Nodes: twoNodes(), Now: t0.Add(time.Minute)})
	if !slices.Equal(reasons(p), []string{"ConfigError"}) || !strings.Contains(p.Events[0].Message, "hashfleet-rpc") {
		t.Errorf("missing secret: events %+v, want a ConfigError naming the secret", p.Events)
	}
	if p := s.Reconcile(World{Pods: []Pod{srv}, Nodes: twoNodes(), Now: t0.Add(61 * time.Second)}); len(p.Events) != 0 {
		t.Errorf("the same config error again: events %+v, want none", p.Events)
	}
	srv.Message = "container has runAsNonRoot and image will run as root"
	p = s.Reconcile(World{Pods: []Pod{srv}, Nodes: twoNodes(), Now: t0.Add(62 * time.Second)})
	if !slices.Equal(reasons(p), []string{"ConfigError"}) || !strings.Contains(p.Events[0].Message, "runAsNonRoot") {
		t.Errorf("another config error: events %+v, want a new ConfigError", p.Events)
	}
}

func TestNodeGone(t *testing.T) {
	s := newTestState(fleet.Policy{BackoffMin: time.Second})
	s.Reconcile(World{Pods: []Pod{server(PhaseRunning, true), worker("w1", "b", 4)}, Nodes: twoNodes(), Now: t0})
	onlyB := []Node{{Name: "b", CPUs: 4, Requested: 4, Usable: true}}
	p := s.Reconcile(World{Pods: []Pod{server(PhaseRunning, true), worker("w1", "b", 4)}, Nodes: onlyB, Now: t0.Add(time.Second)})
	if !slices.Equal(deleted(p), []string{"hashfleet-server", "w1"}) || !slices.Equal(reasons(p), []string{"NodeLost"}) {
		t.Fatalf("node a gone: deleted %v events %v, want server and w1, NodeLost", deleted(p), reasons(p))
	}
	for _, d := range p.Deletes {
		if d.Force != (d.Name == "hashfleet-server") {
			t.Errorf("delete %+v: want force only for the pod on the vanished node", d)
		}
	}
}

func TestWorkerFailureBacksOff(t *testing.T) {
	s := newTestState(fleet.Policy{WorkerCPUs: 1, MaxWorkers: 1, BackoffMin: time.Second})
	failed := worker("w1", "b", 1)
	failed.Phase, failed.Message = PhaseFailed, "OOMKilled"
	p := s.Reconcile(World{Pods: []Pod{server(PhaseRunning, true), failed}, Nodes: twoNodes(), Now: t0})
	if !slices.Equal(deleted(p), []string{"w1"}) || len(p.Creates) != 0 || !slices.Contains(reasons(p), "WorkerFailed") {
		t.Fatalf("failed worker: plan %+v, want it deleted, a WorkerFailed event, no create during the backoff", p)
	}
	if p.Requeue != time.Second {
		t.Errorf("requeue %v, want 1s (the backoff)", p.Requeue)
	}
	p = s.Reconcile(World{Pods: []Pod{server(PhaseRunning, true)}, Nodes: twoNodes(), Now: t0.Add(time.Second)})
	if got := createdCPUs(p, RoleWorker); !slices.Equal(got, []float64{1}) {
		t.Errorf("after the backoff: workers %v, want [1]", got)
	}
}

func TestStrayAndForeignPodsDeleted(t *testing.T) {
	s := newTestState(fleet.Policy{WorkerCPUs: 1, MaxWorkers: 1})
	stray := Pod{Name: "hashfleet-server-old", UID: "x", Role: RoleServer, Node: "a", Phase: PhaseRunning, Ready: true}
	foreign := worker("w-old", "b", 1)
	foreign.ServerUID = "x"
	p := s.Reconcile(World{Pods: []Pod{server(PhaseRunning, true), stray, foreign}, Nodes: twoNodes(), Now: t0})
	if got := deleted(p); !slices.Equal(got, []string{"hashfleet-server-old", "w-old"}) {
		t.Errorf("deleted %v, want the stray server and the other server's worker", got)
	}
}

func TestDeleteRetried(t *testing.T) {
	s := newTestState(fleet.Policy{})
	ws := []Pod{server(PhaseRunning, false), worker("w1", "b", 1)}
	if p := s.Reconcile(World{Pods: ws, Nodes: twoNodes(), Now: t0}); len(p.Deletes) != 1 {
		t.Fatalf("deletes %v, want w1", deleted(p))
	}
	if p := s.Reconcile(World{Pods: ws, Nodes: twoNodes(), Now: t0.Add(5 * time.Second)}); len(p.Deletes) != 0 || p.Requeue != 5*time.Second {
		t.Fatalf("5s later: deletes %v requeue %v, want none and 5s", deleted(p), p.Requeue)
	}
	if p := s.Reconcile(World{Pods: ws, Nodes: twoNodes(), Now: t0.Add(10 * time.Second)}); len(p.Deletes) != 1 {
		t.Fatalf("10s later: deletes %v, want w1 again", deleted(p))
	}
}

func TestCreateFailedBacksOff(t *testing.T) {
	s := newTestState(fleet.Policy{BackoffMin: time.Second})
	p := s.Reconcile(World{Nodes: twoNodes(), Now: t0})
	ev := s.CreateFailed(p.Creates[0], `pods is forbidden: User "system:serviceaccount:x:y" cannot create resource "pods"`, t0)
	if !ev.Warning || ev.Reason != "CreateFailed" || !strings.Contains(ev.Message, "forbidden") {
		t.Errorf("event %+v, want a CreateFailed warning with the cause", ev)
	}
	if p := s.Reconcile(World{Nodes: twoNodes(), Now: t0.Add(time.Second / 2)}); len(p.Creates) != 0 {
		t.Errorf("during the backoff: creates %+v, want none", p.Creates)
	}
	if p := s.Reconcile(World{Nodes: twoNodes(), Now: t0.Add(time.Second)}); len(p.Creates) != 1 {
		t.Errorf("after the backoff: creates %+v, want the server", p.Creates)
	}
}
