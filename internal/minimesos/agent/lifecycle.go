package agent

import (
	"fmt"
	"time"

	"github.com/hashfleet/hashfleet/internal/mesos"
)

// lifecycle is a task's life on the agent as a pure state machine, like
// Mesos's command executor: launching (sandbox, fetch, container), running
// (health updates, kills, the completion deadline, the agent stopping),
// exited. The executor goroutine (Agent.execute) feeds it events and
// carries out the actions it returns; it does no I/O and reads no clock.
type lifecycle struct {
	containerID  string
	killingState bool // the framework takes TASK_KILLING
	healthCheck  bool
	deadline     bool          // MaxCompletionTime set
	shutdown     time.Duration // most grace when the agent stops

	phase       phase
	grace       time.Duration // the task's kill grace (its policy, else the containerizer's)
	killing     bool          // SIGTERM sent
	forceArmed  bool
	stopping    bool // the agent is stopping: no terminal status
	killedEarly bool // killed before launch: TASK_KILLED once the fetch returns
	final       mesos.TaskState
	reason      string
	healthy     *bool
	cs          *mesos.ContainerStatus
}

type phase int

const (
	phaseFetching  phase = iota // fetching URIs
	phasePreparing              // fetched; the container is being set up
	phaseStarting               // TASK_STARTING sent, container starting
	phaseRunning
	phaseDone
)

type eventKind int

const (
	evSandboxFailed eventKind = iota // err
	evFetched                        // err: nil when every URI was fetched
	evRefused                        // the task cannot run here: state, reason, msg
	evPrepared                       // container set up; grace
	evStartFailed                    // err
	evStarted                        // cs
	evKill                           // policy (may be nil)
	evForce                          // the grace after SIGTERM is over
	evHealth                         // health
	evDeadline                       // MaxCompletionTime passed
	evShutdown                       // the agent is stopping
	evExit                           // exit, stderrTail
)

// event is one input of the lifecycle; which fields count depends on kind.
type event struct {
	kind       eventKind
	err        error
	state      mesos.TaskState // evRefused
	reason     string          // evRefused
	msg        string          // evRefused
	grace      time.Duration   // evPrepared
	cs         *mesos.ContainerStatus
	policy     *mesos.KillPolicy
	health     healthResult
	exit       exitInfo
	stderrTail string // evExit: the last lines of the task's stderr
	stopping   bool   // evExit: the agent is stopping (whether or not evShutdown came first)
}

// actions is what the executor must do after an event, in this order:
// stop the timers and the health check, clean the container up, cancel the
// fetch, send the statuses, signal, arm timers, start things, and exit
// when done.
type actions struct {
	stopTimers  bool
	cleanup     bool
	cancelFetch bool
	emit        []mesos.TaskStatus
	term, kill  bool          // SIGTERM, then (kill) SIGKILL
	armForce    time.Duration // > 0: (re)arm the force timer
	start       bool          // start the container
	startHealth bool          // start the health check (and the deadline timer)
	finished    mesos.TaskState
	done        bool
}

func newLifecycle(containerID string, fw mesos.FrameworkInfo, ti mesos.TaskInfo, shutdownGrace time.Duration) *lifecycle {
	return &lifecycle{containerID: containerID, killingState: fw.HasCapability(mesos.CapTaskKillingState),
		healthCheck: ti.HealthCheck != nil, deadline: ti.MaxCompletionTime != nil, shutdown: shutdownGrace}
}

func status(state mesos.TaskState, src mesos.TaskStatusSource, reason, msg string) mesos.TaskStatus {
	return mesos.TaskStatus{State: state, Source: src, Reason: reason, Message: msg}
}

// step applies ev and returns what to do.
func (l *lifecycle) step(ev event) actions {
	switch l.phase {
	case phaseDone:
		return actions{done: true}
	case phaseFetching, phasePreparing, phaseStarting:
		return l.launching(ev)
	}
	return l.running(ev)
}

func (l *lifecycle) end(a actions, st mesos.TaskStatus) actions {
	l.phase = phaseDone
	a.emit = append(a.emit, st)
	a.done = true
	return a
}

func (l *lifecycle) launching(ev event) actions {
	switch ev.kind {
	case evSandboxFailed:
		return l.end(actions{}, status(mesos.TaskFailed, mesos.SourceAgent, mesos.ReasonContainerLaunchFailed, "Failed to create sandbox: "+ev.err.Error()))
	case evKill, evShutdown:
		if l.phase != phaseFetching {
			return actions{} // the executor checks for kills only while fetching
		}
		l.killedEarly = l.killedEarly || ev.kind == evKill
		l.stopping = l.stopping || ev.kind == evShutdown
		return actions{cancelFetch: true}
	case evFetched:
		switch {
		case l.stopping:
			l.phase = phaseDone
			return actions{done: true}
		case l.killedEarly:
			return l.end(actions{}, status(mesos.TaskKilled, mesos.SourceAgent, mesos.ReasonTaskKilledDuringLaunch, "Task killed before it was launched"))
		case ev.err != nil:
			return l.end(actions{}, status(mesos.TaskFailed, mesos.SourceAgent, mesos.ReasonContainerLaunchFailed,
				fmt.Sprintf("Failed to launch container: Failed to fetch all URIs for container '%s': %v", l.containerID, ev.err)))
		}
		l.phase = phasePreparing
		return actions{}
	case evRefused:
		return l.end(actions{}, status(ev.state, mesos.SourceAgent, ev.reason, ev.msg))
	case evPrepared:
		l.phase, l.grace = phaseStarting, ev.grace
		return actions{emit: []mesos.TaskStatus{status(mesos.TaskStarting, mesos.SourceExecutor, "", "")}, start: true}
	case evStartFailed:
		return l.end(actions{cleanup: true}, status(mesos.TaskFailed, mesos.SourceExecutor, mesos.ReasonContainerLaunchFailed, "Failed to launch container: "+ev.err.Error()))
	case evStarted:
		l.phase, l.cs = phaseRunning, ev.cs
		running := status(mesos.TaskRunning, mesos.SourceExecutor, "", "")
		running.ContainerStatus = l.cs
		return actions{emit: []mesos.TaskStatus{running}, startHealth: l.healthCheck || l.deadline}
	}
	return actions{}
}

func (l *lifecycle) running(ev event) actions {
	var a actions
	switch ev.kind {
	case evKill:
		l.finalIfUnset(mesos.TaskKilled, "")
		l.startKill(&a, l.taskGrace(ev.policy), true)
	case evForce:
		a.kill = true
	case evHealth:
		if l.killing {
			return a // Mesos's executor ignores health once killing
		}
		// Every result is a TASK_RUNNING update, the last failure too;
		// then the kill (TASK_KILLING, TASK_KILLED healthy=false with no
		// reason), as Mesos's command executor does.
		hv := ev.health.healthy
		l.healthy = &hv
		up := status(mesos.TaskRunning, mesos.SourceExecutor, mesos.ReasonTaskHealthCheckUpdated, "")
		up.Healthy, up.ContainerStatus = &hv, l.cs
		a.emit = append(a.emit, up)
		if ev.health.kill {
			l.finalIfUnset(mesos.TaskKilled, "")
			l.startKill(&a, l.taskGrace(nil), true)
		}
	case evDeadline:
		l.finalIfUnset(mesos.TaskFailed, mesos.ReasonMaxCompletionTimeReached)
		l.startKill(&a, 0, false)
	case evShutdown:
		if !l.stopping {
			l.stopping = true
			l.startKill(&a, min(l.taskGrace(nil), l.shutdown), false)
		}
	case evExit:
		return l.exited(ev)
	}
	return a
}

// exited ends the task: its terminal status (none when the agent stops).
func (l *lifecycle) exited(ev event) actions {
	a := actions{stopTimers: true, cleanup: true}
	if l.stopping || ev.stopping {
		l.phase = phaseDone
		a.done = true
		return a
	}
	ex := ev.exit
	switch {
	case l.final != "":
	case ex.err == nil && ex.signal == "" && ex.code == 0:
		l.final = mesos.TaskFinished
	default:
		l.final = mesos.TaskFailed
	}
	msg := ex.message()
	if l.final == mesos.TaskFailed && ev.stderrTail != "" {
		msg += "; stderr: " + ev.stderrTail // the cause is usually there
	}
	final := status(l.final, mesos.SourceExecutor, l.reason, msg)
	if l.healthCheck && l.healthy != nil {
		final.Healthy = l.healthy
	}
	final.ContainerStatus = l.cs
	a.finished = l.final
	return l.end(a, final)
}

func (l *lifecycle) finalIfUnset(state mesos.TaskState, reason string) {
	if l.final == "" {
		l.final, l.reason = state, reason
	}
}

// startKill sends SIGTERM once (announced with TASK_KILLING when asked
// and the framework takes it), then SIGKILL after grace; a later kill with
// a policy may shorten the grace.
func (l *lifecycle) startKill(a *actions, grace time.Duration, announce bool) {
	if !l.killing {
		l.killing = true
		if announce && l.killingState {
			a.emit = append(a.emit, status(mesos.TaskKilling, mesos.SourceExecutor, "", ""))
		}
		a.term = true
	}
	if grace <= 0 {
		a.kill = true
		return
	}
	a.armForce = grace
}

// taskGrace is the kill's grace: the KILL call's policy, else the task's.
func (l *lifecycle) taskGrace(override *mesos.KillPolicy) time.Duration {
	if override != nil && override.GracePeriod != nil {
		return override.GracePeriod.Duration()
	}
	return l.grace
}
