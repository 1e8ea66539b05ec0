package master

import (
	"crypto/rand"
	"fmt"
	"math"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hashfleet/hashfleet/internal/mesos"
)

// Protocol constants of Mesos 1.11 that this master reproduces.
const (
	heartbeatInterval      = 15 * time.Second
	defaultRefuse          = 5 * time.Second
	maxRefuse              = 365 * 24 * time.Hour
	maxCompletedFrameworks = 50
	maxCompletedTasks      = 1000
	// maxOffersPerEvent splits a round's offers to one framework into
	// OFFERS events of at most this many (Mesos sends one event per
	// round): 10,000 offers in one event were ~6 MB, over the 4 MiB
	// RecordIO frame limit of mesos-go and of hashfleet's client.
	maxOffersPerEvent = 1000
)

// connID identifies one SUBSCRIBE stream; 0 means none.
type connID uint64

// agentOpKind enumerates the commands the master sends to agents.
type agentOpKind int

const (
	opLaunch agentOpKind = iota + 1
	opKill
	opAck
	opShutdownFramework
	opUpdateFramework
)

// agentOp is one command for an agent, executed by the shell after the
// input that produced it.
type agentOp struct {
	kind   agentOpKind
	agent  string
	fw     mesos.FrameworkInfo // opLaunch, opUpdateFramework
	fwID   mesos.FrameworkID
	task   mesos.TaskInfo    // opLaunch
	taskID mesos.TaskID      // opKill, opAck
	policy *mesos.KillPolicy // opKill
	uuid   []byte            // opAck
}

// send is one event for one stream.
type send struct {
	conn connID
	ev   mesos.Event
}

// output is what one input made the core decide: events to send (in
// order), streams to close after their events, and agent commands.
type output struct {
	sends  []send
	closes []connID
	ops    []agentOp
}

type framework struct {
	id         string
	addr       string // the subscriber's IP address
	info       mesos.FrameworkInfo
	conn       connID // 0 when disconnected
	streamID   string
	suppressed map[string]bool
	nextBeat   time.Time
	failoverAt time.Time // zero unless disconnected
	registered time.Time
	tasks      map[string]*task // active, including terminal but unacknowledged
	completed  []*task          // bounded history for /state
	offers     map[string]*offer
}

func (f *framework) connected() bool { return f.conn != 0 }

func (f *framework) partitionAware() bool { return f.info.HasCapability(mesos.CapPartitionAware) }

// roles returns the roles the framework subscribes to.
func (f *framework) roles() []string {
	if f.info.HasCapability(mesos.CapMultiRole) {
		return f.info.Roles
	}
	if f.info.Role != "" {
		return []string{f.info.Role}
	}
	return []string{"*"}
}

type task struct {
	info         mesos.TaskInfo
	fw           string
	agent        string
	role         string
	res          resources
	state        mesos.TaskState // latest state known to the master
	updateState  mesos.TaskState // state of the update being delivered; "" if none
	updateUUID   []byte
	status       *mesos.TaskStatus // latest status
	recovered    bool              // resources given back
	killReceived bool
	// beforePartition is the state the task had when its agent became
	// unreachable ("" when it is reachable); it is restored on return.
	beforePartition mesos.TaskState
}

// currentState is the state reconciliation reports.
func (t *task) currentState() mesos.TaskState {
	if t.updateState != "" {
		return t.updateState
	}
	return t.state
}

type agentState struct {
	id          string
	hostname    string
	unreachable bool // partitioned: no offers, no updates, no commands
	total       resources
	tasks       map[string]*task // key fw + "/" + task id
	offers      map[string]*offer
	// avail caches available(a) while availOK: every batch allocation
	// asks for every agent's, and computing it anew (maps subtracted per
	// task and offer) was most of a round over 10,000 agents. Whatever
	// changes the agent's tasks, their recovery or its offers calls
	// changed.
	avail   resources
	availOK bool
}

// changed drops the agent's cached available resources.
func (a *agentState) changed() { a.availOK = false }

// agentChanged is changed for the agent with id, if it is registered.
func (c *core) agentChanged(id string) {
	if a := c.agents[id]; a != nil {
		a.changed()
	}
}

type offer struct {
	id    string
	fw    string
	agent string
	role  string
	res   resources
}

type filterKey struct{ fw, role, agent string }

type refusal struct {
	res   resources
	until time.Time
}

// core is the master's state machine. It is pure: every method takes the
// current time as input, does no I/O and records its decisions in out. It
// is owned by one goroutine (Master.Run) and not safe for concurrent use.
type core struct {
	masterID  string
	info      mesos.MasterInfo
	allocInt  time.Duration
	started   time.Time
	nextFwNum int
	nextOffer int
	nextAgent int
	nextAlloc time.Time

	frameworks map[string]*framework
	byConn     map[connID]*framework
	completedF []*framework
	agents     map[string]*agentState
	// agentOrder holds the agents in id order (S0, S1, … S10): ids are
	// issued in that order, so a new agent is appended. It spares a sort
	// of every agent per allocation round and per registration.
	agentOrder []*agentState
	offers     map[string]*offer
	filters    map[filterKey][]refusal
	// filtersUntil is when the earliest refusal in filters ends (or
	// earlier): expireFilters has nothing to do before.
	filtersUntil time.Time

	// Limits on registered frameworks (0: none): in all, and per
	// subscriber address.
	maxFrameworks int
	maxPerAddr    int

	newUUID func() string
	out     output
}

func newCore(info mesos.MasterInfo, allocInterval time.Duration, now time.Time) *core {
	return &core{
		masterID:   info.ID,
		info:       info,
		allocInt:   allocInterval,
		started:    now,
		nextAlloc:  now.Add(allocInterval),
		frameworks: map[string]*framework{},
		byConn:     map[connID]*framework{},
		agents:     map[string]*agentState{},
		offers:     map[string]*offer{},
		filters:    map[filterKey][]refusal{},
		newUUID:    randomUUID,
	}
}

// take returns and clears the pending output.
func (c *core) take() output {
	o := c.out
	c.out = output{}
	return o
}

func (c *core) emit(conn connID, ev mesos.Event) {
	c.out.sends = append(c.out.sends, send{conn: conn, ev: ev})
}

func (c *core) emitFw(f *framework, ev mesos.Event) {
	if f.connected() {
		c.emit(f.conn, ev)
	}
}

// op queues a command for an agent; an unreachable agent gets none.
func (c *core) op(o agentOp) {
	if a := c.agents[o.agent]; a != nil && a.unreachable {
		return
	}
	c.out.ops = append(c.out.ops, o)
}

// ---- subscription ----

// subscribe handles a SUBSCRIBE call that passed call validation, arriving
// on the new stream conn from the IP address addr. It returns the stream id
// for the response header.
func (c *core) subscribe(now time.Time, conn connID, addr string, call *mesos.Call) string {
	body := call.Subscribe
	fi := body.FrameworkInfo
	streamID := c.newUUID()
	refuse := func(msg string) string {
		c.emit(conn, mesos.Event{Type: mesos.EventError, Error: &mesos.EventErrorBody{Message: msg}})
		c.out.closes = append(c.out.closes, conn)
		return streamID
	}
	if err := validateFrameworkInfo(&fi); err != nil {
		return refuse(err.Error())
	}
	var f *framework
	if fi.ID != nil && fi.ID.Value != "" {
		id := fi.ID.Value
		if c.isCompleted(id) {
			return refuse("Framework has been removed")
		}
		f = c.frameworks[id]
		if f != nil {
			if f.info.Principal != fi.Principal {
				return refuse(fmt.Sprintf("Changing framework's principal is not allowed: old %q, new %q", f.info.Principal, fi.Principal))
			}
			// user and checkpoint cannot change on re-subscription; Mesos ignores the new values.
			fi.User, fi.Checkpoint = f.info.User, f.info.Checkpoint
			if f.connected() {
				c.emit(f.conn, mesos.Event{Type: mesos.EventError, Error: &mesos.EventErrorBody{Message: "Framework failed over"}})
				c.out.closes = append(c.out.closes, f.conn)
				delete(c.byConn, f.conn)
			}
			c.discardOffers(f, false)
			f.info = fi
		} else {
			// Unknown id: recreate the framework (a master cannot tell a
			// never-issued id from one issued before its own failover).
			if err := c.roomFor(addr); err != nil {
				return refuse(err.Error())
			}
			f = c.newFramework(id, fi, now)
		}
	} else {
		if err := c.roomFor(addr); err != nil {
			return refuse(err.Error())
		}
		c.nextFwNum++
		id := fmt.Sprintf("%s-%04d", c.masterID, c.nextFwNum-1)
		fi.ID = &mesos.FrameworkID{Value: id}
		f = c.newFramework(id, fi, now)
	}
	f.conn = conn
	f.addr = addr
	f.streamID = streamID
	f.failoverAt = time.Time{}
	f.suppressed = map[string]bool{}
	for _, r := range body.SuppressedRoles {
		f.suppressed[r] = true
	}
	c.byConn[conn] = f
	mi := c.info
	c.emit(conn, mesos.Event{Type: mesos.EventSubscribed, Subscribed: &mesos.EventSubscribedBody{
		FrameworkID:              mesos.FrameworkID{Value: f.id},
		HeartbeatIntervalSeconds: heartbeatInterval.Seconds(),
		MasterInfo:               &mi,
	}})
	c.emit(conn, mesos.Event{Type: mesos.EventHeartbeat})
	f.nextBeat = now.Add(heartbeatInterval)
	// Agents resume sending unacknowledged updates of this framework.
	for _, a := range c.sortedAgents() {
		if a.hasFramework(f.id) {
			c.op(agentOp{kind: opUpdateFramework, agent: a.id, fw: f.info, fwID: mesos.FrameworkID{Value: f.id}})
		}
	}
	c.allocate(now)
	return streamID
}

// roomFor reports an error when a new framework from addr would exceed the
// limits on registered frameworks.
func (c *core) roomFor(addr string) error {
	if c.maxFrameworks > 0 && len(c.frameworks) >= c.maxFrameworks {
		return fmt.Errorf("Too many frameworks: %d registered, at most %d", len(c.frameworks), c.maxFrameworks)
	}
	if c.maxPerAddr <= 0 {
		return nil
	}
	n := 0
	for _, f := range c.frameworks {
		if f.addr == addr {
			n++
		}
	}
	if n >= c.maxPerAddr {
		return fmt.Errorf("Too many frameworks from %s: %d registered, at most %d per address", addr, n, c.maxPerAddr)
	}
	return nil
}

func (a *agentState) hasFramework(fw string) bool {
	for _, t := range a.tasks {
		if t.fw == fw {
			return true
		}
	}
	return false
}

func (c *core) newFramework(id string, fi mesos.FrameworkInfo, now time.Time) *framework {
	f := &framework{id: id, info: fi, registered: now, tasks: map[string]*task{}, offers: map[string]*offer{}}
	c.frameworks[id] = f
	return f
}

func (c *core) isCompleted(id string) bool {
	for _, f := range c.completedF {
		if f.id == id {
			return true
		}
	}
	return false
}

// validateFrameworkInfo applies the FrameworkInfo checks whose failure
// Mesos reports as an ERROR event on a 200 stream.
func validateFrameworkInfo(fi *mesos.FrameworkInfo) error {
	multi := fi.HasCapability(mesos.CapMultiRole)
	if len(fi.Roles) > 0 && !multi {
		return fmt.Errorf("'FrameworkInfo.roles' is set but 'MULTI_ROLE' capability is not specified")
	}
	if multi && fi.Role != "" {
		return fmt.Errorf("'FrameworkInfo.role' must not be set when 'MULTI_ROLE' capability is specified")
	}
	roles := fi.Roles
	if !multi && fi.Role != "" {
		roles = []string{fi.Role}
	}
	seen := map[string]bool{}
	for _, r := range roles {
		if err := validateRole(r); err != nil {
			return err
		}
		if seen[r] {
			return fmt.Errorf("'FrameworkInfo.roles' contains duplicate items")
		}
		seen[r] = true
	}
	if math.IsNaN(fi.FailoverTimeout) || math.IsInf(fi.FailoverTimeout, 0) || fi.FailoverTimeout < 0 ||
		fi.FailoverTimeout > float64(math.MaxInt64/int64(time.Second)) {
		return fmt.Errorf("Invalid 'FrameworkInfo.failover_timeout': %v", fi.FailoverTimeout)
	}
	return nil
}

// validateRole mirrors roles::validate.
func validateRole(r string) error {
	switch {
	case r == "":
		return fmt.Errorf("Role name cannot be empty")
	case r == "." || r == "..":
		return fmt.Errorf("Role name '%s' cannot be '.' or '..'", r)
	case strings.HasPrefix(r, "-"):
		return fmt.Errorf("Role name '%s' cannot start with '-'", r)
	case strings.ContainsAny(r, "/\\ \t\n\v\f\r\x08\x7f"):
		return fmt.Errorf("Role name '%s' cannot contain whitespace, '/' or backspace", r)
	}
	return nil
}

// disconnected handles the end of a subscription stream, whoever ended it.
func (c *core) disconnected(now time.Time, conn connID) {
	f := c.byConn[conn]
	delete(c.byConn, conn)
	if f == nil || f.conn != conn {
		return
	}
	f.conn = 0
	f.streamID = ""
	c.discardOffers(f, false)
	f.failoverAt = now.Add(time.Duration(f.info.FailoverTimeout * float64(time.Second)))
}

// removeFramework tears a framework down: its tasks are killed on the
// agents and marked TASK_KILLED (REASON_FRAMEWORK_REMOVED) without telling
// the scheduler, and its id becomes refused for re-subscription.
func (c *core) removeFramework(now time.Time, f *framework) {
	if f.connected() {
		c.out.closes = append(c.out.closes, f.conn)
		delete(c.byConn, f.conn)
		f.conn = 0
	}
	c.discardOffers(f, false)
	fid := mesos.FrameworkID{Value: f.id}
	for _, a := range c.sortedAgents() {
		if a.hasFramework(f.id) {
			c.op(agentOp{kind: opShutdownFramework, agent: a.id, fwID: fid})
		}
	}
	for _, t := range sortedTasks(f.tasks) {
		if !t.state.IsTerminal() {
			t.state = mesos.TaskKilled
			t.status = &mesos.TaskStatus{TaskID: t.info.TaskID, State: mesos.TaskKilled, Source: mesos.SourceMaster,
				Reason: mesos.ReasonFrameworkRemoved, Message: "Framework " + f.id + " removed",
				AgentID: &mesos.AgentID{Value: t.agent}, Timestamp: unixSeconds(now)}
		}
		c.removeTask(t)
	}
	for k := range c.filters {
		if k.fw == f.id {
			delete(c.filters, k)
		}
	}
	delete(c.frameworks, f.id)
	c.completedF = append(c.completedF, f)
	if len(c.completedF) > maxCompletedFrameworks {
		c.completedF = c.completedF[1:]
	}
}

// ---- timers ----

// tick fires heartbeats, failover timeouts, filter expiry and the periodic
// allocation that are due at now.
func (c *core) tick(now time.Time) {
	for _, f := range c.sortedFrameworks() {
		if f.connected() && !now.Before(f.nextBeat) {
			c.emit(f.conn, mesos.Event{Type: mesos.EventHeartbeat})
			for !now.Before(f.nextBeat) {
				f.nextBeat = f.nextBeat.Add(heartbeatInterval)
			}
		}
		if !f.connected() && !f.failoverAt.IsZero() && !now.Before(f.failoverAt) {
			c.removeFramework(now, f)
		}
	}
	c.expireFilters(now)
	if !now.Before(c.nextAlloc) {
		c.allocate(now)
		for !now.Before(c.nextAlloc) {
			c.nextAlloc = c.nextAlloc.Add(c.allocInt)
		}
	}
}

// expireFilters forgets the refusals that ended by now. It walks the
// filters only once the earliest of them has ended: a walk (and a map
// write) per filter every tick was O(agents) ten times a second with
// every agent declined for an hour.
func (c *core) expireFilters(now time.Time) {
	if len(c.filters) == 0 || now.Before(c.filtersUntil) {
		return
	}
	next := time.Time{}
	for k, rs := range c.filters {
		n := len(rs)
		rs = slices.DeleteFunc(rs, func(r refusal) bool { return !now.Before(r.until) })
		switch {
		case len(rs) == 0:
			delete(c.filters, k)
			continue
		case len(rs) != n:
			c.filters[k] = rs
		}
		for _, r := range rs {
			if next.IsZero() || r.until.Before(next) {
				next = r.until
			}
		}
	}
	c.filtersUntil = next
}

// nextDeadline returns when tick must run next.
func (c *core) nextDeadline() time.Time {
	d := c.nextAlloc
	for _, f := range c.frameworks {
		if f.connected() && f.nextBeat.Before(d) {
			d = f.nextBeat
		}
		if !f.connected() && !f.failoverAt.IsZero() && f.failoverAt.Before(d) {
			d = f.failoverAt
		}
	}
	return d
}

// ---- agents ----

// addAgent registers an agent and returns its id.
func (c *core) addAgent(now time.Time, hostname string, total resources) string {
	id := fmt.Sprintf("%s-S%d", c.masterID, c.nextAgent)
	c.nextAgent++
	a := &agentState{id: id, hostname: hostname, total: total, tasks: map[string]*task{}, offers: map[string]*offer{}}
	c.agents[id] = a
	c.agentOrder = append(c.agentOrder, a)
	// Only the new agent has new resources: offering it alone keeps
	// registering N agents linear (a whole round per registration was
	// quadratic); the others wait for the next batch allocation.
	c.allocateOn(now, []*agentState{a})
	return id
}

// removeAgent handles an agent that went away: its offers are rescinded,
// its tasks become TASK_GONE (TASK_LOST for frameworks that are not
// PARTITION_AWARE) and every framework gets a FAILURE event.
func (c *core) removeAgent(now time.Time, id string) {
	a := c.agents[id]
	if a == nil {
		return
	}
	for _, o := range sortedOffers(a.offers) {
		if f := c.frameworks[o.fw]; f != nil {
			c.emitFw(f, mesos.Event{Type: mesos.EventRescind, Rescind: &mesos.EventRescindBody{OfferID: mesos.OfferID{Value: o.id}}})
		}
		c.dropOffer(o)
	}
	for _, t := range sortedTasks(a.tasks) {
		f := c.frameworks[t.fw]
		if f == nil {
			continue
		}
		state := mesos.TaskGone
		if !f.partitionAware() {
			state = mesos.TaskLost
		}
		st := mesos.TaskStatus{TaskID: t.info.TaskID, State: state, Source: mesos.SourceMaster,
			Reason: mesos.ReasonAgentRemoved, Message: "Agent " + a.hostname + " removed: agent unregistered",
			AgentID: &mesos.AgentID{Value: id}, Timestamp: unixSeconds(now)}
		if !t.state.IsTerminal() {
			t.state = state
			t.status = &st
			c.emitFw(f, mesos.Event{Type: mesos.EventUpdate, Update: &mesos.EventUpdateBody{Status: st}})
		}
		c.removeTask(t)
	}
	delete(c.agents, id)
	c.agentOrder = slices.DeleteFunc(c.agentOrder, func(x *agentState) bool { return x == a })
	for k := range c.filters {
		if k.agent == id {
			delete(c.filters, k)
		}
	}
	aid := mesos.AgentID{Value: id}
	for _, f := range c.sortedFrameworks() {
		c.emitFw(f, mesos.Event{Type: mesos.EventFailure, Failure: &mesos.EventFailureBody{AgentID: &aid}})
	}
}

// markUnreachable handles an agent that stopped answering, as Mesos's
// _markUnreachable: its offers are rescinded, every framework gets FAILURE,
// its live tasks become TASK_UNREACHABLE (TASK_LOST for frameworks that
// are not PARTITION_AWARE) and give their resources back; the agent gets
// no offers, commands or updates until reregisterAgent.
func (c *core) markUnreachable(now time.Time, id string) {
	a := c.agents[id]
	if a == nil || a.unreachable {
		return
	}
	for _, o := range sortedOffers(a.offers) {
		if f := c.frameworks[o.fw]; f != nil {
			c.emitFw(f, mesos.Event{Type: mesos.EventRescind, Rescind: &mesos.EventRescindBody{OfferID: mesos.OfferID{Value: o.id}}})
		}
		c.dropOffer(o)
	}
	a.unreachable = true
	aid := mesos.AgentID{Value: id}
	for _, f := range c.sortedFrameworks() {
		c.emitFw(f, mesos.Event{Type: mesos.EventFailure, Failure: &mesos.EventFailureBody{AgentID: &aid}})
	}
	for _, t := range sortedTasks(a.tasks) {
		f := c.frameworks[t.fw]
		if f == nil || t.state.IsTerminal() {
			continue
		}
		state := mesos.TaskUnreachable
		if !f.partitionAware() {
			state = mesos.TaskLost
		}
		st := mesos.TaskStatus{TaskID: t.info.TaskID, State: state, Source: mesos.SourceMaster,
			Reason: mesos.ReasonAgentRemoved, Message: "health check timed out",
			AgentID: &mesos.AgentID{Value: id}, Timestamp: unixSeconds(now)}
		if state == mesos.TaskUnreachable {
			st.UnreachableTime = &mesos.TimeInfo{Nanoseconds: now.UnixNano()}
		}
		t.beforePartition, t.state, t.updateState, t.status, t.recovered = t.state, state, "", &st, true
		a.changed()
		c.emitFw(f, mesos.Event{Type: mesos.EventUpdate, Update: &mesos.EventUpdateBody{Status: st}})
	}
}

// reregisterAgent handles an unreachable agent that came back, as Mesos's
// __reregisterSlave: its tasks are re-added in the state they had (the
// agent resends what was not acknowledged; frameworks reconcile), with
// their resources, and its free resources are offered again.
func (c *core) reregisterAgent(now time.Time, id string) {
	a := c.agents[id]
	if a == nil || !a.unreachable {
		return
	}
	a.unreachable = false
	for _, t := range sortedTasks(a.tasks) {
		if t.beforePartition == "" {
			continue
		}
		t.state, t.beforePartition, t.recovered = t.beforePartition, "", false
		a.changed()
		st := *t.status
		st.State, st.Reason, st.Message, st.UnreachableTime = t.state, "", "", nil
		t.status = &st
	}
	c.allocate(now)
}

// statusUpdate handles a reliable status update forwarded by an agent.
// latest is the state of the newest update the agent holds for the task.
func (c *core) statusUpdate(now time.Time, fwID string, st mesos.TaskStatus, latest mesos.TaskState) {
	if a := st.AgentID; a == nil || c.agents[a.Value] == nil || c.agents[a.Value].unreachable {
		return // unknown or unreachable agent: it will retry after re-registering
	}
	f := c.frameworks[fwID]
	if f == nil {
		return
	}
	if latest == "" {
		latest = st.State
	}
	if t := f.tasks[st.TaskID.Value]; t != nil && t.agent == st.AgentID.Value {
		if !t.state.IsTerminal() {
			t.state = latest
		}
		t.updateState = st.State
		t.updateUUID = slices.Clone(st.UUID)
		s := st
		s.Data = nil
		t.status = &s
		if (latest.IsTerminal() || latest == mesos.TaskUnreachable) && !t.recovered {
			t.recovered = true
			c.agentChanged(t.agent)
		}
	}
	c.emitFw(f, mesos.Event{Type: mesos.EventUpdate, Update: &mesos.EventUpdateBody{Status: st}})
}

// removeTask forgets an active task and keeps it in the framework's
// completed history.
func (c *core) removeTask(t *task) {
	t.recovered = true
	if a := c.agents[t.agent]; a != nil {
		delete(a.tasks, t.fw+"/"+t.info.TaskID.Value)
		a.changed()
	}
	f := c.frameworks[t.fw]
	if f == nil {
		return
	}
	delete(f.tasks, t.info.TaskID.Value)
	f.completed = append(f.completed, t)
	if len(f.completed) > maxCompletedTasks {
		f.completed = f.completed[1:]
	}
}

// ---- calls ----

// callResult is the HTTP answer to a non-SUBSCRIBE call.
type callResult struct {
	code int
	body string
}

var accepted = callResult{code: http.StatusAccepted}

// call handles a non-SUBSCRIBE call that passed call validation. streamID
// is the request's Mesos-Stream-Id header; hasStream whether it had one.
func (c *core) call(now time.Time, call *mesos.Call, streamID string, hasStream bool) callResult {
	f := c.frameworks[call.FrameworkID.Value]
	if f == nil {
		return callResult{http.StatusBadRequest, "Framework cannot be found"}
	}
	if !f.connected() {
		return callResult{http.StatusForbidden, "Framework is not subscribed"}
	}
	if !hasStream {
		return callResult{http.StatusBadRequest, "All non-subscribe calls should include the 'Mesos-Stream-Id' header"}
	}
	if streamID != f.streamID {
		return callResult{http.StatusBadRequest, fmt.Sprintf(
			"The stream ID '%s' included in this request didn't match the stream ID currently associated with framework ID %s",
			streamID, f.id)}
	}
	switch call.Type {
	case mesos.CallTeardown:
		c.removeFramework(now, f)
	case mesos.CallAccept:
		c.accept(now, f, call.Accept)
	case mesos.CallDecline:
		for _, id := range call.Decline.OfferIDs {
			if o := f.offers[id.Value]; o != nil {
				c.refuse(now, o, o.res, call.Decline.Filters)
				c.dropOffer(o)
			}
		}
	case mesos.CallRevive:
		roles := reviveRoles(f, call.Revive)
		for _, r := range roles {
			delete(f.suppressed, r)
			for k := range c.filters {
				if k.fw == f.id && k.role == r {
					delete(c.filters, k)
				}
			}
		}
		c.allocate(now)
	case mesos.CallSuppress:
		for _, r := range reviveRoles(f, call.Suppress) {
			f.suppressed[r] = true
		}
	case mesos.CallKill:
		c.kill(now, f, call.Kill)
	case mesos.CallShutdown:
		// Command and Docker tasks have executor id = task id; shutting the
		// executor down kills its task.
		if t := f.tasks[call.Shutdown.ExecutorID.Value]; t != nil && t.agent == call.Shutdown.AgentID.Value {
			c.op(agentOp{kind: opKill, agent: t.agent, fwID: mesos.FrameworkID{Value: f.id}, taskID: t.info.TaskID,
				policy: &mesos.KillPolicy{GracePeriod: &mesos.DurationInfo{}}})
		}
	case mesos.CallAcknowledge:
		c.acknowledge(f, call.Acknowledge)
	case mesos.CallReconcile:
		c.reconcile(now, f, call.Reconcile.Tasks)
	case mesos.CallUpdateFramework:
		return c.updateFramework(now, f, call.UpdateFramework)
	case mesos.CallUnknown:
		return callResult{http.StatusNotImplemented, "Received an unexpected 'UNKNOWN' call"}
	default:
		// MESSAGE (no custom executors here), REQUEST (ignored by the
		// built-in allocator), inverse offers, operation feedback: accepted
		// and dropped.
	}
	return accepted
}

func reviveRoles(f *framework, body *mesos.CallRolesBody) []string {
	if body == nil || len(body.Roles) == 0 {
		return f.roles()
	}
	return body.Roles
}

// refuseDuration converts Filters into a filter duration per Mesos: unset,
// negative or invalid means 5 s, 0 means none, at most 365 days.
func refuseDuration(fl *mesos.Filters) time.Duration {
	if fl == nil || fl.RefuseSeconds == nil {
		return defaultRefuse
	}
	s := *fl.RefuseSeconds
	if math.IsNaN(s) || s < 0 {
		return defaultRefuse
	}
	if s > maxRefuse.Seconds() {
		return maxRefuse
	}
	return time.Duration(s * float64(time.Second))
}

// refuse records a filter for res on o's agent for o's framework and role.
func (c *core) refuse(now time.Time, o *offer, res resources, fl *mesos.Filters) {
	d := refuseDuration(fl)
	if d == 0 || res.empty() {
		return
	}
	d = max(d, c.allocInt)
	k := filterKey{fw: o.fw, role: o.role, agent: o.agent}
	until := now.Add(d)
	c.filters[k] = append(c.filters[k], refusal{res: res, until: until})
	if until.Before(c.filtersUntil) {
		c.filtersUntil = until // (a zero filtersUntil has the next tick walk the filters)
	}
}

// dropOffer removes an offer; its resources become available again.
func (c *core) dropOffer(o *offer) {
	delete(c.offers, o.id)
	if a := c.agents[o.agent]; a != nil {
		delete(a.offers, o.id)
		a.changed()
	}
	if f := c.frameworks[o.fw]; f != nil {
		delete(f.offers, o.id)
	}
}

// discardOffers drops all offers of f, sending RESCIND when rescind is set.
func (c *core) discardOffers(f *framework, rescind bool) {
	for _, o := range sortedOffers(f.offers) {
		if rescind {
			c.emitFw(f, mesos.Event{Type: mesos.EventRescind, Rescind: &mesos.EventRescindBody{OfferID: mesos.OfferID{Value: o.id}}})
		}
		c.dropOffer(o)
	}
}

func (c *core) kill(now time.Time, f *framework, k *mesos.CallKillBody) {
	t := f.tasks[k.TaskID.Value]
	if t == nil {
		// Unknown task: Mesos answers with an explicit reconciliation.
		c.reconcile(now, f, []mesos.ReconcileTask{{TaskID: k.TaskID, AgentID: k.AgentID}})
		return
	}
	if k.AgentID != nil && k.AgentID.Value != t.agent {
		return
	}
	t.killReceived = true
	c.op(agentOp{kind: opKill, agent: t.agent, fwID: mesos.FrameworkID{Value: f.id}, taskID: t.info.TaskID, policy: k.KillPolicy})
}

func (c *core) acknowledge(f *framework, ack *mesos.CallAcknowledgeBody) {
	if c.agents[ack.AgentID.Value] == nil {
		return // the agent will resend the update
	}
	if t := f.tasks[ack.TaskID.Value]; t != nil && t.agent == ack.AgentID.Value &&
		string(t.updateUUID) == string(ack.UUID) && t.updateState.IsTerminal() {
		c.removeTask(t)
	}
	c.op(agentOp{kind: opAck, agent: ack.AgentID.Value, fwID: mesos.FrameworkID{Value: f.id}, taskID: ack.TaskID, uuid: slices.Clone(ack.UUID)})
}

func (c *core) reconcileStatus(now time.Time, f *framework, taskID mesos.TaskID, agent *mesos.AgentID, state mesos.TaskState, msg string) mesos.TaskStatus {
	st := mesos.TaskStatus{TaskID: taskID, State: state, Source: mesos.SourceMaster, Reason: mesos.ReasonReconciliation,
		Message: msg, Timestamp: unixSeconds(now)}
	if agent != nil {
		a := *agent
		st.AgentID = &a
	}
	return st
}

// reconcile answers a RECONCILE (implicit when tasks is empty).
func (c *core) reconcile(now time.Time, f *framework, tasks []mesos.ReconcileTask) {
	send := func(st mesos.TaskStatus) {
		c.emitFw(f, mesos.Event{Type: mesos.EventUpdate, Update: &mesos.EventUpdateBody{Status: st}})
	}
	known := func(t *task) {
		st := c.reconcileStatus(now, f, t.info.TaskID, &mesos.AgentID{Value: t.agent}, t.currentState(), "Reconciliation: Latest task state")
		if t.status != nil {
			st.Healthy = t.status.Healthy
			st.ContainerStatus = t.status.ContainerStatus
			st.ExecutorID = t.status.ExecutorID
		}
		send(st)
	}
	if len(tasks) == 0 {
		for _, t := range sortedTasks(f.tasks) {
			known(t)
		}
		return
	}
	for _, rt := range tasks {
		if t := f.tasks[rt.TaskID.Value]; t != nil {
			if rt.AgentID == nil || rt.AgentID.Value == t.agent {
				known(t)
				continue
			}
		}
		var state mesos.TaskState
		switch {
		case rt.AgentID != nil && c.agents[rt.AgentID.Value] != nil:
			state = mesos.TaskGone
		default:
			state = mesos.TaskUnknown
		}
		if !f.partitionAware() {
			state = mesos.TaskLost
		}
		send(c.reconcileStatus(now, f, rt.TaskID, rt.AgentID, state, "Reconciliation: Task is unknown"))
	}
}

func (c *core) updateFramework(now time.Time, f *framework, body *mesos.CallUpdateFrameworkBody) callResult {
	fi := body.FrameworkInfo
	if fi.ID == nil || fi.ID.Value != f.id {
		return callResult{http.StatusBadRequest, "Failed to validate scheduler::Call: 'framework_info.id' is not equal to 'framework_id'"}
	}
	if err := validateFrameworkInfo(&fi); err != nil {
		return callResult{http.StatusBadRequest, err.Error()}
	}
	if fi.Principal != f.info.Principal {
		return callResult{http.StatusBadRequest, "Changing framework's principal is not allowed"}
	}
	if fi.User != f.info.User {
		return callResult{http.StatusBadRequest, "Updating 'FrameworkInfo.user' is unsupported"}
	}
	if fi.Checkpoint != f.info.Checkpoint {
		return callResult{http.StatusBadRequest, "Updating 'FrameworkInfo.checkpoint' is unsupported"}
	}
	rolesChanged := !slices.Equal(f.roles(), (&framework{info: fi}).roles())
	f.info = fi
	f.suppressed = map[string]bool{}
	for _, r := range body.SuppressedRoles {
		f.suppressed[r] = true
	}
	if rolesChanged {
		c.discardOffers(f, true)
	}
	for _, a := range c.sortedAgents() {
		if a.hasFramework(f.id) {
			c.op(agentOp{kind: opUpdateFramework, agent: a.id, fw: f.info, fwID: mesos.FrameworkID{Value: f.id}})
		}
	}
	c.allocate(now)
	return callResult{code: http.StatusOK}
}

// ---- allocation ----

// allocate offers every agent's available resources to connected
// frameworks, at most one offer per (framework, role, agent), honouring
// suppression and refusal filters. Frameworks with the smallest share of
// allocated CPUs go first (a simple dominant-resource ordering).
func (c *core) allocate(now time.Time) { c.allocateOn(now, c.agentOrder) }

// allocateOn is allocate over the given agents only. When no framework
// wants offers (none connected, or every role suppressed) it looks at no
// agent: a suppressed framework costs the batch allocator nothing however
// many agents there are.
func (c *core) allocateOn(now time.Time, agents []*agentState) {
	fws, share := c.offerTakers()
	if len(fws) == 0 {
		return
	}
	byFw := map[string][]mesos.Offer{}
	for _, a := range agents {
		if a.unreachable {
			continue
		}
		avail := c.available(a)
		if avail.empty() {
			continue
		}
		if len(fws) > 1 {
			sortByShare(fws, share)
		}
		for _, f := range fws {
			if avail.empty() {
				break
			}
			for _, role := range f.roles() {
				if f.suppressed[role] || avail.empty() {
					continue
				}
				if c.filtered(now, filterKey{fw: f.id, role: role, agent: a.id}, avail) {
					continue
				}
				o := &offer{id: fmt.Sprintf("%s-O%d", c.masterID, c.nextOffer), fw: f.id, agent: a.id, role: role, res: avail}
				c.nextOffer++
				c.offers[o.id] = o
				a.offers[o.id] = o
				a.changed()
				f.offers[o.id] = o
				share[f] += avail.scalar(mesos.ResCPUs)
				byFw[f.id] = append(byFw[f.id], c.offerMessage(f, a, o))
				avail = resources{}
			}
		}
	}
	for _, f := range c.sortedFrameworks() {
		for offers := range slices.Chunk(byFw[f.id], maxOffersPerEvent) {
			c.emitFw(f, mesos.Event{Type: mesos.EventOffers, Offers: &mesos.EventOffersBody{Offers: offers}})
		}
	}
}

// offerTakers returns the connected frameworks with a role that is not
// suppressed, in allocation order, and, when there are several, each one's
// share: the CPUs of its tasks that hold resources and of its outstanding
// offers. One framework needs no order, and its share (a walk over all
// its tasks and offers) is not computed: per registration, that walk made
// registering N agents quadratic.
func (c *core) offerTakers() ([]*framework, map[*framework]float64) {
	var fs []*framework
	for _, f := range c.frameworks {
		if f.connected() && slices.ContainsFunc(f.roles(), func(r string) bool { return !f.suppressed[r] }) {
			fs = append(fs, f)
		}
	}
	share := map[*framework]float64{}
	if len(fs) < 2 {
		return fs, share
	}
	for _, f := range fs {
		var s float64
		for _, t := range f.tasks {
			if !t.recovered {
				s += t.res.scalar(mesos.ResCPUs)
			}
		}
		for _, o := range f.offers {
			s += o.res.scalar(mesos.ResCPUs)
		}
		share[f] = s
	}
	sortByShare(fs, share)
	return fs, share
}

// sortByShare orders frameworks by share, then id.
func sortByShare(fs []*framework, share map[*framework]float64) {
	sort.Slice(fs, func(i, j int) bool {
		si, sj := share[fs[i]], share[fs[j]]
		if si != sj {
			return si < sj
		}
		return fs[i].id < fs[j].id
	})
}

func (c *core) filtered(now time.Time, k filterKey, avail resources) bool {
	for _, r := range c.filters[k] {
		if now.Before(r.until) && r.res.contains(avail) {
			return true
		}
	}
	return false
}

// available returns an agent's resources neither used by tasks nor offered.
func (c *core) available(a *agentState) resources {
	if !a.availOK {
		a.avail, a.availOK = a.computeAvailable(), true
	}
	return a.avail
}

// computeAvailable is available without the cache.
func (a *agentState) computeAvailable() resources {
	avail := a.total
	for _, t := range a.tasks {
		if !t.recovered {
			avail = avail.sub(t.res)
		}
	}
	for _, o := range a.offers {
		avail = avail.sub(o.res)
	}
	return avail
}

func (c *core) offerMessage(f *framework, a *agentState, o *offer) mesos.Offer {
	role, alloc := "*", ""
	if f.info.HasCapability(mesos.CapReservationRefinement) {
		role = ""
	}
	multi := f.info.HasCapability(mesos.CapMultiRole)
	if multi {
		alloc = o.role
	}
	m := mesos.Offer{
		ID:          mesos.OfferID{Value: o.id},
		FrameworkID: mesos.FrameworkID{Value: f.id},
		AgentID:     mesos.AgentID{Value: a.id},
		Hostname:    a.hostname,
		URL: &mesos.URL{Scheme: "http", Address: mesos.Address{Hostname: a.hostname, IP: "127.0.0.1", Port: 5051},
			Path: "/slave(1)"},
		Resources: o.res.toMesos(role, alloc),
	}
	for _, t := range sortedTasks(a.tasks) {
		if t.fw == f.id && !t.state.IsTerminal() {
			m.ExecutorIDs = append(m.ExecutorIDs, mesos.ExecutorID{Value: t.info.TaskID.Value})
		}
	}
	if multi {
		m.AllocationInfo = &mesos.AllocationInfo{Role: o.role}
	}
	return m
}

// ---- helpers ----

func (c *core) sortedFrameworks() []*framework {
	fs := make([]*framework, 0, len(c.frameworks))
	for _, f := range c.frameworks {
		fs = append(fs, f)
	}
	sort.Slice(fs, func(i, j int) bool { return fs[i].id < fs[j].id })
	return fs
}

// sortedAgents returns the agents in id order; the slice is the core's
// own: callers must not modify it.
func (c *core) sortedAgents() []*agentState { return c.agentOrder }

func sortedTasks(m map[string]*task) []*task {
	ts := make([]*task, 0, len(m))
	for _, t := range m {
		ts = append(ts, t)
	}
	sort.Slice(ts, func(i, j int) bool {
		if ts[i].fw != ts[j].fw {
			return ts[i].fw < ts[j].fw
		}
		return ts[i].info.TaskID.Value < ts[j].info.TaskID.Value
	})
	return ts
}

func sortedOffers(m map[string]*offer) []*offer {
	os := make([]*offer, 0, len(m))
	for _, o := range m {
		os = append(os, o)
	}
	sort.Slice(os, func(i, j int) bool { return naturalLess(os[i].id, os[j].id) })
	return os
}

// naturalLess orders ids that end in a number numerically (S2 < S10).
func naturalLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// randomUUID returns a random (version 4) UUID string.
func randomUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
