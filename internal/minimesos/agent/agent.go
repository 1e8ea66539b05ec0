package agent

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hashfleet/hashfleet/internal/dockerapi"
	"github.com/hashfleet/hashfleet/internal/mesos"
)

// Containerizer names.
const (
	ContainerizerProcess = "process"
	ContainerizerDocker  = "docker"
)

// Master is the agent's link to its master; *master.Master satisfies it.
type Master interface {
	// StatusUpdate delivers one reliable status update; latest is the
	// state of the newest update the agent holds for the task.
	StatusUpdate(ctx context.Context, fw mesos.FrameworkID, st mesos.TaskStatus, latest mesos.TaskState) error
}

// Config configures an Agent.
type Config struct {
	// Hostname reported in offers; default "localhost".
	Hostname string
	// Resources the agent offers (see ParseResources); required.
	Resources []mesos.Resource
	// WorkDir holds the task sandboxes; required.
	WorkDir string
	// Containerizers enabled: "process" always; "docker" additionally
	// runs ContainerInfo.DOCKER tasks through the Docker Engine API. A
	// DOCKER task on an agent without "docker" fails to launch.
	Containerizers []string
	// DockerSocket is the Docker Engine's unix socket; default
	// /var/run/docker.sock.
	DockerSocket string
	// StatusRetry is the first retry interval of an unacknowledged status
	// update; it doubles up to StatusRetryMax. Defaults 10 s and 10 min.
	StatusRetry, StatusRetryMax time.Duration
	// KillGrace is the command executor's default SIGTERM→SIGKILL grace
	// (3 s); DockerStopGrace the Docker executor's (5 s).
	KillGrace, DockerStopGrace time.Duration
	// ShutdownGrace bounds the grace given to tasks when the agent's
	// context ends; default 2 s.
	ShutdownGrace time.Duration
	// SwitchUser runs each command task as CommandInfo.user, else
	// FrameworkInfo.user, like a Mesos agent with --switch_user (its
	// default): the sandbox is chowned to that user and a user the machine
	// lacks drops the task (TASK_DROPPED, REASON_EXECUTOR_TERMINATED).
	// Running as another user needs the agent to run as root. Off: tasks
	// run as the agent's user.
	SwitchUser bool
	// ExecutorEnv is added to every task's environment, like a Mesos
	// agent's --executor_environment_variables (tasks never inherit the
	// agent's own environment).
	ExecutorEnv map[string]string
	// HTTPClient fetches CommandInfo.URIs; default a client with a 10 min timeout.
	HTTPClient *http.Client
	// Logger; default slog.Default().
	Logger *slog.Logger
	// Registerer receives the agent's metrics; nil means none.
	Registerer prometheus.Registerer
}

// Validate reports configuration errors; it does not apply defaults.
func (c *Config) Validate() error {
	if len(c.Resources) == 0 {
		return errors.New("agent: config: no resources")
	}
	if c.WorkDir == "" {
		return errors.New("agent: config: no work dir")
	}
	for _, z := range c.Containerizers {
		if z != ContainerizerProcess && z != ContainerizerDocker {
			return fmt.Errorf("agent: config: unknown containerizer %q (want process or docker)", z)
		}
	}
	return nil
}

// Agent runs tasks for an in-process master as local processes or Docker
// containers and reports their states reliably. The master.Agent methods
// (LaunchTask, KillTask, Acknowledge, ShutdownFramework, UpdateFramework)
// may be called from any goroutine at any time, even before Run; they
// queue the command and return at once. Run owns all other state.
type Agent struct {
	cfg     Config
	log     *slog.Logger
	metrics *metrics
	docker  *dockerapi.Client // nil unless the docker containerizer is enabled

	mu    sync.Mutex
	queue []command // guarded by mu
	wake  chan struct{}

	running atomic.Bool
	nextRun atomic.Uint64

	// Owned by Run.
	id      mesos.AgentID
	master  Master
	tasks   map[taskKey]*taskRun
	streams map[taskKey]*updateStream
	fws     map[string]mesos.FrameworkInfo
	gone    map[string]bool // frameworks shut down
	statusc chan execStatus
}

type commandKind int

const (
	cmdLaunch commandKind = iota + 1
	cmdKill
	cmdAck
	cmdShutdown
	cmdUpdate
)

type command struct {
	kind   commandKind
	fw     mesos.FrameworkInfo
	fwID   string
	task   mesos.TaskInfo
	taskID string
	policy *mesos.KillPolicy
	uuid   []byte
}

type taskKey struct{ fw, task string }

// execStatus is a status produced by a task's executor goroutine; done
// marks the executor's exit (no status then).
type execStatus struct {
	key    taskKey
	status mesos.TaskStatus
	done   bool
}

// updateStream is the per-task FIFO of reliable status updates: only the
// head is in flight; the next one is sent when the head is acknowledged.
type updateStream struct {
	pending []mesos.TaskStatus
	sent    bool
	retryAt time.Time
	backoff time.Duration
}

// New returns an Agent; call Run to start it.
func New(cfg Config) (*Agent, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Hostname == "" {
		cfg.Hostname = "localhost"
	}
	if len(cfg.Containerizers) == 0 {
		cfg.Containerizers = []string{ContainerizerProcess}
	}
	if cfg.DockerSocket == "" {
		cfg.DockerSocket = "/var/run/docker.sock"
	}
	if cfg.StatusRetry == 0 {
		cfg.StatusRetry = 10 * time.Second
	}
	if cfg.StatusRetryMax == 0 {
		cfg.StatusRetryMax = 10 * time.Minute
	}
	if cfg.KillGrace == 0 {
		cfg.KillGrace = 3 * time.Second
	}
	if cfg.DockerStopGrace == 0 {
		cfg.DockerStopGrace = 5 * time.Second
	}
	if cfg.ShutdownGrace == 0 {
		cfg.ShutdownGrace = 2 * time.Second
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Minute}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	wd, err := filepath.Abs(cfg.WorkDir)
	if err != nil {
		return nil, fmt.Errorf("agent: work dir: %w", err)
	}
	cfg.WorkDir = wd
	a := &Agent{
		cfg:     cfg,
		log:     cfg.Logger.With("component", "minimesos-agent"),
		metrics: newMetrics(cfg.Registerer),
		wake:    make(chan struct{}, 1),
	}
	if slices.Contains(cfg.Containerizers, ContainerizerDocker) {
		a.docker = dockerapi.New(cfg.DockerSocket)
	}
	return a, nil
}

// Hostname returns the hostname the agent reports.
func (a *Agent) Hostname() string { return a.cfg.Hostname }

// Resources returns the agent's total resources.
func (a *Agent) Resources() []mesos.Resource { return slices.Clone(a.cfg.Resources) }

func (a *Agent) enqueue(c command) {
	a.mu.Lock()
	a.queue = append(a.queue, c)
	a.mu.Unlock()
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// LaunchTask queues a task launch. It does not block.
func (a *Agent) LaunchTask(fw mesos.FrameworkInfo, task mesos.TaskInfo) {
	a.enqueue(command{kind: cmdLaunch, fw: fw, fwID: fw.ID.Value, task: task, taskID: task.TaskID.Value})
}

// KillTask queues a kill; policy, when set, overrides the task's. It does not block.
func (a *Agent) KillTask(fw mesos.FrameworkID, task mesos.TaskID, policy *mesos.KillPolicy) {
	a.enqueue(command{kind: cmdKill, fwID: fw.Value, taskID: task.Value, policy: policy})
}

// Acknowledge queues an acknowledgement of a status update. It does not block.
func (a *Agent) Acknowledge(fw mesos.FrameworkID, task mesos.TaskID, uuid []byte) {
	a.enqueue(command{kind: cmdAck, fwID: fw.Value, taskID: task.Value, uuid: slices.Clone(uuid)})
}

// ShutdownFramework queues the shutdown of all tasks of a removed framework. It does not block.
func (a *Agent) ShutdownFramework(fw mesos.FrameworkID) {
	a.enqueue(command{kind: cmdShutdown, fwID: fw.Value})
}

// UpdateFramework queues a framework (re-)subscription notice; pending
// updates of the framework are resent at once. It does not block.
func (a *Agent) UpdateFramework(fw mesos.FrameworkInfo) {
	a.enqueue(command{kind: cmdUpdate, fw: fw, fwID: fw.ID.Value})
}

// Run executes tasks for master under the agent id the master assigned,
// until ctx is cancelled. Then it kills every task (SIGTERM, SIGKILL after
// ShutdownGrace, whole process groups; Docker containers stopped and
// removed) and returns once they are gone. Run must be called once.
func (a *Agent) Run(ctx context.Context, id mesos.AgentID, master Master) error {
	if !a.running.CompareAndSwap(false, true) {
		return errors.New("agent: Run called twice")
	}
	a.id, a.master = id, master
	a.log = a.log.With("agent_id", id.Value)
	a.tasks = map[taskKey]*taskRun{}
	a.streams = map[taskKey]*updateStream{}
	a.fws = map[string]mesos.FrameworkInfo{}
	a.gone = map[string]bool{}
	a.statusc = make(chan execStatus, 64)
	if err := os.MkdirAll(a.cfg.WorkDir, 0o755); err != nil {
		return fmt.Errorf("agent: work dir: %w", err)
	}
	if a.docker != nil {
		removeStale(ctx, a.docker, a.cfg.WorkDir, a.log)
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		timer.Reset(a.nextRetry())
		select {
		case <-ctx.Done():
			return a.shutdown()
		case <-a.wake:
			a.mu.Lock()
			q := a.queue
			a.queue = nil
			a.mu.Unlock()
			for _, c := range q {
				a.handle(ctx, c)
			}
		case s := <-a.statusc:
			a.handleStatus(ctx, s)
		case <-timer.C:
			a.retry(ctx)
		}
	}
}

func (a *Agent) handle(ctx context.Context, c command) {
	key := taskKey{fw: c.fwID, task: c.taskID}
	switch c.kind {
	case cmdLaunch:
		a.fws[c.fwID] = c.fw
		delete(a.gone, c.fwID)
		if a.tasks[key] != nil {
			a.log.Warn("ignoring launch of a task that is already running", "task", c.taskID)
			return
		}
		a.launch(ctx, key, c.fw, c.task)
	case cmdKill:
		if tr := a.tasks[key]; tr != nil {
			tr.kill(c.policy)
			return
		}
		// Unknown task on this agent: Mesos's agent answers TASK_LOST
		// (TASK_GONE for partition-aware frameworks) so the scheduler learns.
		if a.streams[key] == nil {
			state := mesos.TaskLost
			if fi, ok := a.fws[c.fwID]; ok && fi.HasCapability(mesos.CapPartitionAware) {
				state = mesos.TaskGone
			}
			a.queueStatus(ctx, key, mesos.TaskStatus{TaskID: mesos.TaskID{Value: c.taskID}, State: state,
				Source: mesos.SourceAgent, Message: "Cannot find task to kill"})
		}
	case cmdAck:
		a.acknowledge(ctx, key, c.uuid)
	case cmdShutdown:
		a.gone[c.fwID] = true
		for k, tr := range a.tasks {
			if k.fw == c.fwID {
				tr.kill(nil)
			}
		}
		for k := range a.streams {
			if k.fw == c.fwID {
				delete(a.streams, k)
			}
		}
	case cmdUpdate:
		a.fws[c.fwID] = c.fw
		now := time.Now()
		for k, s := range a.streams {
			if k.fw == c.fwID && len(s.pending) > 0 {
				s.backoff = a.cfg.StatusRetry
				s.retryAt = now
			}
		}
		a.retry(ctx)
	}
}

// handleStatus stamps an executor's status and queues it reliably.
func (a *Agent) handleStatus(ctx context.Context, s execStatus) {
	tr := a.tasks[s.key]
	if s.done {
		if tr != nil {
			delete(a.tasks, s.key)
		}
		return
	}
	if a.gone[s.key.fw] {
		return
	}
	a.queueStatus(ctx, s.key, s.status)
}

func (a *Agent) queueStatus(ctx context.Context, key taskKey, st mesos.TaskStatus) {
	st.AgentID = &mesos.AgentID{Value: a.id.Value}
	if st.ExecutorID == nil {
		st.ExecutorID = &mesos.ExecutorID{Value: key.task}
	}
	st.TaskID = mesos.TaskID{Value: key.task}
	if st.Timestamp == 0 {
		st.Timestamp = float64(time.Now().UnixNano()) / 1e9
	}
	st.UUID = newUUID()
	a.metrics.updates.WithLabelValues(string(st.State)).Inc()
	s := a.streams[key]
	if s == nil {
		s = &updateStream{}
		a.streams[key] = s
	}
	s.pending = append(s.pending, st)
	if len(s.pending) == 1 {
		s.backoff = a.cfg.StatusRetry
		a.forward(ctx, key, s)
	}
}

// forward sends the head of a stream to the master and schedules its retry.
func (a *Agent) forward(ctx context.Context, key taskKey, s *updateStream) {
	head := s.pending[0]
	latest := s.pending[len(s.pending)-1].State
	if err := a.master.StatusUpdate(ctx, mesos.FrameworkID{Value: key.fw}, head, latest); err != nil && ctx.Err() == nil {
		a.log.Warn("status update not delivered; will retry", "task", key.task, "err", err)
	}
	s.sent = true
	s.retryAt = time.Now().Add(s.backoff)
}

// retry resends every stream head whose retry time has come, doubling its
// backoff up to StatusRetryMax.
func (a *Agent) retry(ctx context.Context) {
	now := time.Now()
	for k, s := range a.streams {
		if len(s.pending) == 0 || now.Before(s.retryAt) {
			continue
		}
		if s.sent {
			a.metrics.retries.Inc()
		}
		a.forward(ctx, k, s)
		s.backoff = min(2*s.backoff, a.cfg.StatusRetryMax)
		s.retryAt = now.Add(s.backoff)
	}
}

func (a *Agent) nextRetry() time.Duration {
	d := time.Hour
	now := time.Now()
	for _, s := range a.streams {
		if len(s.pending) > 0 {
			d = min(d, max(s.retryAt.Sub(now), 0))
		}
	}
	return d
}

func (a *Agent) acknowledge(ctx context.Context, key taskKey, uuid []byte) {
	s := a.streams[key]
	if s == nil || len(s.pending) == 0 || string(s.pending[0].UUID) != string(uuid) {
		return // duplicate or mismatched: ignored, as by Mesos's agent
	}
	s.pending = s.pending[1:]
	if len(s.pending) == 0 {
		delete(a.streams, key)
		return
	}
	s.backoff = a.cfg.StatusRetry
	a.forward(ctx, key, s)
}

// shutdown kills every task and waits for their executors to exit.
func (a *Agent) shutdown() error {
	grace := &mesos.KillPolicy{GracePeriod: mesos.NewDurationInfo(a.cfg.ShutdownGrace)}
	for _, tr := range a.tasks {
		tr.kill(grace)
	}
	for _, tr := range a.tasks {
		<-tr.done
	}
	a.log.Info("agent stopped")
	return nil
}

func newUUID() []byte {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return b
}

func uuidString(b []byte) string {
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
