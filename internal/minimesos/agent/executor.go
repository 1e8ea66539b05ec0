package agent

import (
	"context"
	"fmt"
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

// execute is a task's executor goroutine: fetch, launch, report, watch
// health, kill on request, report the terminal state. It owns the task's
// container and exits once the container is cleaned up.
func (a *Agent) execute(ctx context.Context, tr *taskRun, fw mesos.FrameworkInfo, ti mesos.TaskInfo, cid string) {
	defer close(tr.done)
	defer func() {
		select {
		case a.statusc <- execStatus{key: tr.key, done: true}:
		case <-ctx.Done():
		}
	}()
	emit := func(st mesos.TaskStatus) {
		select {
		case a.statusc <- execStatus{key: tr.key, status: st}:
		case <-ctx.Done():
		}
	}
	status := func(state mesos.TaskState, src mesos.TaskStatusSource, reason, msg string) mesos.TaskStatus {
		return mesos.TaskStatus{State: state, Source: src, Reason: reason, Message: msg}
	}
	log := a.log.With("framework", tr.key.fw, "task", tr.key.task, "container", cid)

	sandbox := filepath.Join(a.cfg.WorkDir, "slaves", a.id.Value, "frameworks", tr.key.fw, "executors", tr.key.task, "runs", cid)
	if err := os.MkdirAll(sandbox, 0o755); err != nil {
		emit(status(mesos.TaskFailed, mesos.SourceAgent, mesos.ReasonContainerLaunchFailed, "Failed to create sandbox: "+err.Error()))
		return
	}

	// Fetch URIs; a kill meanwhile ends the launch.
	launchCtx, cancelLaunch := context.WithCancel(ctx)
	defer cancelLaunch()
	fetched := make(chan error, 1)
	var uris []mesos.CommandURI
	if ti.Command != nil {
		uris = ti.Command.URIs
	}
	go func() { fetched <- a.fetchURIs(launchCtx, uris, sandbox) }()
	select {
	case err := <-fetched:
		if err != nil {
			log.Warn("fetch failed", "err", err)
			emit(status(mesos.TaskFailed, mesos.SourceAgent, mesos.ReasonContainerLaunchFailed,
				fmt.Sprintf("Failed to launch container: Failed to fetch all URIs for container '%s': %v", cid, err)))
			return
		}
	case <-tr.killc:
		cancelLaunch()
		<-fetched
		emit(status(mesos.TaskKilled, mesos.SourceAgent, mesos.ReasonTaskKilledDuringLaunch, "Task killed before it was launched"))
		return
	case <-ctx.Done():
		cancelLaunch()
		<-fetched
		return
	}

	var cred *syscall.Credential
	if a.cfg.SwitchUser && (ti.Container == nil || ti.Container.Type != mesos.ContainerDocker) {
		var err error
		if cred, err = switchUser(taskUser(fw, ti), sandbox); err != nil {
			log.Warn("task dropped", "err", err)
			emit(status(mesos.TaskDropped, mesos.SourceAgent, mesos.ReasonExecutorTerminated, err.Error()))
			return
		}
	}
	env := a.taskEnv(fw, ti, sandbox, cid)
	var c container
	defaultGrace := a.cfg.KillGrace
	if ti.Container != nil && ti.Container.Type == mesos.ContainerDocker {
		if a.docker == nil {
			emit(status(mesos.TaskFailed, mesos.SourceAgent, mesos.ReasonContainerLaunchFailed,
				"Failed to launch container: the docker containerizer is not enabled on this agent"))
			return
		}
		dc, err := a.newDockerContainer(ti, sandbox, cid, env)
		if err != nil {
			emit(status(mesos.TaskFailed, mesos.SourceAgent, mesos.ReasonContainerLaunchFailed, "Failed to launch container: "+err.Error()))
			return
		}
		c = dc
		defaultGrace = a.cfg.DockerStopGrace
	} else {
		c = newProcessContainer(ti, sandbox, env, cred)
	}

	emit(status(mesos.TaskStarting, mesos.SourceExecutor, "", ""))
	cs, err := c.start(ctx)
	if err != nil {
		c.cleanup()
		log.Warn("launch failed", "err", err)
		emit(status(mesos.TaskFailed, mesos.SourceExecutor, mesos.ReasonContainerLaunchFailed, "Failed to launch container: "+err.Error()))
		return
	}
	cs.ContainerID = &mesos.ContainerID{Value: cid}
	running := status(mesos.TaskRunning, mesos.SourceExecutor, "", "")
	running.ContainerStatus = cs
	emit(running)
	log.Info("task running")

	healthc := make(chan healthResult, 4)
	hctx, stopHealth := context.WithCancel(ctx)
	defer stopHealth()
	if ti.HealthCheck != nil {
		go runHealthCheck(hctx, ti.HealthCheck, c.checkHost(), sandbox, env, healthc, log)
	}
	var maxTimer <-chan time.Time
	if ti.MaxCompletionTime != nil {
		t := time.NewTimer(ti.MaxCompletionTime.Duration())
		defer t.Stop()
		maxTimer = t.C
	}

	var (
		killing    bool
		forceAt    *time.Timer
		forceC     <-chan time.Time
		healthy    *bool
		finalState mesos.TaskState
		reason     string
		ctxDone    = ctx.Done()
	)
	startKill := func(grace time.Duration, announce bool) {
		if !killing {
			killing = true
			if announce && fw.HasCapability(mesos.CapTaskKillingState) {
				emit(status(mesos.TaskKilling, mesos.SourceExecutor, "", ""))
			}
			c.signal(false)
		}
		if grace <= 0 {
			c.signal(true)
			return
		}
		if forceAt == nil {
			forceAt = time.NewTimer(grace)
			forceC = forceAt.C
		} else {
			forceAt.Reset(grace) // a KILL with a policy may shorten the grace
		}
	}
	taskGrace := func(override *mesos.KillPolicy) time.Duration {
		if override != nil && override.GracePeriod != nil {
			return override.GracePeriod.Duration()
		}
		if ti.KillPolicy != nil && ti.KillPolicy.GracePeriod != nil {
			return ti.KillPolicy.GracePeriod.Duration()
		}
		return defaultGrace
	}
	var ex exitInfo
wait:
	for {
		select {
		case ex = <-c.wait():
			break wait
		case p := <-tr.killc:
			if finalState == "" {
				finalState = mesos.TaskKilled
			}
			startKill(taskGrace(p), true)
		case <-forceC:
			c.signal(true)
		case h := <-healthc:
			if killing {
				continue // Mesos's executor ignores health once killing
			}
			hv := h.healthy
			healthy = &hv
			// Every result is a TASK_RUNNING update, the last failure too;
			// then the kill (TASK_KILLING, TASK_KILLED healthy=false with
			// no reason), as Mesos's command executor does.
			up := status(mesos.TaskRunning, mesos.SourceExecutor, mesos.ReasonTaskHealthCheckUpdated, "")
			up.Healthy = &hv
			up.ContainerStatus = cs
			emit(up)
			if h.kill {
				if finalState == "" {
					finalState = mesos.TaskKilled
				}
				startKill(taskGrace(nil), true)
			}
		case <-maxTimer:
			if finalState == "" {
				finalState, reason = mesos.TaskFailed, mesos.ReasonMaxCompletionTimeReached
			}
			startKill(0, false)
		case <-ctxDone:
			ctxDone = nil
			startKill(min(taskGrace(nil), a.cfg.ShutdownGrace), false)
		}
	}
	stopHealth()
	if forceAt != nil {
		forceAt.Stop()
	}
	c.cleanup()
	if ctx.Err() != nil {
		log.Info("task stopped with the agent")
		return
	}
	switch {
	case finalState != "":
	case ex.err == nil && ex.signal == "" && ex.code == 0:
		finalState = mesos.TaskFinished
	default:
		finalState = mesos.TaskFailed
	}
	msg := ex.message()
	if finalState == mesos.TaskFailed {
		// The cause is usually on the task's stderr: carry its last lines.
		if tail := stderrTail(sandbox, ti); tail != "" {
			msg += "; stderr: " + tail
		}
	}
	final := status(finalState, mesos.SourceExecutor, reason, msg)
	if ti.HealthCheck != nil && healthy != nil {
		final.Healthy = healthy
	}
	final.ContainerStatus = cs
	emit(final)
	a.metrics.finished.WithLabelValues(string(finalState)).Inc()
	log.Info("task ended", "state", finalState, "detail", msg)
}
