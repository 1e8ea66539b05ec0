package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashfleet/hashfleet/internal/backoff"
	"github.com/hashfleet/hashfleet/internal/mesos"
)

// maxOfferViews bounds the offer history in Status.
const maxOfferViews = 32

// maxEventBytes bounds one event from the master. A Mesos master sends a
// round's offers in one OFFERS event, ~350 bytes an offer and more with
// tasks on the agent: 10,000 agents are more than the client's default
// 4 MiB (the subscription failed on every reconnection).
const maxEventBytes = 64 << 20

// keepFinished bounds how many finished tasks are remembered.
const keepFinished = 64

// Scheduler is the hashfleet Mesos framework: one goroutine (Run) owns the
// policy State, applies events from the master, and sends calls; Status
// may be called from any goroutine.
type Scheduler struct {
	cfg    Config
	log    *slog.Logger
	client *mesos.Client
	store  Store
	closer func()

	// fwID is read by the subscription goroutine (SubscribeCall).
	fwID atomic.Value // string

	inbox chan inMsg
	snap  atomic.Pointer[Status]
	node  atomic.Pointer[nodeProbe] // written by probeNode
	m     *metrics

	// Owned by Run's goroutine.
	state         *State
	dirty         bool
	connected     bool
	subscriptions int
	suppressed    bool
	lastWanted    int
	offers        []OfferView
	lastErr       string
	lastErrAt     time.Time
	pending       map[string]bool // explicit reconciliation outstanding
	reconcileAt   time.Time       // next explicit reconciliation round
	reconcileBO   backoff.Backoff
	implicitAt    time.Time
}

type inMsg struct {
	subscribed *mesos.EventSubscribedBody
	event      *mesos.Event
	disconnect error
	retryIn    time.Duration
}

// New validates cfg, applies defaults, opens the state store and loads
// what a previous run left (framework id, tasks). It does not contact the
// master; Run does.
func New(cfg Config) (*Scheduler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return newScheduler(cfg)
}

// Teardown removes the framework whose id is in cfg's store from the
// master (killing all its tasks) and clears the store. Only the master,
// credentials and state settings of cfg are needed.
func Teardown(ctx context.Context, cfg Config) error {
	if err := cfg.validateMaster(); err != nil {
		return err
	}
	s, err := newScheduler(cfg)
	if err != nil {
		return err
	}
	return s.Teardown(ctx)
}

func newScheduler(cfg Config) (*Scheduler, error) {
	cfg = cfg.withDefaults()
	s := &Scheduler{cfg: cfg, log: cfg.Logger, inbox: make(chan inMsg, maxUpdateBatch), pending: map[string]bool{}, lastWanted: -1,
		reconcileBO: backoff.Backoff{Min: 5 * time.Second, Max: 5 * time.Minute}}
	s.closer = func() {}
	s.m = newMetrics(cfg.Registerer)

	det := cfg.Detector
	if det == nil {
		var err error
		if strings.HasPrefix(cfg.Master, "zk://") {
			zd, zerr := mesos.NewZKDetector(cfg.Master, cfg.Logger)
			if zerr != nil {
				return nil, zerr
			}
			prev := s.closer
			s.closer = func() { zd.Close(); prev() }
			det = zd
		} else if det, err = mesos.NewStaticDetector(cfg.Master); err != nil {
			return nil, err
		}
	}
	client, err := mesos.NewClient(mesos.ClientConfig{
		Detector: det, Scheme: cfg.Scheme, TLSConfig: cfg.TLS, Principal: cfg.Principal, Secret: cfg.Secret,
		HeartbeatMisses: cfg.HeartbeatMisses, Backoff: cfg.Backoff, Transport: cfg.Transport, Logger: cfg.Logger,
		MaxFrameSize: maxEventBytes,
	})
	if err != nil {
		s.closer()
		return nil, err
	}
	s.client = client

	s.store = cfg.Store
	if s.store == nil {
		if cfg.StateURL != "" {
			zs, err := NewZKStore(cfg.StateURL, cfg.Logger)
			if err != nil {
				s.closer()
				return nil, err
			}
			prev := s.closer
			s.closer = func() { zs.Close(); prev() }
			s.store = zs
		} else {
			fs, err := NewFileStore(cfg.StateDir)
			if err != nil {
				s.closer()
				return nil, err
			}
			s.store = fs
		}
	}
	s.state = NewState(cfg.Policy)
	p, ok, err := s.store.Load(context.Background())
	if err != nil {
		s.closer()
		return nil, err
	}
	s.fwID.Store("")
	if ok {
		s.fwID.Store(p.FrameworkID)
		if p.State != nil {
			p.State.Config = s.state.Config
			if p.State.Tasks == nil {
				p.State.Tasks = map[string]*Task{}
			}
			s.state = p.State
		}
		s.log.Info("scheduler: loaded state", "framework_id", p.FrameworkID, "tasks", len(s.state.Tasks),
			"current_server", s.state.CurrentServer, "saved_at", p.SavedAt)
	}
	s.publish()
	return s, nil
}

// FrameworkID returns the framework id ("" before the first subscription).
func (s *Scheduler) FrameworkID() string { return s.fwID.Load().(string) }

// Status returns a snapshot of the scheduler's view. Safe from any goroutine.
func (s *Scheduler) Status() Status { return *s.snap.Load() }

// Run drives the framework until ctx ends: subscribes (re-subscribing with
// backoff), applies offers and updates, reconciles, and retries kills.
// Tasks keep running when Run returns (failover_timeout); use Teardown to
// remove the framework.
func (s *Scheduler) Run(ctx context.Context) error {
	defer s.closer()
	var wg sync.WaitGroup
	cctx, cancel := context.WithCancel(ctx)
	defer func() { cancel(); wg.Wait() }()
	wg.Go(func() { s.client.Run(cctx, handler{s: s, ctx: cctx}) })
	wg.Go(func() { s.probeNode(cctx, 30*time.Second) })

	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			s.save(context.WithoutCancel(ctx))
			return ctx.Err()
		case m := <-s.inbox:
			s.handleBatch(cctx, m)
		case <-tick.C:
			s.tick(cctx)
		}
		if s.dirty {
			s.save(cctx)
		}
		s.publish()
	}
}

// handler adapts the mesos client's callbacks (its goroutine) to the inbox.
type handler struct {
	s   *Scheduler
	ctx context.Context
}

func (h handler) SubscribeCall() mesos.Call {
	return mesos.Subscribe(h.s.cfg.frameworkInfo(h.s.FrameworkID()))
}

func (h handler) send(m inMsg) {
	select {
	case h.s.inbox <- m:
	case <-h.ctx.Done():
	}
}

func (h handler) Subscribed(_ context.Context, sb mesos.EventSubscribedBody) {
	h.send(inMsg{subscribed: &sb})
}
func (h handler) Event(_ context.Context, e mesos.Event) { h.send(inMsg{event: &e}) }
func (h handler) Disconnected(err error, d time.Duration) {
	if frameworkRemoved(err) {
		// The master will never take this id again: the next attempt
		// registers a new framework. Cleared here, before the client asks
		// for the next SUBSCRIBE call.
		h.s.fwID.Store("")
	}
	h.send(inMsg{disconnect: err, retryIn: d})
}

// frameworkRemoved reports whether err is the master's refusal of a
// framework id it has removed (torn down, or failover timeout expired).
func frameworkRemoved(err error) bool {
	var ee *mesos.ErrorEvent
	return errors.As(err, &ee) && strings.Contains(ee.Message, "has been removed")
}

func (s *Scheduler) setErr(err error) {
	s.lastErr = err.Error()
	s.lastErrAt = time.Now()
}

func (s *Scheduler) fw() mesos.FrameworkID { return mesos.FrameworkID{Value: s.FrameworkID()} }

// call sends one call, logging and recording failures.
func (s *Scheduler) call(ctx context.Context, c mesos.Call) error {
	err := s.client.Call(ctx, c)
	s.callDone(c, err)
	return err
}

// callDone records the failure of call c (err != nil); Run's goroutine only.
func (s *Scheduler) callDone(c mesos.Call, err error) {
	if err != nil {
		s.m.callErrors.WithLabelValues(string(c.Type)).Inc()
		s.log.Warn("scheduler: call failed", "call", c.Type, "err", err)
		s.setErr(err)
	}
}

func (s *Scheduler) save(ctx context.Context) {
	p := Persisted{FrameworkID: s.FrameworkID(), State: s.state, SavedAt: time.Now()}
	if err := s.store.Save(ctx, p); err != nil {
		s.log.Error("scheduler: saving state failed", "err", err)
		s.setErr(err)
		return
	}
	s.dirty = false
}

// mustSave persists before an action that depends on it (launch, ACK).
func (s *Scheduler) mustSave(ctx context.Context) error {
	p := Persisted{FrameworkID: s.FrameworkID(), State: s.state, SavedAt: time.Now()}
	if err := s.store.Save(ctx, p); err != nil {
		s.log.Error("scheduler: saving state failed", "err", err)
		s.setErr(err)
		return err
	}
	s.dirty = false
	return nil
}

// maxUpdateBatch bounds how many queued status updates are applied
// together, saved once and then acknowledged; the inbox holds as many, so
// that updates arriving during a save (which takes time in proportion to
// the tasks) are all in the next batch: with 64 (the inbox's size before),
// 15,000 updates of a 5,000-task fleet took 230 saves of the whole state.
const maxUpdateBatch = 4096

// handleBatch handles m; when m is a status update, it takes the updates
// queued right behind it too, applies them all, saves the state once and
// only then acknowledges them: durable before acknowledged, as one update
// alone, without rewriting the whole state file per update (which made a
// fleet of thousands of tasks quadratic).
func (s *Scheduler) handleBatch(ctx context.Context, m inMsg) {
	if !isUpdate(m) {
		s.handle(ctx, m)
		return
	}
	batch := []mesos.TaskStatus{m.event.Update.Status}
	var next *inMsg
	for len(batch) < maxUpdateBatch && next == nil {
		select {
		case m2 := <-s.inbox:
			if isUpdate(m2) {
				batch = append(batch, m2.event.Update.Status)
			} else {
				next = &m2
			}
		default:
			next = &inMsg{} // nothing queued
		}
	}
	s.onUpdates(ctx, batch)
	if next != nil {
		s.handle(ctx, *next)
	}
}

func isUpdate(m inMsg) bool {
	return m.event != nil && m.event.Type == mesos.EventUpdate && m.event.Update != nil
}

func (s *Scheduler) handle(ctx context.Context, m inMsg) {
	switch {
	case m.subscribed != nil:
		s.onSubscribed(ctx, *m.subscribed)
	case m.event != nil:
		s.onEvent(ctx, *m.event)
	case m.disconnect != nil:
		s.m.disconnects.Inc()
		s.connected = false
		s.setErr(m.disconnect)
		level := slog.LevelWarn
		var aerr *mesos.APIError
		if errors.As(m.disconnect, &aerr) && aerr.Code == 401 {
			level = slog.LevelError
			s.lastErr = "master refused the credentials (401): check --principal/--secret-file"
		}
		s.log.Log(ctx, level, "scheduler: disconnected from master", "err", m.disconnect, "retry_in", m.retryIn)
		if frameworkRemoved(m.disconnect) {
			s.onFrameworkRemoved(ctx)
		}
	}
}

// onFrameworkRemoved: the master removed the framework, and with it killed
// every task. Record that and start over as a new framework.
func (s *Scheduler) onFrameworkRemoved(ctx context.Context) {
	now := time.Now()
	n := 0
	for _, t := range s.state.Tasks {
		if t.Active() {
			t.State, t.Message, t.Reason, t.UpdatedAt = mesos.TaskKilled, "framework removed by the master", mesos.ReasonFrameworkRemoved, now
			n++
		}
	}
	s.state.CurrentServer = ""
	clear(s.pending)
	s.log.Error("scheduler: the master removed this framework (torn down or failover timeout expired); its tasks are gone, registering anew",
		"tasks_lost", n)
	s.mustSave(ctx)
}

func (s *Scheduler) onSubscribed(ctx context.Context, sb mesos.EventSubscribedBody) {
	id := sb.FrameworkID.Value
	if old := s.FrameworkID(); old != id {
		if old != "" {
			s.log.Warn("scheduler: master assigned a new framework id; old tasks are orphaned", "old", old, "new", id)
		}
		s.fwID.Store(id)
		// Durable before anything else happens under this id.
		s.mustSave(ctx)
	}
	s.connected = true
	s.subscriptions++
	s.m.subscriptions.Inc()
	s.suppressed = false // a new subscription starts unsuppressed
	s.lastWanted = -1
	s.log.Info("scheduler: subscribed", "framework_id", id, "tasks_known", len(s.state.Tasks))

	// Reconcile: explicitly for every task we believe may run, then
	// implicitly to discover tasks we do not know.
	clear(s.pending)
	for _, t := range s.state.Tasks {
		if t.Active() {
			s.pending[t.ID] = true
		}
	}
	s.reconcileBO.Reset()
	s.reconcileAt = time.Now()
	s.implicitAt = time.Now()
	s.tick(ctx)
}

func (s *Scheduler) onEvent(ctx context.Context, e mesos.Event) {
	switch e.Type {
	case mesos.EventOffers:
		s.onOffers(ctx, e.Offers.Offers)
	case mesos.EventUpdate:
		s.onUpdates(ctx, []mesos.TaskStatus{e.Update.Status})
	case mesos.EventRescind:
		s.log.Debug("scheduler: offer rescinded", "offer", e.Rescind.OfferID.Value)
	case mesos.EventFailure:
		f := e.Failure
		if f.ExecutorID == nil && f.AgentID != nil {
			s.log.Warn("scheduler: agent lost", "agent", f.AgentID.Value)
			for _, t := range s.state.Tasks {
				if t.Active() && t.AgentID == f.AgentID.Value {
					s.pending[t.ID] = true
				}
			}
			s.reconcileAt = time.Now()
		}
	case mesos.EventInverseOffers:
		var ids []mesos.OfferID
		for _, io := range e.InverseOffers.InverseOffers {
			ids = append(ids, io.ID)
		}
		// Tasks are cheap to move; agree to maintenance.
		s.call(ctx, mesos.AcceptInverseOffers(s.fw(), ids))
	case mesos.EventUpdateOperationStatus:
		if c, ok := mesos.AcknowledgeOperationStatus(s.fw(), e.UpdateOperationStatus.Status); ok {
			s.call(ctx, c)
		}
	case mesos.EventHeartbeat, mesos.EventMessage, mesos.EventRescindInverseOffer:
	default:
		s.log.Debug("scheduler: ignoring event", "type", e.Type)
	}
}

// onOffers decides a round of offers. Every launch of the round is
// recorded and made durable with one save (write-ahead) before the first
// ACCEPT goes out: a save per accepted offer rewrote the whole state file
// once per offer, quadratic in the fleet (issue #18).
func (s *Scheduler) onOffers(ctx context.Context, offers []mesos.Offer) {
	now := time.Now()
	plan := s.state.Decide(offers, now)
	declines := map[time.Duration][]mesos.OfferID{}
	var launches []offerLaunch
	for _, d := range plan.Offers {
		if len(d.Launches) == 0 {
			declines[d.Refuse] = append(declines[d.Refuse], d.Offer.ID)
			s.noteOffer(d, now)
			continue
		}
		l := offerLaunch{d: d}
		for _, spec := range d.Launches {
			l.tasks = append(l.tasks, s.state.NoteLaunch(newTaskID(spec.Role), spec, d.Offer, now))
		}
		launches = append(launches, l)
	}
	if len(launches) > 0 {
		if err := s.mustSave(ctx); err != nil {
			for _, l := range launches {
				s.forgetLaunch(l.tasks)
				l.d.Reason = "declined: cannot persist launch intent: " + err.Error()
				declines[5*time.Second] = append(declines[5*time.Second], l.d.Offer.ID)
				s.noteOffer(l.d, now)
			}
			launches = nil
		}
	}
	s.sendLaunches(ctx, launches, now)
	for refuse, ids := range declines {
		s.m.declines.Add(float64(len(ids)))
		s.call(ctx, mesos.Decline(s.fw(), ids, refuse))
	}
	s.reviveOrSuppress(ctx)
}

// offerLaunch is an accepted offer and the tasks recorded for it.
type offerLaunch struct {
	d     OfferDecision
	tasks []*Task
}

// forgetLaunch removes tasks whose launch intent could not be saved.
func (s *Scheduler) forgetLaunch(tasks []*Task) {
	for _, t := range tasks {
		delete(s.state.Tasks, t.ID)
		if s.state.CurrentServer == t.ID {
			s.state.CurrentServer = ""
		}
	}
}

// acceptsInFlight bounds the ACCEPT calls of a round sent at once.
const acceptsInFlight = 8

// sendLaunches sends the ACCEPTs of a round's launches (already saved),
// up to acceptsInFlight at a time: the v1 API takes one agent's offers per
// ACCEPT, and 1,250 round trips in a row were most of a 10,000-agent
// round's decision time, each waiting on two loaded cores.
func (s *Scheduler) sendLaunches(ctx context.Context, launches []offerLaunch, now time.Time) {
	calls := make([]mesos.Call, len(launches))
	for i, l := range launches {
		calls[i] = s.launchCall(l)
	}
	errs := make([]error, len(calls))
	sem := make(chan struct{}, acceptsInFlight)
	var wg sync.WaitGroup
	for i := range calls {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			errs[i] = s.client.Call(ctx, calls[i])
		})
	}
	wg.Wait()
	for i, l := range launches {
		s.callDone(calls[i], errs[i])
		if errs[i] != nil {
			// The master may or may not have the tasks: ask it.
			for _, t := range l.tasks {
				s.pending[t.ID] = true
			}
			s.reconcileAt = now
			l.d.Reason += " (ACCEPT failed: " + errs[i].Error() + ")"
		}
		s.noteOffer(l.d, now)
	}
}

// launchCall builds the ACCEPT of one offer with its tasks.
func (s *Scheduler) launchCall(l offerLaunch) mesos.Call {
	var infos []mesos.TaskInfo
	left := l.d.Offer.Resources
	for _, t := range l.tasks {
		s.m.launches.WithLabelValues(string(t.Role)).Inc()
		ti := s.cfg.taskInfo(t)
		// Name the offered pieces (reserved for the role or not, with
		// their allocation) the task uses, as the master requires.
		if res, rest, ok := mesos.Take(left, ti.Resources); ok {
			ti.Resources, left = res, rest
		}
		infos = append(infos, ti)
		s.log.Info("scheduler: launching "+describeTask(t), "offer", l.d.Offer.ID.Value)
	}
	return mesos.Launch(s.fw(), []mesos.OfferID{l.d.Offer.ID}, infos, s.state.Config.RefuseLong)
}

func (s *Scheduler) noteOffer(d OfferDecision, now time.Time) {
	s.offers = append(s.offers, offerView(d.Offer, d, now))
	if n := len(s.offers); n > maxOfferViews {
		s.offers = s.offers[n-maxOfferViews:]
	}
	s.log.Debug("scheduler: offer", "offer", d.Offer.ID.Value, "host", d.Offer.Hostname, "decision", d.Reason)
}

// onUpdates applies status updates, makes them durable, then acknowledges
// them.
func (s *Scheduler) onUpdates(ctx context.Context, sts []mesos.TaskStatus) {
	now := time.Now()
	for _, st := range sts {
		s.applyUpdate(st, now)
	}
	// Applied and durable before the acknowledgement.
	if s.dirty {
		if err := s.mustSave(ctx); err != nil {
			return // not acknowledged: the agents will resend
		}
	}
	for _, st := range sts {
		if ack, ok := mesos.Acknowledge(s.fw(), st); ok {
			if s.call(ctx, ack) == nil {
				s.m.acks.Inc()
			}
		}
	}
	s.sendKills(ctx, now)
	s.reviveOrSuppress(ctx)
}

// applyUpdate records one status update in the state (not yet saved).
func (s *Scheduler) applyUpdate(st mesos.TaskStatus, now time.Time) {
	s.m.updates.WithLabelValues(string(st.State)).Inc()
	delete(s.pending, st.TaskID.Value)
	u := s.state.Apply(st, now)
	if !u.Known {
		if terminal(st.State) {
			s.log.Debug("scheduler: update for an unknown, finished task", "task", st.TaskID.Value, "state", st.State)
		} else {
			// Not ours any more (or never recorded): kill it.
			agent := ""
			if st.AgentID != nil {
				agent = st.AgentID.Value
			}
			s.log.Warn("scheduler: killing unknown task", "task", st.TaskID.Value, "state", st.State, "agent", agent)
			s.state.Tasks[st.TaskID.Value] = &Task{ID: st.TaskID.Value, Role: roleOfID(st.TaskID.Value), AgentID: agent,
				State: st.State, LaunchedAt: now, UpdatedAt: now, KillWanted: true, KillReason: "unknown task"}
		}
		s.dirty = true
	}
	if u.Changed {
		t := s.state.Tasks[st.TaskID.Value]
		attrs := []any{"task", st.TaskID.Value, "role", t.Role, "state", st.State, "reason", st.Reason, "message", st.Message, "source", st.Source}
		if st.Healthy != nil {
			attrs = append(attrs, "healthy", *st.Healthy)
		}
		if st.State == mesos.TaskFailed || st.State == mesos.TaskError {
			// The message carries the cause (the agent puts the task's
			// last stderr lines there): a failure is worth a warning.
			s.log.Warn("scheduler: task failed", attrs...)
		} else {
			s.log.Info("scheduler: task update", attrs...)
		}
		if why := s.cfg.launchProblem(t, st); why != "" {
			s.lastErr, s.lastErrAt = why, now
			s.log.Error("scheduler: task failed because of this scheduler's settings", "err", why)
		}
		if t.Role == RoleServer && u.Terminal && s.state.CurrentServer == "" && !s.state.ServerBackoffUntil.IsZero() {
			s.log.Warn("scheduler: server lost: killing its workers, relaunching after backoff", "task", t.ID, "state", t.State,
				"message", t.Message, "failures", s.state.ServerFailures, "relaunch_in", time.Until(s.state.ServerBackoffUntil).Round(time.Millisecond))
		}
		s.dirty = true
	}
}

func (s *Scheduler) sendKills(ctx context.Context, now time.Time) {
	if !s.connected {
		return
	}
	for _, k := range s.state.DueKills(now) {
		s.log.Info("scheduler: killing task", "task", k.TaskID, "reason", k.Reason)
		kp := &mesos.KillPolicy{GracePeriod: mesos.NewDurationInfo(s.cfg.KillGrace)}
		s.m.kills.Inc()
		if s.call(ctx, mesos.Kill(s.fw(), mesos.TaskID{Value: k.TaskID}, mesos.AgentID{Value: k.AgentID}, kp)) == nil {
			s.state.KillSent(k.TaskID, now)
			s.dirty = true
		}
	}
}

// reviveOrSuppress keeps the master's offer flow matched to what the
// policy wants: SUPPRESS when nothing is wanted, REVIVE (clearing the long
// decline filters) when something new is wanted.
func (s *Scheduler) reviveOrSuppress(ctx context.Context) {
	if !s.connected {
		return
	}
	w := s.state.Wanted()
	switch {
	case w == 0 && !s.suppressed:
		if s.call(ctx, mesos.Suppress(s.fw())) == nil {
			s.suppressed = true
			s.log.Info("scheduler: nothing to launch, offers suppressed")
		}
	case w > 0 && (s.suppressed || (s.lastWanted >= 0 && w > s.lastWanted)):
		if s.call(ctx, mesos.Revive(s.fw())) == nil {
			s.suppressed = false
			s.log.Info("scheduler: offers revived", "wanted", w)
		}
	}
	s.lastWanted = w
}

func (s *Scheduler) tick(ctx context.Context) {
	now := time.Now()
	if s.state.Tick(now) {
		s.dirty = true
	}
	if !s.connected {
		return
	}
	// Launched tasks that never reported: ask the master.
	for _, t := range s.state.Tasks {
		if t.Active() && t.State == mesos.TaskStaging && now.Sub(t.UpdatedAt) >= s.cfg.LaunchTimeout && !s.pending[t.ID] {
			s.pending[t.ID] = true
			s.reconcileAt = now
		}
	}
	if len(s.pending) > 0 && !now.Before(s.reconcileAt) {
		var rts []mesos.ReconcileTask
		for id := range s.pending {
			t, ok := s.state.Tasks[id]
			if !ok || !t.Active() {
				delete(s.pending, id)
				continue
			}
			rt := mesos.ReconcileTask{TaskID: mesos.TaskID{Value: id}}
			if t.AgentID != "" {
				rt.AgentID = &mesos.AgentID{Value: t.AgentID}
			}
			rts = append(rts, rt)
		}
		if len(rts) > 0 {
			s.log.Info("scheduler: explicit reconciliation", "tasks", len(rts))
			s.call(ctx, mesos.Reconcile(s.fw(), rts...))
		}
		s.reconcileAt = now.Add(s.reconcileBO.Next())
	}
	if !now.Before(s.implicitAt) {
		s.log.Debug("scheduler: implicit reconciliation")
		if s.call(ctx, mesos.Reconcile(s.fw())) == nil {
			s.implicitAt = now.Add(s.cfg.ReconcileInterval)
		} else {
			s.implicitAt = now.Add(10 * time.Second)
		}
	}
	s.sendKills(ctx, now)
	before := len(s.state.Tasks)
	s.state.Forget(now.Add(-24*time.Hour), keepFinished)
	if len(s.state.Tasks) != before {
		s.dirty = true
	}
	s.reviveOrSuppress(ctx)
}

// publish stores a fresh Status snapshot.
func (s *Scheduler) publish() {
	st := &Status{
		FrameworkID: s.FrameworkID(), Connected: s.connected, Master: s.client.Endpoint(),
		LastError: s.lastErr, LastErrorAt: s.lastErrAt, Subscriptions: s.subscriptions, Suppressed: s.suppressed,
		Wanted: s.state.Wanted(), ServerReady: s.state.ServerReady(),
		ServerFailures: s.state.ServerFailures, ServerBackoffUntil: s.state.ServerBackoffUntil,
		WorkerFailures: s.state.WorkerFailures, WorkerBackoffUntil: s.state.WorkerBackoffUntil,
		States: map[string]int{}, LastOffers: append([]OfferView(nil), s.offers...), Reconciling: len(s.pending),
		UpdatedAt: time.Now(),
	}
	for _, t := range s.state.SortedTasks() {
		v := viewOf(t)
		v.Ports = append([]uint64(nil), t.Ports...)
		if t.Healthy != nil {
			h := *t.Healthy
			v.Healthy = &h
		}
		st.Tasks = append(st.Tasks, v)
		st.States[string(t.State)]++
	}
	if srv := s.state.Server(); srv != nil {
		v := viewOf(srv)
		st.Server = &v
		st.ServerAddr = srv.StratumAddr()
	}
	st.Workers, st.WorkerCPUs = s.state.activeWorkers()
	s.m.workers.Set(float64(st.Workers))
	if st.ServerReady {
		s.m.serverReady.Set(1)
	} else {
		s.m.serverReady.Set(0)
	}
	if p := s.node.Load(); p != nil {
		ok := p.ok
		st.NodeReachable, st.NodeError, st.NodeCheckedAt = &ok, p.err, p.at
	}
	s.snap.Store(st)
}

// Teardown removes the framework from the master (all its tasks are
// killed) and clears the stored state. It subscribes with the stored
// framework id first, as TEARDOWN needs a subscribed framework.
func (s *Scheduler) Teardown(ctx context.Context) error {
	defer s.closer()
	id := s.FrameworkID()
	if id == "" {
		return errors.New("scheduler: no stored framework id: nothing to tear down")
	}
	sub, err := s.client.Subscribe(ctx, mesos.Subscribe(s.cfg.frameworkInfo(id)))
	if err != nil {
		return fmt.Errorf("scheduler: teardown: subscribe: %w", err)
	}
	defer sub.Close()
	if err := s.client.Call(ctx, mesos.Teardown(mesos.FrameworkID{Value: id})); err != nil {
		return fmt.Errorf("scheduler: teardown: %w", err)
	}
	s.log.Info("scheduler: framework torn down", "framework_id", id)
	return s.store.Clear(ctx)
}
