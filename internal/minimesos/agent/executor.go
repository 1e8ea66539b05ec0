package agent

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/hashfleet/hashfleet/internal/mesos"
)

// container is one way to run a task: a process group or a Docker
// container. Methods are called from the task's executor goroutine only.
type container interface {
	// start launches the task; the status describes the container.
	start(ctx context.Context) (*mesos.ContainerStatus, error)
	// wait yields the exit once.
	wait() <-chan exitInfo
	// signal sends SIGTERM (force false) or SIGKILL (force true) to
	// everything the task runs.
	signal(force bool)
	// cleanup kills leftovers and releases the container after exit.
	cleanup()
	// checkHost is the host health checks connect to.
	checkHost() string
}

// exitInfo is how a task's main process ended.
type exitInfo struct {
	code   int    // exit status when signal is empty
	signal string // terminating signal name, if any
	err    error  // waiting failed
}

func (e exitInfo) message() string {
	switch {
	case e.err != nil:
		return "Failed to wait for the task: " + e.err.Error()
	case e.signal != "":
		return "Command terminated with signal " + e.signal
	default:
		return fmt.Sprintf("Command exited with status %d", e.code)
	}
}

// taskRun is the agent's handle on a running executor goroutine.
type taskRun struct {
	key   taskKey
	killc chan *mesos.KillPolicy
	done  chan struct{}
}

// kill asks the executor to kill its task; it never blocks.
func (tr *taskRun) kill(p *mesos.KillPolicy) {
	select {
	case tr.killc <- p:
	default:
	}
}

func (a *Agent) launch(ctx context.Context, key taskKey, fw mesos.FrameworkInfo, ti mesos.TaskInfo) {
	tr := &taskRun{key: key, killc: make(chan *mesos.KillPolicy, 8), done: make(chan struct{})}
	a.tasks[key] = tr
	a.metrics.launched.Inc()
	cid := uuidString(newUUID())
	go a.execute(ctx, tr, fw, ti, cid)
}

// execute is a task's executor goroutine: the shell of its lifecycle. It
// does what the lifecycle decides (fetch, launch, report, watch health,
// kill on request, report the terminal state), owns the task's container
// and exits once the container is cleaned up.
func (a *Agent) execute(ctx context.Context, tr *taskRun, fw mesos.FrameworkInfo, ti mesos.TaskInfo, cid string) {
	defer close(tr.done)
	defer func() {
		select {
		case a.statusc <- execStatus{key: tr.key, done: true}:
		case <-ctx.Done():
		}
	}()
	x := &executorShell{a: a, ctx: ctx, tr: tr, lc: newLifecycle(cid, fw, ti, a.cfg.ShutdownGrace),
		log: a.log.With("framework", tr.key.fw, "task", tr.key.task, "container", cid)}
	defer x.stopTimers()
	sandbox := filepath.Join(a.cfg.WorkDir, "slaves", a.id.Value, "frameworks", tr.key.fw, "executors", tr.key.task, "runs", cid)
	if err := os.MkdirAll(sandbox, 0o755); err != nil {
		x.step(event{kind: evSandboxFailed, err: err})
		return
	}
	if x.fetch(ti, sandbox) {
		return
	}
	env := a.taskEnv(fw, ti, sandbox, cid)
	ev := a.prepare(fw, ti, sandbox, cid, env)
	if ev.kind != evPrepared {
		x.log.Warn("task not launched", "detail", ev.msg)
		x.step(ev.event)
		return
	}
	x.c = ev.c
	x.step(ev.event)
	cs, err := x.c.start(ctx)
	if err != nil {
		x.log.Warn("launch failed", "err", err)
		x.step(event{kind: evStartFailed, err: err})
		return
	}
	cs.ContainerID = &mesos.ContainerID{Value: cid}
	x.log.Info("task running")
	if x.step(event{kind: evStarted, cs: cs}) {
		return
	}
	x.watch(ti, sandbox, env)
}

// executorShell carries out a task's lifecycle actions.
type executorShell struct {
	a   *Agent
	ctx context.Context
	tr  *taskRun
	lc  *lifecycle
	log *slog.Logger
	c   container // set once prepared

	cancelFetch context.CancelFunc
	stopHealth  context.CancelFunc
	healthc     chan healthResult
	force       *time.Timer
	forceC      <-chan time.Time
	deadline    *time.Timer
	deadlineC   <-chan time.Time
}

// step feeds ev to the lifecycle, does what it returns, and reports
// whether the executor is done.
func (x *executorShell) step(ev event) bool {
	act := x.lc.step(ev)
	if act.stopTimers {
		x.stopTimers()
	}
	if act.cleanup && x.c != nil {
		x.c.cleanup()
	}
	if act.cancelFetch && x.cancelFetch != nil {
		x.cancelFetch()
	}
	for _, st := range act.emit {
		select {
		case x.a.statusc <- execStatus{key: x.tr.key, status: st}:
		case <-x.ctx.Done():
		}
	}
	if act.term {
		x.c.signal(false)
	}
	if act.kill {
		x.c.signal(true)
	}
	if act.armForce > 0 {
		x.armForce(act.armForce)
	}
	if act.finished != "" {
		x.a.metrics.finished.WithLabelValues(string(act.finished)).Inc()
	}
	return act.done
}

// fetch fetches the task's URIs into the sandbox; a kill or the agent
// stopping meanwhile cancels it. It reports whether the executor is done.
func (x *executorShell) fetch(ti mesos.TaskInfo, sandbox string) bool {
	fctx, cancel := context.WithCancel(x.ctx)
	defer cancel()
	x.cancelFetch = cancel
	var uris []mesos.CommandURI
	if ti.Command != nil {
		uris = ti.Command.URIs
	}
	fetched := make(chan error, 1)
	go func() { fetched <- x.a.fetchURIs(fctx, uris, sandbox) }()
	ctxDone := x.ctx.Done()
	for {
		select {
		case err := <-fetched:
			if err != nil && fctx.Err() == nil {
				x.log.Warn("fetch failed", "err", err)
			}
			return x.step(event{kind: evFetched, err: err})
		case p := <-x.tr.killc:
			x.step(event{kind: evKill, policy: p})
		case <-ctxDone:
			ctxDone = nil
			x.step(event{kind: evShutdown})
		}
	}
}

// preparedEvent is prepare's answer: evPrepared with the container, or
// evRefused with why.
type preparedEvent struct {
	event
	c container
}

// prepare sets up the task's container (switching user for command tasks
// when configured).
func (a *Agent) prepare(fw mesos.FrameworkInfo, ti mesos.TaskInfo, sandbox, cid string, env []string) preparedEvent {
	refuse := func(state mesos.TaskState, reason, msg string) preparedEvent {
		return preparedEvent{event: event{kind: evRefused, state: state, reason: reason, msg: msg}}
	}
	grace := a.cfg.KillGrace
	if ti.Container != nil && ti.Container.Type == mesos.ContainerDocker {
		if a.docker == nil {
			return refuse(mesos.TaskFailed, mesos.ReasonContainerLaunchFailed,
				"Failed to launch container: the docker containerizer is not enabled on this agent")
		}
		dc, err := a.newDockerContainer(ti, sandbox, cid, env)
		if err != nil {
			return refuse(mesos.TaskFailed, mesos.ReasonContainerLaunchFailed, "Failed to launch container: "+err.Error())
		}
		return preparedEvent{event: event{kind: evPrepared, grace: taskGrace(ti, a.cfg.DockerStopGrace)}, c: dc}
	}
	var cred *syscall.Credential
	if a.cfg.SwitchUser {
		var err error
		if cred, err = switchUser(taskUser(fw, ti), sandbox); err != nil {
			return refuse(mesos.TaskDropped, mesos.ReasonExecutorTerminated, err.Error())
		}
	}
	return preparedEvent{event: event{kind: evPrepared, grace: taskGrace(ti, grace)}, c: newProcessContainer(ti, sandbox, env, cred)}
}

// taskGrace is the task's kill policy's grace, else the containerizer's.
func taskGrace(ti mesos.TaskInfo, def time.Duration) time.Duration {
	if ti.KillPolicy != nil && ti.KillPolicy.GracePeriod != nil {
		return ti.KillPolicy.GracePeriod.Duration()
	}
	return def
}

// watch runs the started task until it exits: health results, kills, the
// completion deadline and the agent stopping go to the lifecycle.
func (x *executorShell) watch(ti mesos.TaskInfo, sandbox string, env []string) {
	x.healthc = make(chan healthResult, 4)
	hctx, stop := context.WithCancel(x.ctx)
	x.stopHealth = stop
	if ti.HealthCheck != nil {
		go runHealthCheck(hctx, ti.HealthCheck, x.c.checkHost(), sandbox, env, x.healthc, x.log)
	}
	if ti.MaxCompletionTime != nil {
		x.deadline = time.NewTimer(ti.MaxCompletionTime.Duration())
		x.deadlineC = x.deadline.C
	}
	ctxDone := x.ctx.Done()
	for {
		var ev event
		select {
		case ex := <-x.c.wait():
			ev = event{kind: evExit, exit: ex, stopping: x.ctx.Err() != nil}
			if !ev.stopping {
				ev.stderrTail = stderrTail(sandbox, ti) // used when the task failed
			}
		case p := <-x.tr.killc:
			ev = event{kind: evKill, policy: p}
		case <-x.forceC:
			ev = event{kind: evForce}
		case h := <-x.healthc:
			ev = event{kind: evHealth, health: h}
		case <-x.deadlineC:
			ev = event{kind: evDeadline}
		case <-ctxDone:
			ctxDone = nil
			ev = event{kind: evShutdown}
		}
		if x.step(ev) {
			if ev.stopping {
				x.log.Info("task stopped with the agent")
			} else {
				x.log.Info("task ended", "state", x.lc.final, "detail", ev.exit.message())
			}
			return
		}
	}
}

func (x *executorShell) armForce(d time.Duration) {
	if x.force == nil {
		x.force = time.NewTimer(d)
		x.forceC = x.force.C
		return
	}
	x.force.Reset(d) // a KILL with a policy may shorten the grace
}

func (x *executorShell) stopTimers() {
	if x.stopHealth != nil {
		x.stopHealth()
	}
	if x.force != nil {
		x.force.Stop()
	}
	if x.deadline != nil {
		x.deadline.Stop()
	}
}
