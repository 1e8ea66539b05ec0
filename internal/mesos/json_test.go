package mesos

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func readEvent(t *testing.T, name string) Event {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var e Event
	if err := DecodeEvent(b, &e); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return e
}

// The testdata events were captured from a real Apache Mesos master (see
// testdata/README.md).
func TestDecodeGoldenEvents(t *testing.T) {
	const cluster = "5425b404-8a21-4815-ac20-7362516f8069"
	sub := readEvent(t, "subscribed.json")
	if got, want := sub.Subscribed.FrameworkID.Value, cluster+"-0000"; got != want {
		t.Errorf("framework id: got %q, want %q", got, want)
	}
	if got := sub.Subscribed.HeartbeatInterval().Seconds(); got != 15 {
		t.Errorf("heartbeat: got %v, want 15", got)
	}
	if got := sub.Subscribed.MasterInfo.Address.Port; got != 27300 {
		t.Errorf("master port: got %d, want 27300", got)
	}

	off := readEvent(t, "offers.json")
	o := off.Offers.Offers[0]
	if got := SumScalar(o.Resources, ResCPUs); got != 4 {
		t.Errorf("cpus: got %v, want 4", got)
	}
	if got := SumScalar(o.Resources, ResMem); got != 2048 {
		t.Errorf("mem: got %v, want 2048", got)
	}
	rs := AllRanges(o.Resources, ResPorts)
	if len(rs) != 1 || rs[0].Begin != 27310 || rs[0].End != 27319 {
		t.Errorf("ports: got %+v", rs)
	}
	if got := o.Resources[0].AllocationRole(); got != "*" {
		t.Errorf("role: got %q, want *", got)
	}
	if o.AgentID.Value != cluster+"-S0" || o.Hostname != "127.0.0.1" {
		t.Errorf("agent: got %q at %q", o.AgentID.Value, o.Hostname)
	}

	up := readEvent(t, "update.json")
	st := up.Update.Status
	if st.State != TaskStarting || st.Source != SourceExecutor || len(st.UUID) != 16 || st.Timestamp == 0 {
		t.Errorf("update: state %s from %s, uuid %d bytes, timestamp %v; want TASK_STARTING from the executor, 16, set",
			st.State, st.Source, len(st.UUID), st.Timestamp)
	}
	ack, ok := Acknowledge(FrameworkID{Value: "f"}, st)
	if !ok {
		t.Fatal("Acknowledge refused an update with a uuid")
	}
	b, _ := json.Marshal(ack)
	want := `{"framework_id":{"value":"f"},"type":"ACKNOWLEDGE","acknowledge":{"agent_id":{"value":"` + cluster +
		`-S0"},"task_id":{"value":"diff-server-1"},"uuid":"KqStiNI0Q3qKc4kzLrr87g=="}}`
	if string(b) != want {
		t.Errorf("ack JSON:\n got %s\nwant %s", b, want)
	}
	if ip := st.ContainerStatus.NetworkInfos[0].IPAddresses[0].IPAddress; ip != "127.0.0.1" {
		t.Errorf("container ip: got %q", ip)
	}

	if e := readEvent(t, "rescind.json"); e.Rescind.OfferID.Value != cluster+"-O3" {
		t.Errorf("rescind: got offer %q", e.Rescind.OfferID.Value)
	}
	if e := readEvent(t, "failure.json"); e.Failure.AgentID == nil || e.Failure.AgentID.Value != cluster+"-S0" || e.Failure.ExecutorID != nil {
		t.Errorf("failure: got %+v, want agent S0 only", e.Failure)
	}
	if e := readEvent(t, "error.json"); e.Error.Message != "Framework has been removed" {
		t.Errorf("error: got %q", e.Error.Message)
	}
}

// TestGoldenState reads the real master's /state: the framework's tasks
// and their states decode with this package's types.
func TestGoldenState(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Version             string `json:"version"`
		CompletedFrameworks []struct {
			ID             string `json:"id"`
			CompletedTasks []struct {
				ID    string    `json:"id"`
				State TaskState `json:"state"`
			} `json:"completed_tasks"`
		} `json:"completed_frameworks"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	if st.Version != "1.12.0" || len(st.CompletedFrameworks) != 1 {
		t.Fatalf("state: version %q, %d completed frameworks", st.Version, len(st.CompletedFrameworks))
	}
	states := map[string]TaskState{}
	for _, tk := range st.CompletedFrameworks[0].CompletedTasks {
		states[tk.ID] = tk.State
	}
	if states["diff-server-1"] != TaskKilled {
		t.Errorf("diff-server-1: got %q, want TASK_KILLED (tasks %v)", states["diff-server-1"], states)
	}
}

func TestDecodeEventErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{name: "not json", in: `{`},
		{name: "no type", in: `{}`},
		{name: "subscribed without body", in: `{"type":"SUBSCRIBED"}`},
		{name: "subscribed without id", in: `{"type":"SUBSCRIBED","subscribed":{}}`},
		{name: "update without status", in: `{"type":"UPDATE","update":{}}`},
		{name: "error without body", in: `{"type":"ERROR"}`},
		{name: "bad uuid base64", in: `{"type":"UPDATE","update":{"status":{"task_id":{"value":"a"},"state":"TASK_RUNNING","uuid":"***"}}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var e Event
			if err := DecodeEvent([]byte(tc.in), &e); err == nil {
				t.Fatalf("got nil error, event %+v", e)
			}
		})
	}
	var e Event
	if err := DecodeEvent([]byte(`{"type":"SOMETHING_NEW","unknown":1}`), &e); err != nil {
		t.Fatalf("unknown event type: got %v, want nil", err)
	}
	if err := DecodeEvent([]byte(`{"type":"HEARTBEAT","subscribed":null}`), &e); err != nil {
		t.Fatalf("null sub-message: got %v, want nil", err)
	}
}

func FuzzDecodeEvent(f *testing.F) {
	for _, name := range []string{"subscribed.json", "offers.json", "update.json", "rescind.json", "failure.json", "error.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"type":"HEARTBEAT"}`))
	f.Add([]byte(`{"type":"ERROR","error":{"message":"Framework failed over"}}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		var e Event
		if err := DecodeEvent(in, &e); err != nil {
			return
		}
		// A valid event re-encodes and decodes to an equally valid event.
		b, err := json.Marshal(&e)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		var e2 Event
		if err := DecodeEvent(b, &e2); err != nil {
			t.Fatalf("re-decode %s: %v", b, err)
		}
		if e2.Type != e.Type {
			t.Fatalf("type changed: %s -> %s", e.Type, e2.Type)
		}
		// Round trip: the re-decoded event encodes to the same bytes, so
		// it is the same event (up to an empty list read as absent, which
		// the encoding omits either way).
		if b2, _ := json.Marshal(&e2); !bytes.Equal(b, b2) {
			t.Fatalf("round trip changed the event: %s then %s", b, b2)
		}
	})
}
