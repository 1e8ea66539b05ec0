package scheduler

import (
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/hashfleet/hashfleet/internal/fleet"
	"github.com/hashfleet/hashfleet/internal/mesos"
)

// Role says what a task is.
type Role string

// Task roles.
const (
	RoleServer Role = "server"
	RoleWorker Role = "worker"
)

// Task is what the scheduler knows about one of its tasks. It is also the
// durable record (JSON) written before a launch and after every update.
type Task struct {
	ID         string          `json:"id"`
	Role       Role            `json:"role"`
	AgentID    string          `json:"agent_id"`
	Hostname   string          `json:"hostname"`
	Ports      []uint64        `json:"ports,omitempty"` // server: [stratum, http] host ports
	CPUs       float64         `json:"cpus"`
	Mem        float64         `json:"mem"`
	Server     string          `json:"server,omitempty"`      // worker: the server task id it mines for
	ServerAddr string          `json:"server_addr,omitempty"` // worker: host:port it was told
	State      mesos.TaskState `json:"state"`                 // last known; TASK_STAGING right after launch
	Healthy    *bool           `json:"healthy,omitempty"`
	Message    string          `json:"message,omitempty"`
	Reason     string          `json:"reason,omitempty"`

	LaunchedAt time.Time `json:"launched_at"`
	// StatusTime is the timestamp (seconds) of the newest applied update
	// from the agent or executor (reconciliation replies, stamped by the
	// master's clock, do not count); older non-terminal ones are stale.
	StatusTime float64   `json:"status_time,omitempty"`
	UpdatedAt  time.Time `json:"updated_at"`           // last status update
	ReadySince time.Time `json:"ready_since,omitzero"` // when it became RUNNING (and healthy)
	// KillWanted is set once the scheduler decided to kill the task; the
	// kill is re-sent every KillRetry until a terminal update arrives.
	KillWanted   bool      `json:"kill_wanted,omitempty"`
	KillReason   string    `json:"kill_reason,omitempty"`
	LastKillSent time.Time `json:"last_kill_sent,omitzero"`
}

// Active reports whether the task may still be running.
func (t *Task) Active() bool { return !terminal(t.State) }

// terminal is Mesos's terminal states plus TASK_UNKNOWN: a task the master
// does not know (reconciliation answer, or a launch that never arrived)
// is treated as gone.
func terminal(s mesos.TaskState) bool { return s.IsTerminal() || s == mesos.TaskUnknown }

// mayReappear: states after which a partitioned task can come back.
func mayReappear(s mesos.TaskState) bool {
	return s == mesos.TaskLost || s == mesos.TaskUnknown || s == mesos.TaskGoneByOperator
}

// StratumAddr returns host:port of a server task's Stratum listener as
// workers reach it (agent hostname and host port).
func (t *Task) StratumAddr() string {
	if len(t.Ports) == 0 {
		return ""
	}
	return joinHostPort(t.Hostname, t.Ports[0])
}

// PolicyConfig holds the sizing and pacing knobs of the policy.
type PolicyConfig struct {
	ServerCPUs float64 // default 1
	ServerMem  float64 // MB, default 256
	WorkerCPUs float64 // per worker; 0 = all whole cpus of the offer
	WorkerMem  float64 // MB per worker, default 128
	MaxWorkers int     // cap on running workers; 0 = no cap
	MaxCPUs    float64 // cap on the workers' total cpus; 0 = no cap
	// RequireHealthy: workers start only after the server's health check
	// passed (healthy=true), not merely TASK_RUNNING.
	RequireHealthy bool
	RefuseLong     time.Duration // filter for declined offers; default 1 h
	KillRetry      time.Duration // re-send KILL until terminal; default 10 s
	BackoffMin     time.Duration // relaunch backoff after a failure; default 2 s
	BackoffMax     time.Duration // default 2 min
	StableAfter    time.Duration // a task ready this long resets its backoff; default 30 s
	// UnreachableGrace: a server UNREACHABLE this long is replaced; default 0 (at once).
	UnreachableGrace time.Duration
}

// fleet returns the engine-neutral part of the policy, shared with the
// Kubernetes backend.
func (c *PolicyConfig) fleet() fleet.Policy {
	return fleet.Policy{WorkerCPUs: c.WorkerCPUs, MaxWorkers: c.MaxWorkers, MaxCPUs: c.MaxCPUs,
		BackoffMin: c.BackoffMin, BackoffMax: c.BackoffMax, StableAfter: c.StableAfter}
}

func (c *PolicyConfig) withDefaults() PolicyConfig {
	d := *c
	if d.ServerCPUs <= 0 {
		d.ServerCPUs = 1
	}
	if d.ServerMem <= 0 {
		d.ServerMem = 256
	}
	if d.WorkerMem <= 0 {
		d.WorkerMem = 128
	}
	if d.RefuseLong <= 0 {
		d.RefuseLong = time.Hour
	}
	if d.KillRetry <= 0 {
		d.KillRetry = 10 * time.Second
	}
	if d.BackoffMin <= 0 {
		d.BackoffMin = 2 * time.Second
	}
	if d.BackoffMax <= 0 {
		d.BackoffMax = 2 * time.Minute
	}
	if d.BackoffMax < d.BackoffMin {
		d.BackoffMax = d.BackoffMin
	}
	if d.StableAfter <= 0 {
		d.StableAfter = 30 * time.Second
	}
	return d
}

// State is the policy's whole view: tasks and relaunch backoff. It is
// owned by one goroutine (the controller's) and has no I/O; the controller
// persists it. The zero value is not usable: use NewState.
type State struct {
	Config PolicyConfig `json:"-"`

	Tasks map[string]*Task `json:"tasks"`
	// CurrentServer is the id of the server task workers should use ("" if none).
	CurrentServer string `json:"current_server,omitempty"`

	ServerFailures     int       `json:"server_failures"`
	ServerBackoffUntil time.Time `json:"server_backoff_until,omitzero"`
	WorkerFailures     int       `json:"worker_failures"`
	WorkerBackoffUntil time.Time `json:"worker_backoff_until,omitzero"`
}

// NewState returns an empty state with cfg's defaults applied.
func NewState(cfg PolicyConfig) *State {
	return &State{Config: cfg.withDefaults(), Tasks: map[string]*Task{}}
}

// Clone returns a deep copy (for snapshots and persistence).
func (s *State) Clone() *State {
	c := *s
	c.Tasks = make(map[string]*Task, len(s.Tasks))
	for id, t := range s.Tasks {
		tc := *t
		tc.Ports = slices.Clone(t.Ports)
		if t.Healthy != nil {
			h := *t.Healthy
			tc.Healthy = &h
		}
		c.Tasks[id] = &tc
	}
	return &c
}

// SortedTasks returns the tasks ordered by launch time, then id.
func (s *State) SortedTasks() []*Task {
	ts := slices.Collect(maps.Values(s.Tasks))
	sortTasks(ts)
	return ts
}

// sortTasks orders ts by launch time, then id.
func sortTasks(ts []*Task) {
	sort.Slice(ts, func(i, j int) bool {
		if !ts[i].LaunchedAt.Equal(ts[j].LaunchedAt) {
			return ts[i].LaunchedAt.Before(ts[j].LaunchedAt)
		}
		return ts[i].ID < ts[j].ID
	})
}

// Server returns the current server task, or nil.
func (s *State) Server() *Task {
	if s.CurrentServer == "" {
		return nil
	}
	return s.Tasks[s.CurrentServer]
}

// serverReady reports whether workers may be launched against t.
func (s *State) serverReady(t *Task) bool {
	if t == nil || t.State != mesos.TaskRunning || t.KillWanted {
		return false
	}
	if s.Config.RequireHealthy {
		return t.Healthy != nil && *t.Healthy
	}
	return true
}

// ServerReady reports whether the current server is up for workers.
func (s *State) ServerReady() bool { return s.serverReady(s.Server()) }

// activeWorkers returns the non-terminal workers of the current server
// that are not being killed, and their total cpus.
func (s *State) activeWorkers() (n int, cpus float64) {
	for _, t := range s.Tasks {
		if t.Role == RoleWorker && t.Active() && !t.KillWanted && t.Server == s.CurrentServer && s.CurrentServer != "" {
			n++
			cpus += t.CPUs
		}
	}
	return n, mesos.RoundScalar(cpus)
}

// backoff is the relaunch delay after failures consecutive failures
// (BackoffMin after the first).
func (s *State) backoff(failures int) time.Duration {
	return s.Config.fleet().Backoff(failures)
}

// markKill records the decision to kill t (idempotent).
func markKill(t *Task, reason string) {
	if !t.Active() || t.KillWanted {
		return
	}
	t.KillWanted = true
	t.KillReason = reason
}

// Update is the result of applying one status update.
type Update struct {
	Known    bool // the task is ours (in State)
	Changed  bool // state changed (else a duplicate / stale update)
	Terminal bool // the task is now terminal
}

// Apply folds one status update into the state at time now and returns
// what happened. Updates for unknown tasks change nothing (the controller
// kills those tasks). Duplicate updates are idempotent; an update never
// moves a task out of a terminal state, except that a TASK_LOST/UNREACHABLE
// task that reports RUNNING again (partition healed) is recorded as running
// and, since it was replaced, killed.
func (s *State) Apply(st mesos.TaskStatus, now time.Time) Update {
	t, ok := s.Tasks[st.TaskID.Value]
	if !ok {
		return Update{}
	}
	u := Update{Known: true}
	wasTerminal := terminal(t.State)
	if wasTerminal && !(mayReappear(t.State) && !terminal(st.State)) {
		// Terminal stays terminal; a late duplicate changes nothing.
		return u
	}
	// Timestamps order real updates (agent and executor clocks). A
	// reconciliation reply is stamped by the master's clock when it
	// answers, which may run ahead of the agent's: it neither counts as
	// newer nor is held against the real updates that follow it.
	reconciled := st.Reason == mesos.ReasonReconciliation
	if !terminal(st.State) && !reconciled && st.Timestamp > 0 && st.Timestamp < t.StatusTime {
		return u // out of order: an older non-terminal update
	}
	if !reconciled && st.Timestamp > t.StatusTime {
		t.StatusTime = st.Timestamp
	}
	prevState := t.State
	var prevHealthy *bool
	if t.Healthy != nil {
		h := *t.Healthy
		prevHealthy = &h
	}
	t.State = st.State
	if st.Healthy != nil {
		h := *st.Healthy
		t.Healthy = &h
	}
	if st.Message != "" || st.State != prevState {
		t.Message = st.Message
		t.Reason = st.Reason
	}
	if st.AgentID != nil && st.AgentID.Value != "" && t.AgentID == "" {
		t.AgentID = st.AgentID.Value
	}
	t.UpdatedAt = now
	u.Changed = prevState != t.State || !sameBool(prevHealthy, t.Healthy)
	u.Terminal = terminal(t.State)

	if wasTerminal {
		// Came back from TASK_LOST: it was replaced, so it must go.
		markKill(t, "reappeared after being lost")
		return u
	}

	if t.State == mesos.TaskRunning && t.ReadySince.IsZero() && (!s.Config.RequireHealthy || t.Role == RoleWorker || (t.Healthy != nil && *t.Healthy)) {
		t.ReadySince = now
	}

	switch t.Role {
	case RoleServer:
		s.applyServer(t, now)
	case RoleWorker:
		if u.Terminal && !t.KillWanted {
			s.WorkerFailures = s.failuresAfter(t, s.WorkerFailures, now)
			s.WorkerBackoffUntil = now.Add(s.backoff(s.WorkerFailures))
		}
	}
	return u
}

func sameBool(a, b *bool) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// failuresAfter returns the new consecutive-failure count after t ended:
// a task that had been ready for StableAfter resets the count to 1.
func (s *State) failuresAfter(t *Task, failures int, now time.Time) int {
	return s.Config.fleet().FailuresAfter(t.ReadySince, failures, now)
}

func (s *State) applyServer(t *Task, now time.Time) {
	if t.ID != s.CurrentServer {
		// An old or duplicate server: it must not run.
		if t.Active() {
			markKill(t, "not the current server")
		}
		return
	}
	lost := terminal(t.State) || (t.State == mesos.TaskUnreachable && s.Config.UnreachableGrace == 0)
	if t.Healthy != nil && !*t.Healthy && t.State == mesos.TaskRunning && !t.ReadySince.IsZero() {
		// Became unhealthy after being ready: the executor kills it after
		// consecutive failures; workers stay until then.
		lost = false
	}
	if !lost {
		return
	}
	if !t.KillWanted {
		s.ServerFailures = s.failuresAfter(t, s.ServerFailures, now)
	} else {
		s.ServerFailures = max(s.ServerFailures, 1)
	}
	s.ServerBackoffUntil = now.Add(s.backoff(s.ServerFailures))
	s.dropServer(t, "server "+string(t.State))
}

// dropServer forgets t as the current server and kills it (if it may
// still run) and every worker.
func (s *State) dropServer(t *Task, reason string) {
	s.CurrentServer = ""
	markKill(t, reason)
	for _, w := range s.Tasks {
		if w.Role == RoleWorker {
			markKill(w, reason)
		}
	}
}

// Tick applies time-based rules at now: servers unreachable for longer
// than UnreachableGrace are replaced. It returns whether anything changed.
func (s *State) Tick(now time.Time) bool {
	t := s.Server()
	if t == nil || t.State != mesos.TaskUnreachable || s.Config.UnreachableGrace == 0 {
		return false
	}
	if now.Sub(t.UpdatedAt) < s.Config.UnreachableGrace {
		return false
	}
	s.ServerFailures++
	s.ServerBackoffUntil = now.Add(s.backoff(s.ServerFailures))
	s.dropServer(t, "server unreachable for "+now.Sub(t.UpdatedAt).String())
	return true
}

// Kill is one KILL to send.
type Kill struct {
	TaskID  string
	AgentID string
	Reason  string
}

// DueKills returns the kills to (re-)send at now: tasks marked for killing
// that are not terminal and whose last KILL is older than KillRetry. The
// caller records the send with KillSent.
func (s *State) DueKills(now time.Time) []Kill {
	var due []*Task
	for _, t := range s.Tasks {
		if t.KillWanted && t.Active() && (t.LastKillSent.IsZero() || now.Sub(t.LastKillSent) >= s.Config.KillRetry) {
			due = append(due, t)
		}
	}
	// Only the due tasks are ordered: sorting every task per call (each
	// batch of updates) was n log n per batch however few kills were due.
	sortTasks(due)
	ks := make([]Kill, 0, len(due))
	for _, t := range due {
		ks = append(ks, Kill{TaskID: t.ID, AgentID: t.AgentID, Reason: t.KillReason})
	}
	return ks
}

// KillSent records that a KILL for id went out at now.
func (s *State) KillSent(id string, now time.Time) {
	if t, ok := s.Tasks[id]; ok {
		t.LastKillSent = now
	}
}

// Forget removes terminal tasks that finished before cutoff (bounded
// history), never the current server.
func (s *State) Forget(cutoff time.Time, keep int) {
	var done []*Task
	for _, t := range s.Tasks {
		if !t.Active() && t.ID != s.CurrentServer {
			done = append(done, t)
		}
	}
	sort.Slice(done, func(i, j int) bool { return done[i].UpdatedAt.After(done[j].UpdatedAt) })
	for i, t := range done {
		if i >= keep || t.UpdatedAt.Before(cutoff) {
			delete(s.Tasks, t.ID)
		}
	}
}
