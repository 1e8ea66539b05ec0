package mesos

import (
	"encoding/json"
	"testing"
	"time"
)

func TestCallConstructors(t *testing.T) {
	fw := FrameworkID{Value: "fw"}
	fi := FrameworkInfo{User: "root", Name: "hashfleet", FailoverTimeout: 604800, Checkpoint: true}
	fiWithID := fi
	fiWithID.ID = &FrameworkID{Value: "fw"}
	ackNoUUID, ackNoUUIDOK := Acknowledge(fw, TaskStatus{TaskID: TaskID{Value: "t"}, State: TaskRunning, AgentID: &AgentID{Value: "a"}})
	tests := []struct {
		name string
		call Call
		want string
	}{
		{name: "subscribe new", call: Subscribe(fi),
			want: `{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"root","name":"hashfleet","failover_timeout":604800,"checkpoint":true}}}`},
		{name: "subscribe failover sets both ids", call: Subscribe(fiWithID, "r"),
			want: `{"framework_id":{"value":"fw"},"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"root","name":"hashfleet","id":{"value":"fw"},"failover_timeout":604800,"checkpoint":true},"suppressed_roles":["r"]}}`},
		{name: "teardown", call: Teardown(fw), want: `{"framework_id":{"value":"fw"},"type":"TEARDOWN"}`},
		{name: "decline long filter", call: Decline(fw, []OfferID{{Value: "o1"}}, time.Hour),
			want: `{"framework_id":{"value":"fw"},"type":"DECLINE","decline":{"offer_ids":[{"value":"o1"}],"filters":{"refuse_seconds":3600}}}`},
		{name: "decline zero filter is explicit", call: Decline(fw, []OfferID{{Value: "o1"}}, 0),
			want: `{"framework_id":{"value":"fw"},"type":"DECLINE","decline":{"offer_ids":[{"value":"o1"}],"filters":{"refuse_seconds":0}}}`},
		{name: "decline master default", call: Decline(fw, []OfferID{{Value: "o1"}}, -1),
			want: `{"framework_id":{"value":"fw"},"type":"DECLINE","decline":{"offer_ids":[{"value":"o1"}]}}`},
		{name: "launch no tasks", call: Launch(fw, []OfferID{{Value: "o1"}}, nil, 5*time.Second),
			want: `{"framework_id":{"value":"fw"},"type":"ACCEPT","accept":{"offer_ids":[{"value":"o1"}],"filters":{"refuse_seconds":5}}}`},
		{name: "launch one task", call: Launch(fw, []OfferID{{Value: "o1"}}, []TaskInfo{{Name: "n", TaskID: TaskID{Value: "t"}, AgentID: AgentID{Value: "a"},
			Resources: []Resource{ScalarResource(ResCPUs, 1), PortsResource(31001, 31000)}}}, -1),
			want: `{"framework_id":{"value":"fw"},"type":"ACCEPT","accept":{"offer_ids":[{"value":"o1"}],"operations":[{"type":"LAUNCH","launch":{"task_infos":[{"name":"n","task_id":{"value":"t"},"agent_id":{"value":"a"},"resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":1}},{"name":"ports","type":"RANGES","ranges":{"range":[{"begin":31000,"end":31001}]}}]}]}}]}}`},
		{name: "revive all", call: Revive(fw), want: `{"framework_id":{"value":"fw"},"type":"REVIVE","revive":{}}`},
		{name: "suppress role", call: Suppress(fw, "mining"), want: `{"framework_id":{"value":"fw"},"type":"SUPPRESS","suppress":{"roles":["mining"]}}`},
		{name: "kill without agent", call: Kill(fw, TaskID{Value: "t"}, AgentID{}, nil), want: `{"framework_id":{"value":"fw"},"type":"KILL","kill":{"task_id":{"value":"t"}}}`},
		{name: "kill with agent and policy", call: Kill(fw, TaskID{Value: "t"}, AgentID{Value: "a"}, &KillPolicy{GracePeriod: NewDurationInfo(time.Second)}),
			want: `{"framework_id":{"value":"fw"},"type":"KILL","kill":{"task_id":{"value":"t"},"agent_id":{"value":"a"},"kill_policy":{"grace_period":{"nanoseconds":1000000000}}}}`},
		{name: "implicit reconcile keeps the body", call: Reconcile(fw), want: `{"framework_id":{"value":"fw"},"type":"RECONCILE","reconcile":{}}`},
		{name: "explicit reconcile", call: Reconcile(fw, ReconcileTask{TaskID: TaskID{Value: "t"}, AgentID: &AgentID{Value: "a"}}),
			want: `{"framework_id":{"value":"fw"},"type":"RECONCILE","reconcile":{"tasks":[{"task_id":{"value":"t"},"agent_id":{"value":"a"}}]}}`},
		{name: "shutdown", call: Shutdown(fw, ExecutorID{Value: "e"}, AgentID{Value: "a"}),
			want: `{"framework_id":{"value":"fw"},"type":"SHUTDOWN","shutdown":{"executor_id":{"value":"e"},"agent_id":{"value":"a"}}}`},
		{name: "message", call: Message(fw, AgentID{Value: "a"}, ExecutorID{Value: "e"}, []byte("hi")),
			want: `{"framework_id":{"value":"fw"},"type":"MESSAGE","message":{"agent_id":{"value":"a"},"executor_id":{"value":"e"},"data":"aGk="}}`},
		{name: "request", call: RequestResources(fw, Request{Resources: []Resource{ScalarResource(ResMem, 128)}}),
			want: `{"framework_id":{"value":"fw"},"type":"REQUEST","request":{"requests":[{"resources":[{"name":"mem","type":"SCALAR","scalar":{"value":128}}]}]}}`},
		{name: "update framework forces id", call: UpdateFramework(fw, fi),
			want: `{"framework_id":{"value":"fw"},"type":"UPDATE_FRAMEWORK","update_framework":{"framework_info":{"user":"root","name":"hashfleet","id":{"value":"fw"},"failover_timeout":604800,"checkpoint":true}}}`},
		{name: "accept inverse offers", call: AcceptInverseOffers(fw, []OfferID{{Value: "i"}}),
			want: `{"framework_id":{"value":"fw"},"type":"ACCEPT_INVERSE_OFFERS","accept_inverse_offers":{"inverse_offer_ids":[{"value":"i"}]}}`},
		{name: "decline inverse offers", call: DeclineInverseOffers(fw, []OfferID{{Value: "i"}}, 0),
			want: `{"framework_id":{"value":"fw"},"type":"DECLINE_INVERSE_OFFERS","decline_inverse_offers":{"inverse_offer_ids":[{"value":"i"}],"filters":{"refuse_seconds":0}}}`},
		{name: "reconcile operations", call: ReconcileOperations(fw, ReconcileOperation{OperationID: OperationID{Value: "op"}}),
			want: `{"framework_id":{"value":"fw"},"type":"RECONCILE_OPERATIONS","reconcile_operations":{"operations":[{"operation_id":{"value":"op"}}]}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(tc.call)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tc.want {
				t.Fatalf("\n got %s\nwant %s", b, tc.want)
			}
		})
	}
	if ackNoUUIDOK {
		t.Fatalf("Acknowledge without uuid: got %+v, want refusal", ackNoUUID)
	}
	if _, ok := AcknowledgeOperationStatus(fw, OperationStatus{State: "OPERATION_FINISHED"}); ok {
		t.Fatal("AcknowledgeOperationStatus without uuid: want refusal")
	}
	// Constructors must not alias caller slices.
	ids := []OfferID{{Value: "o"}}
	c := Decline(fw, ids, 0)
	ids[0].Value = "changed"
	if c.Decline.OfferIDs[0].Value != "o" {
		t.Fatal("Decline aliases its offer slice")
	}
}

func TestPickPorts(t *testing.T) {
	rr := func(rs ...ValueRange) []Resource { return []Resource{RangesResource(ResPorts, rs...)} }
	tests := []struct {
		name string
		res  []Resource
		n    int
		want []uint64
		ok   bool
	}{
		{name: "no ports", res: nil, n: 2},
		{name: "single port", res: rr(ValueRange{31000, 31000}), n: 2},
		{name: "two-port range (inclusive)", res: rr(ValueRange{31000, 31001}), n: 2, want: []uint64{31000, 31001}, ok: true},
		{name: "two single-port ranges", res: rr(ValueRange{31000, 31000}, ValueRange{31005, 31005}), n: 2, want: []uint64{31000, 31005}, ok: true},
		{name: "first range single", res: rr(ValueRange{1, 1}, ValueRange{10, 20}), n: 2, want: []uint64{1, 10}, ok: true},
		{name: "two resources", res: []Resource{RangesResource(ResPorts, ValueRange{5, 5}), RangesResource(ResPorts, ValueRange{7, 7})}, n: 2, want: []uint64{5, 7}, ok: true},
		{name: "inverted range ignored", res: rr(ValueRange{10, 5}, ValueRange{1, 1}), n: 2},
		{name: "overlap not double counted", res: rr(ValueRange{5, 5}, ValueRange{5, 5}), n: 2},
		{name: "max uint64 end", res: rr(ValueRange{1<<64 - 1, 1<<64 - 1}, ValueRange{3, 3}), n: 2, want: []uint64{1<<64 - 1, 3}, ok: true},
		{name: "zero wanted", res: nil, n: 0, ok: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := PickPorts(tc.res, tc.n)
			if ok != tc.ok || len(got) != len(tc.want) {
				t.Fatalf("got %v %v, want %v %v", got, ok, tc.want, tc.ok)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			}
		})
	}
	if got := PortsResource(3, 1, 2, 7); len(got.Ranges.Range) != 2 || got.Ranges.Range[0] != (ValueRange{1, 3}) {
		t.Fatalf("PortsResource merge: got %+v", got.Ranges.Range)
	}
}
