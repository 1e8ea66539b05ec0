package agent

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashfleet/hashfleet/internal/mesos"
)

// describe renders actions as one line for the scripts below.
func describe(a actions) string {
	var parts []string
	add := func(ok bool, s string) {
		if ok {
			parts = append(parts, s)
		}
	}
	add(a.stopTimers, "stop-timers")
	add(a.cleanup, "cleanup")
	add(a.cancelFetch, "cancel-fetch")
	for _, st := range a.emit {
		s := string(st.State)
		if st.Reason != "" {
			s += "/" + st.Reason
		}
		if st.Healthy != nil {
			s += fmt.Sprintf(" healthy=%v", *st.Healthy)
		}
		if st.Message != "" {
			s += fmt.Sprintf(" %q", st.Message)
		}
		parts = append(parts, s)
	}
	add(a.term, "term")
	add(a.kill, "kill")
	add(a.armForce > 0, "force-in "+a.armForce.String())
	add(a.start, "start")
	add(a.startHealth, "start-health")
	add(a.finished != "", "count "+string(a.finished))
	add(a.done, "done")
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, "; ")
}

var (
	evOK       = event{kind: evFetched}
	evReady    = event{kind: evPrepared, grace: 3 * time.Second}
	evUp       = event{kind: evStarted, cs: &mesos.ContainerStatus{}}
	evExit0    = event{kind: evExit}
	evSigTerm  = event{kind: evExit, exit: exitInfo{signal: "SIGTERM"}, stderrTail: "bye"}
	evHealthy  = event{kind: evHealth, health: healthResult{healthy: true}}
	evSick     = event{kind: evHealth, health: healthResult{}}
	evSickKill = event{kind: evHealth, health: healthResult{kill: true}}
)

func killWithGrace(d time.Duration) event {
	return event{kind: evKill, policy: &mesos.KillPolicy{GracePeriod: mesos.NewDurationInfo(d)}}
}

// TestLifecycleScripts drives the lifecycle through whole task lives: each
// event, then the actions it must return.
func TestLifecycleScripts(t *testing.T) {
	type step struct {
		ev   event
		want string
	}
	launched := []step{
		{evOK, "-"},
		{evReady, "TASK_STARTING; start"},
		{evUp, "TASK_RUNNING"},
	}
	tests := []struct {
		name         string
		killingState bool
		health       bool
		deadline     bool
		steps        []step
	}{
		{name: "finishes", steps: append(launched, step{evExit0, `stop-timers; cleanup; TASK_FINISHED "Command exited with status 0"; count TASK_FINISHED; done`})},
		{name: "fails with its stderr", steps: append(launched,
			step{event{kind: evExit, exit: exitInfo{code: 3}, stderrTail: "boom"}, `stop-timers; cleanup; TASK_FAILED "Command exited with status 3; stderr: boom"; count TASK_FAILED; done`})},
		{name: "sandbox fails", steps: []step{
			{event{kind: evSandboxFailed, err: errors.New("disk full")}, `TASK_FAILED/REASON_CONTAINER_LAUNCH_FAILED "Failed to create sandbox: disk full"; done`},
		}},
		{name: "fetch fails", steps: []step{
			{event{kind: evFetched, err: errors.New("404")}, `TASK_FAILED/REASON_CONTAINER_LAUNCH_FAILED "Failed to launch container: Failed to fetch all URIs for container 'c1': 404"; done`},
		}},
		{name: "killed while fetching", steps: []step{
			{event{kind: evKill}, "cancel-fetch"},
			{event{kind: evFetched, err: errors.New("context canceled")}, `TASK_KILLED/REASON_TASK_KILLED_DURING_LAUNCH "Task killed before it was launched"; done`},
		}},
		{name: "agent stops while fetching", steps: []step{
			{event{kind: evShutdown}, "cancel-fetch"},
			{event{kind: evFetched, err: errors.New("context canceled")}, "done"},
		}},
		{name: "dropped: no such user", steps: []step{
			{evOK, "-"},
			{event{kind: evRefused, state: mesos.TaskDropped, reason: mesos.ReasonExecutorTerminated, msg: "no user bob"}, `TASK_DROPPED/REASON_EXECUTOR_TERMINATED "no user bob"; done`},
		}},
		{name: "start fails", steps: []step{
			{evOK, "-"}, {evReady, "TASK_STARTING; start"},
			{event{kind: evStartFailed, err: errors.New("exec format error")}, `cleanup; TASK_FAILED/REASON_CONTAINER_LAUNCH_FAILED "Failed to launch container: exec format error"; done`},
		}},
		{name: "killed with TASK_KILLING", killingState: true, steps: append(launched,
			step{event{kind: evKill}, "TASK_KILLING; term; force-in 3s"},
			step{evSigTerm, `stop-timers; cleanup; TASK_KILLED "Command terminated with signal SIGTERM"; count TASK_KILLED; done`})},
		{name: "killed without TASK_KILLING, forced after the grace", steps: append(launched,
			step{event{kind: evKill}, "term; force-in 3s"},
			step{event{kind: evForce}, "kill"},
			step{event{kind: evExit, exit: exitInfo{signal: "SIGKILL"}}, `stop-timers; cleanup; TASK_KILLED "Command terminated with signal SIGKILL"; count TASK_KILLED; done`})},
		{name: "a second kill shortens the grace, no second SIGTERM", killingState: true, steps: append(launched,
			step{event{kind: evKill}, "TASK_KILLING; term; force-in 3s"},
			step{killWithGrace(time.Second), "force-in 1s"},
			step{killWithGrace(0), "kill"})},
		{name: "health updates, then the failing check kills", killingState: true, health: true, steps: append(launched[:2:2],
			step{evUp, "TASK_RUNNING; start-health"},
			step{evHealthy, "TASK_RUNNING/REASON_TASK_HEALTH_CHECK_STATUS_UPDATED healthy=true"},
			step{evSick, "TASK_RUNNING/REASON_TASK_HEALTH_CHECK_STATUS_UPDATED healthy=false"},
			step{evSickKill, "TASK_RUNNING/REASON_TASK_HEALTH_CHECK_STATUS_UPDATED healthy=false; TASK_KILLING; term; force-in 3s"},
			step{evHealthy, "-"}, // ignored once killing
			step{evSigTerm, `stop-timers; cleanup; TASK_KILLED healthy=false "Command terminated with signal SIGTERM"; count TASK_KILLED; done`})},
		{name: "completion deadline", deadline: true, steps: []step{
			{evOK, "-"}, {evReady, "TASK_STARTING; start"}, {evUp, "TASK_RUNNING; start-health"},
			{event{kind: evDeadline}, "term; kill"},
			{event{kind: evExit, exit: exitInfo{signal: "SIGKILL"}, stderrTail: "late"},
				`stop-timers; cleanup; TASK_FAILED/REASON_MAX_COMPLETION_TIME_REACHED "Command terminated with signal SIGKILL; stderr: late"; count TASK_FAILED; done`},
		}},
		{name: "agent stops: shorter grace, no terminal status", steps: append(launched,
			step{event{kind: evShutdown}, "term; force-in 2s"},
			step{event{kind: evShutdown}, "-"},
			step{evSigTerm, "stop-timers; cleanup; done"})},
		{name: "exit seen as the agent stops", steps: append(launched,
			step{event{kind: evExit, stopping: true}, "stop-timers; cleanup; done"})},
		{name: "nothing after done", steps: append(launched,
			step{evExit0, `stop-timers; cleanup; TASK_FINISHED "Command exited with status 0"; count TASK_FINISHED; done`},
			step{event{kind: evKill}, "done"})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fw := mesos.FrameworkInfo{}
			if tt.killingState {
				fw.Capabilities = []mesos.FrameworkCapability{{Type: mesos.CapTaskKillingState}}
			}
			ti := mesos.TaskInfo{}
			if tt.health {
				ti.HealthCheck = &mesos.HealthCheck{Type: mesos.HealthTCP}
			}
			if tt.deadline {
				ti.MaxCompletionTime = mesos.NewDurationInfo(time.Minute)
			}
			l := newLifecycle("c1", fw, ti, 2*time.Second)
			for i, s := range tt.steps {
				if got := describe(l.step(s.ev)); got != s.want {
					t.Fatalf("step %d (event %d): got %s, want %s", i, s.ev.kind, got, s.want)
				}
			}
		})
	}
}

// TestLifecycleSources: what the agent reports itself (launch failures)
// has source SOURCE_AGENT; what the executor reports, SOURCE_EXECUTOR.
func TestLifecycleSources(t *testing.T) {
	l := newLifecycle("c1", mesos.FrameworkInfo{}, mesos.TaskInfo{}, time.Second)
	if a := l.step(event{kind: evFetched, err: errors.New("x")}); a.emit[0].Source != mesos.SourceAgent {
		t.Errorf("fetch failure: got source %s, want %s", a.emit[0].Source, mesos.SourceAgent)
	}
	l = newLifecycle("c1", mesos.FrameworkInfo{}, mesos.TaskInfo{}, time.Second)
	l.step(evOK)
	if a := l.step(evReady); a.emit[0].Source != mesos.SourceExecutor {
		t.Errorf("TASK_STARTING: got source %s, want %s", a.emit[0].Source, mesos.SourceExecutor)
	}
	cs := &mesos.ContainerStatus{ExecutorPID: 42}
	a := l.step(event{kind: evStarted, cs: cs})
	if a.emit[0].ContainerStatus != cs {
		t.Errorf("TASK_RUNNING: got container status %v, want the started one", a.emit[0].ContainerStatus)
	}
}
