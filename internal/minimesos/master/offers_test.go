package master

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashfleet/hashfleet/internal/mesos"
)

func sleep() { time.Sleep(10 * time.Millisecond) }

// TestOffers: one offer per agent with ids <master>-O<n>, unreserved
// resources with role "*", and allocation_info only for MULTI_ROLE.
func TestOffers(t *testing.T) {
	c := startCluster(t, Config{})
	a1 := c.addAgent("cpus:2;mem:1024;ports:[31000-32000]")
	a2 := c.addAgent("cpus:4;mem:2048")
	s := c.subscribe(fwInfo("fw"))
	os := s.offers()
	if len(os) != 2 {
		t.Fatalf("offers: got %d, want 2 (one per agent)", len(os))
	}
	re := regexp.MustCompile("^" + regexp.QuoteMeta(c.m.Info().ID) + `-O\d+$`)
	agents := map[string]bool{}
	for _, o := range os {
		if !re.MatchString(o.ID.Value) {
			t.Errorf("offer id %q does not match %s", o.ID.Value, re)
		}
		if o.FrameworkID != s.fwID {
			t.Errorf("offer framework: got %v", o.FrameworkID)
		}
		agents[o.AgentID.Value] = true
		for _, r := range o.Resources {
			if r.Role != "*" || r.AllocationInfo != nil {
				t.Errorf("resource %s: role %q allocation %v, want role * and no allocation_info", r.Name, r.Role, r.AllocationInfo)
			}
		}
	}
	if !agents[a1.id.Value] || !agents[a2.id.Value] {
		t.Errorf("offers cover agents %v, want both", agents)
	}
	if got := mesos.AllRanges(os[0].Resources, "ports"); len(got) != 1 || got[0] != (mesos.ValueRange{Begin: 31000, End: 32000}) {
		t.Errorf("ports: got %v", got)
	}

	// MULTI_ROLE framework: allocation_info set, one offer per role.
	c2 := startCluster(t, Config{})
	c2.addAgent("cpus:2;mem:1024")
	fi := fwInfo("multi", mesos.CapMultiRole)
	fi.Roles = []string{"mining"}
	m := c2.subscribe(fi)
	mo := m.offers()
	if len(mo) != 1 || mo[0].AllocationInfo == nil || mo[0].AllocationInfo.Role != "mining" {
		t.Fatalf("multi-role offer: got %+v", mo)
	}
	for _, r := range mo[0].Resources {
		if r.AllocationInfo == nil || r.AllocationInfo.Role != "mining" {
			t.Errorf("resource %s allocation_info: got %v, want mining", r.Name, r.AllocationInfo)
		}
	}
}

// TestAcceptLifecycle walks a task through STAGING → RUNNING → FINISHED
// with acknowledgements, checking resource accounting and /state.
func TestAcceptLifecycle(t *testing.T) {
	c := startCluster(t, Config{})
	a := c.addAgent("cpus:2;mem:1024;ports:[31000-31009]")
	s := c.subscribe(fwInfo("fw"))
	os := s.offers()
	task := cmdTask("t1", a.id, "cpus:1.5;mem:256;ports:[31000-31001]", t)
	task.Data = []byte("secret-ish payload")
	s.mustCall(mesos.Launch(s.fwID, offerIDs(os), []mesos.TaskInfo{task}, 0), 202)
	cmd := a.next(t, "launch")
	if cmd.task.TaskID.Value != "t1" || cmd.fw != s.fwID.Value || string(cmd.task.Data) != "secret-ish payload" {
		t.Fatalf("launch: got %+v", cmd)
	}
	// The leftover is re-offered at once (filter 0).
	left := s.offers()
	if got := mesos.SumScalar(left[0].Resources, "cpus"); got != 0.5 {
		t.Errorf("leftover cpus: got %v, want 0.5", got)
	}
	if got := mesos.AllRanges(left[0].Resources, "ports"); len(got) != 1 || got[0].Begin != 31002 {
		t.Errorf("leftover ports: got %v, want [31002-31009]", got)
	}
	// Reconciliation says STAGING before the agent reports.
	s.mustCall(mesos.Reconcile(s.fwID), 202)
	if st := s.update(); st.State != mesos.TaskStaging || st.Reason != mesos.ReasonReconciliation || st.UUID != nil {
		t.Errorf("reconcile: got %+v", st)
	}

	c.agentUpdate(a, s.fwID, "t1", mesos.TaskRunning, 1)
	st := s.update()
	if st.State != mesos.TaskRunning || len(st.UUID) != 16 {
		t.Fatalf("update: got %+v", st)
	}
	ack, _ := mesos.Acknowledge(s.fwID, st)
	s.mustCall(ack, 202)
	if cmd := a.next(t, "ack"); cmd.taskID != "t1" || cmd.uuid[0] != 1 {
		t.Errorf("ack forwarded: got %+v", cmd)
	}

	c.agentUpdate(a, s.fwID, "t1", mesos.TaskFinished, 2)
	fin := s.update()
	// Resources are recovered on the terminal update, before the ack.
	s.mustCall(mesos.Decline(s.fwID, offerIDs(left), 0), 202)
	if got := mesos.SumScalar(s.offers()[0].Resources, "cpus"); got != 2 {
		t.Errorf("cpus after terminal update: got %v, want 2", got)
	}
	doc := c.state()
	fw := doc["frameworks"].([]any)[0].(map[string]any)
	if n := len(fw["tasks"].([]any)); n != 1 {
		t.Errorf("tasks before terminal ack: got %d, want 1", n)
	}
	ack, _ = mesos.Acknowledge(s.fwID, fin)
	s.mustCall(ack, 202)
	a.next(t, "ack")
	waitForState(t, c, func(doc map[string]any) bool {
		fw := doc["frameworks"].([]any)[0].(map[string]any)
		return len(fw["tasks"].([]any)) == 0 && len(fw["completed_tasks"].([]any)) == 1
	})
	// The stored task has no data.
	if strings.Contains(string(mustJSON(c.state())), "secret-ish") {
		t.Errorf("/state exposes TaskInfo.data")
	}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// TestAcceptInvalidOffers: stale, foreign, rescinded, duplicate and
// cross-agent offers make every task TASK_LOST (TASK_DROPPED when
// PARTITION_AWARE) with REASON_INVALID_OFFERS, and no launch happens.
func TestAcceptInvalidOffers(t *testing.T) {
	c := startCluster(t, Config{})
	a := c.addAgent("cpus:2;mem:1024")
	b := c.addAgent("cpus:2;mem:1024")
	s := c.subscribe(fwInfo("fw"))
	pa := c.subscribe(fwInfo("pa", mesos.CapPartitionAware))
	first := s.offers()
	// pa gets nothing while s holds both agents; s declines agent b's offer
	// for a long time so that pa gets it.
	var onA, onB mesos.OfferID
	for _, o := range first {
		if o.AgentID == a.id {
			onA = o.ID
		} else {
			onB = o.ID
		}
	}
	s.mustCall(mesos.Decline(s.fwID, []mesos.OfferID{onB}, time.Hour), 202)
	foreign := pa.offers()[0].ID

	tests := []struct {
		name   string
		sub    *sub
		offers []mesos.OfferID
		want   mesos.TaskState
		msg    string
	}{
		{name: "stale (declined) offer", sub: s, offers: []mesos.OfferID{onB}, want: mesos.TaskLost, msg: "is no longer valid"},
		{name: "unknown offer", sub: s, offers: []mesos.OfferID{{Value: "nope"}}, want: mesos.TaskLost, msg: "Offer nope is no longer valid"},
		{name: "foreign offer", sub: s, offers: []mesos.OfferID{foreign}, want: mesos.TaskLost, msg: "has invalid framework"},
		{name: "duplicate offer", sub: s, offers: []mesos.OfferID{onA, onA}, want: mesos.TaskLost, msg: "Duplicate offer"},
		{name: "no offers, partition aware", sub: pa, offers: nil, want: mesos.TaskDropped, msg: "No offers specified"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			task := cmdTask("x-"+strings.ReplaceAll(tt.name, " ", "-"), a.id, "cpus:0.1", t)
			task.TaskID.Value = strings.NewReplacer("(", "", ")", "", ",", "").Replace(task.TaskID.Value)
			tt.sub.mustCall(mesos.Launch(tt.sub.fwID, tt.offers, []mesos.TaskInfo{task}, 0), 202)
			st := tt.sub.update()
			if st.State != tt.want || st.Reason != mesos.ReasonInvalidOffers || st.Source != mesos.SourceMaster || st.UUID != nil {
				t.Errorf("update: got %+v, want %s REASON_INVALID_OFFERS from master without uuid", st, tt.want)
			}
			if !strings.HasPrefix(st.Message, "Task launched with invalid offers: ") || !strings.Contains(st.Message, tt.msg) {
				t.Errorf("message: got %q, want it to contain %q", st.Message, tt.msg)
			}
		})
	}
	a.none(t)
	b.none(t)
	// The duplicate-offer ACCEPT discarded s's valid offer on a (no filter),
	// so it comes back; pa's offer survived s's attempt to use it.
	if os := s.offers(); os[0].AgentID != a.id {
		t.Errorf("re-offer after invalid accept: got agent %v, want %v", os[0].AgentID, a.id)
	}
	pa.mustCall(mesos.Launch(pa.fwID, []mesos.OfferID{foreign}, []mesos.TaskInfo{cmdTask("ok", b.id, "cpus:1", t)}, 0), 202)
	if cmd := b.next(t, "launch"); cmd.taskID != "ok" {
		t.Errorf("launch on the foreign framework's own offer: got %+v", cmd)
	}
}

// TestAcceptInvalidTasks: per-task validation gives TASK_ERROR with
// REASON_TASK_INVALID while valid tasks of the same ACCEPT launch.
func TestAcceptInvalidTasks(t *testing.T) {
	sh := "true"
	tests := []struct {
		name string
		edit func(ti *mesos.TaskInfo)
		msg  string
		// whole: the error is in the operation's resources, which Mesos
		// checks before any task: every task of the LAUNCH fails.
		whole bool
	}{
		{name: "too many cpus", edit: func(ti *mesos.TaskInfo) { ti.Resources = mustRes(t, "cpus:3") }, msg: "required by task and its executor is more than available"},
		{name: "port outside offer", edit: func(ti *mesos.TaskInfo) { ti.Resources = mustRes(t, "cpus:0.1;ports:[80-80]") }, msg: "more than available"},
		{name: "duplicate of launched task", edit: func(ti *mesos.TaskInfo) { ti.TaskID.Value = "good-too-many-cpus" }, msg: "Task has duplicate ID: good-too-many-cpus"},
		{name: "wrong agent", edit: func(ti *mesos.TaskInfo) { ti.AgentID.Value = "elsewhere" }, msg: "Task uses invalid agent: elsewhere"},
		{name: "no resources", edit: func(ti *mesos.TaskInfo) { ti.Resources = nil }, msg: "Task uses no resources"},
		{name: "negative cpus", edit: func(ti *mesos.TaskInfo) {
			ti.Resources = []mesos.Resource{{Name: "cpus", Type: mesos.ScalarType, Scalar: &mesos.ValueScalar{Value: -1}}}
		}, msg: "Resource 'cpus:-1' is invalid: Invalid scalar resource: value <= 0", whole: true},
		{name: "inverted range", edit: func(ti *mesos.TaskInfo) {
			ti.Resources = append(mustRes(t, "cpus:0.1"), mesos.RangesResource("ports", mesos.ValueRange{Begin: 31005, End: 31000}))
		}, msg: "Invalid ranges resource: begin > end", whole: true},
		{name: "no command", edit: func(ti *mesos.TaskInfo) { ti.Command = nil }, msg: "at least one (but not both) of CommandInfo or ExecutorInfo"},
		{name: "slash in id", edit: func(ti *mesos.TaskInfo) { ti.TaskID.Value = "a/b" }, msg: "is invalid"},
		{name: "env without value", edit: func(ti *mesos.TaskInfo) {
			ti.Command = &mesos.CommandInfo{Value: &sh, Environment: &mesos.Environment{Variables: []mesos.EnvVariable{{Name: "X"}}}}
		}, msg: "must have a value set"},
		{name: "docker without docker info", edit: func(ti *mesos.TaskInfo) { ti.Container = &mesos.ContainerInfo{Type: mesos.ContainerDocker} }, msg: "DockerInfo 'docker' is not set"},
		{name: "tcp check without tcp", edit: func(ti *mesos.TaskInfo) { ti.HealthCheck = &mesos.HealthCheck{Type: mesos.HealthTCP} }, msg: "Expecting 'tcp'"},
		{name: "negative kill grace", edit: func(ti *mesos.TaskInfo) {
			ti.KillPolicy = &mesos.KillPolicy{GracePeriod: &mesos.DurationInfo{Nanoseconds: -1}}
		}, msg: "non-negative"},
	}
	c := startCluster(t, Config{})
	a := c.addAgent("cpus:2;mem:1024;ports:[31000-31010]")
	s := c.subscribe(fwInfo("fw"))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			os := s.offers()
			good := cmdTask("good-"+strings.ReplaceAll(tt.name, " ", "-"), a.id, "cpus:0.1", t)
			bad := cmdTask("bad-"+strings.ReplaceAll(tt.name, " ", "-"), a.id, "cpus:0.1", t)
			tt.edit(&bad)
			tasks := []mesos.TaskInfo{good, bad}
			s.mustCall(mesos.Launch(s.fwID, offerIDs(os), tasks, 0), 202)
			// "good" launches the first time only; later it is a duplicate.
			st := s.update()
			if tt.whole {
				if st.TaskID != good.TaskID || st.State != mesos.TaskError || !strings.Contains(st.Message, tt.msg) {
					t.Errorf("update: got %+v, want TASK_ERROR for %s too", st, good.TaskID.Value)
				}
				st = s.update()
			}
			for st.TaskID.Value == good.TaskID.Value && st.State != mesos.TaskError {
				st = s.update()
			}
			if st.State != mesos.TaskError || st.Reason != mesos.ReasonTaskInvalid || st.Source != mesos.SourceMaster || st.UUID != nil {
				t.Errorf("update: got %+v, want TASK_ERROR REASON_TASK_INVALID", st)
			}
			if !strings.Contains(st.Message, tt.msg) {
				t.Errorf("message: got %q, want it to contain %q", st.Message, tt.msg)
			}
		})
	}
	// Only the good tasks were launched. (The master applies agent
	// commands after it sends the events of the same input, so each
	// launch is waited for, not counted from the channel's length.)
	whole := 0
	for _, tt := range tests {
		if tt.whole {
			whole++
		}
	}
	var launches []string
	for range len(tests) - whole {
		launches = append(launches, a.next(t, "launch").taskID)
	}
	s.mustCall(mesos.Reconcile(s.fwID), 202) // a barrier: the master is past every ACCEPT
	a.none(t)
	if slices.ContainsFunc(launches, func(id string) bool { return !strings.HasPrefix(id, "good-") }) {
		t.Errorf("launched: got %v, want one good-* task per case", launches)
	}
}

// TestKillAndReconcile: KILL of a known task reaches the agent every time;
// KILL and explicit RECONCILE of unknown tasks are answered by the master.
func TestKillAndReconcile(t *testing.T) {
	c := startCluster(t, Config{})
	a := c.addAgent("cpus:2;mem:1024")
	s := c.subscribe(fwInfo("fw"))
	pa := c.subscribe(fwInfo("pa", mesos.CapPartitionAware))
	os := s.offers()
	s.mustCall(mesos.Launch(s.fwID, offerIDs(os), []mesos.TaskInfo{cmdTask("t1", a.id, "cpus:1", t)}, 0), 202)
	a.next(t, "launch")
	for range 2 {
		s.mustCall(mesos.Kill(s.fwID, mesos.TaskID{Value: "t1"}, a.id, nil), 202)
		if cmd := a.next(t, "kill"); cmd.taskID != "t1" {
			t.Errorf("kill: got %+v", cmd)
		}
	}
	// Wrong agent id: silently ignored.
	s.mustCall(mesos.Kill(s.fwID, mesos.TaskID{Value: "t1"}, mesos.AgentID{Value: "other"}, nil), 202)

	tests := []struct {
		name  string
		sub   *sub
		call  mesos.Call
		state mesos.TaskState
	}{
		{name: "kill unknown", sub: s, call: mesos.Kill(s.fwID, mesos.TaskID{Value: "ghost"}, mesos.AgentID{}, nil), state: mesos.TaskLost},
		{name: "reconcile unknown on known agent", sub: s, call: mesos.Reconcile(s.fwID, mesos.ReconcileTask{TaskID: mesos.TaskID{Value: "ghost"}, AgentID: &a.id}), state: mesos.TaskLost},
		{name: "pa reconcile unknown on known agent", sub: pa, call: mesos.Reconcile(pa.fwID, mesos.ReconcileTask{TaskID: mesos.TaskID{Value: "ghost"}, AgentID: &a.id}), state: mesos.TaskGone},
		{name: "pa reconcile unknown agent", sub: pa, call: mesos.Reconcile(pa.fwID, mesos.ReconcileTask{TaskID: mesos.TaskID{Value: "ghost"}, AgentID: &mesos.AgentID{Value: "x"}}), state: mesos.TaskUnknown},
		{name: "explicit known", sub: s, call: mesos.Reconcile(s.fwID, mesos.ReconcileTask{TaskID: mesos.TaskID{Value: "t1"}}), state: mesos.TaskStaging},
		{name: "implicit", sub: s, call: mesos.Reconcile(s.fwID), state: mesos.TaskStaging},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Kill with agent id "" is a Kill without agent; fix the constructor's empty agent.
			if tt.call.Kill != nil && tt.call.Kill.AgentID != nil && tt.call.Kill.AgentID.Value == "" {
				tt.call.Kill.AgentID = nil
			}
			tt.sub.mustCall(tt.call, 202)
			// The allocator may offer the free cpu to either framework at any
			// moment; offers are not under test here.
			st := tt.sub.nextSkipping(mesos.EventUpdate, mesos.EventOffers).Update.Status
			if st.State != tt.state || st.Reason != mesos.ReasonReconciliation || st.Source != mesos.SourceMaster || st.UUID != nil {
				t.Errorf("update: got %+v, want %s REASON_RECONCILIATION", st, tt.state)
			}
		})
	}
	a.none(t)
	// Implicit reconciliation of a framework without tasks sends nothing.
	pa.mustCall(mesos.Reconcile(pa.fwID), 202)
	pa.quiet(200*time.Millisecond, mesos.EventOffers)
}

// TestAgentRemoved: offers on a vanished agent are rescinded, its tasks
// are LOST (GONE for PARTITION_AWARE) and frameworks get FAILURE.
func TestAgentRemoved(t *testing.T) {
	c := startCluster(t, Config{})
	a := c.addAgent("cpus:2;mem:1024")
	s := c.subscribe(fwInfo("fw", mesos.CapPartitionAware))
	os := s.offers()
	s.mustCall(mesos.Launch(s.fwID, offerIDs(os), []mesos.TaskInfo{cmdTask("t1", a.id, "cpus:1", t)}, 0), 202)
	a.next(t, "launch")
	left := s.offers()
	if err := c.m.RemoveAgent(t.Context(), a.id); err != nil {
		t.Fatal(err)
	}
	if ev := s.next(mesos.EventRescind); ev.Rescind.OfferID != left[0].ID {
		t.Errorf("rescind: got %v, want %v", ev.Rescind.OfferID, left[0].ID)
	}
	st := s.update()
	if st.State != mesos.TaskGone || st.Reason != mesos.ReasonAgentRemoved || st.UUID != nil {
		t.Errorf("task update: got %+v", st)
	}
	if ev := s.next(mesos.EventFailure); ev.Failure.AgentID == nil || *ev.Failure.AgentID != a.id {
		t.Errorf("failure: got %+v", ev.Failure)
	}
	// A rescinded offer is invalid.
	s.mustCall(mesos.Launch(s.fwID, offerIDs(left), []mesos.TaskInfo{cmdTask("t2", a.id, "cpus:1", t)}, 0), 202)
	if st := s.update(); st.State != mesos.TaskDropped || st.Reason != mesos.ReasonInvalidOffers {
		t.Errorf("accept of rescinded offer: got %+v", st)
	}
}

// TestSuppressRevive: SUPPRESS stops offers; REVIVE resumes them at once
// and clears decline filters.
func TestSuppressRevive(t *testing.T) {
	c := startCluster(t, Config{})
	c.addAgent("cpus:2;mem:1024")
	s := c.subscribe(fwInfo("fw"))
	os := s.offers()
	s.mustCall(mesos.Suppress(s.fwID), 202)
	s.mustCall(mesos.Decline(s.fwID, offerIDs(os), 0), 202)
	s.quiet(300 * time.Millisecond) // several allocation cycles
	s.mustCall(mesos.Revive(s.fwID), 202)
	os = s.offers()
	s.mustCall(mesos.Decline(s.fwID, offerIDs(os), time.Hour), 202)
	s.quiet(300 * time.Millisecond)
	s.mustCall(mesos.Revive(s.fwID), 202)
	s.offers()
}

// TestAgentPartition: PartitionAgent makes a live agent unreachable (its
// offer rescinded, FAILURE, the partition-aware task TASK_UNREACHABLE with
// unreachable_time, its updates not taken, its kills not sent); after
// ReconnectAgent its updates reach the framework again.
func TestAgentPartition(t *testing.T) {
	c := startCluster(t, Config{})
	a := c.addAgent("cpus:2;mem:1024")
	s := c.subscribe(fwInfo("fw", mesos.CapPartitionAware))
	os := s.offers()
	s.mustCall(mesos.Launch(s.fwID, offerIDs(os), []mesos.TaskInfo{cmdTask("t1", a.id, "cpus:1", t)}, 0), 202)
	a.next(t, "launch")
	c.agentUpdate(a, s.fwID, "t1", mesos.TaskRunning, 1)
	s.update()
	left := s.offers()
	if err := c.m.PartitionAgent(t.Context(), a.id); err != nil {
		t.Fatal(err)
	}
	if ev := s.next(mesos.EventRescind); ev.Rescind.OfferID != left[0].ID {
		t.Errorf("rescind: got %v, want %v", ev.Rescind.OfferID, left[0].ID)
	}
	if ev := s.next(mesos.EventFailure); ev.Failure.AgentID == nil || *ev.Failure.AgentID != a.id {
		t.Errorf("failure: got %+v", ev.Failure)
	}
	st := s.update()
	if st.State != mesos.TaskUnreachable || st.Reason != mesos.ReasonAgentRemoved || st.UnreachableTime == nil || st.UUID != nil {
		t.Errorf("task update: got %+v", st)
	}
	// Partitioned: an update from the agent is not taken, a kill not sent.
	c.agentUpdate(a, s.fwID, "t1", mesos.TaskFinished, 2)
	s.mustCall(mesos.Kill(s.fwID, mesos.TaskID{Value: "t1"}, a.id, nil), 202)
	s.mustCall(mesos.Reconcile(s.fwID, mesos.ReconcileTask{TaskID: mesos.TaskID{Value: "t1"}}), 202)
	if st := s.update(); st.State != mesos.TaskUnreachable || st.Reason != mesos.ReasonReconciliation {
		t.Errorf("reconcile while partitioned: got %+v", st)
	}
	a.none(t)
	if err := c.m.ReconnectAgent(t.Context(), a.id); err != nil {
		t.Fatal(err)
	}
	s.mustCall(mesos.Reconcile(s.fwID, mesos.ReconcileTask{TaskID: mesos.TaskID{Value: "t1"}}), 202)
	if st := s.nextSkipping(mesos.EventUpdate, mesos.EventOffers).Update.Status; st.State != mesos.TaskRunning {
		t.Errorf("reconcile after return: got %+v, want TASK_RUNNING", st)
	}
	c.agentUpdate(a, s.fwID, "t1", mesos.TaskFinished, 3)
	if st := s.nextSkipping(mesos.EventUpdate, mesos.EventOffers).Update.Status; st.State != mesos.TaskFinished {
		t.Errorf("update after return: got %+v, want TASK_FINISHED", st)
	}
}
