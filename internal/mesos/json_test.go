package mesos

import (
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

func TestDecodeGoldenEvents(t *testing.T) {
	sub := readEvent(t, "subscribed.json")
	if got, want := sub.Subscribed.FrameworkID.Value, "7c5f2b5e-1d7c-4c54-9b3e-2f0e8f4a1d22-0000"; got != want {
		t.Errorf("framework id: got %q, want %q", got, want)
	}
	if got := sub.Subscribed.HeartbeatInterval().Seconds(); got != 15 {
		t.Errorf("heartbeat: got %v, want 15", got)
	}
	if got := sub.Subscribed.MasterInfo.Address.Port; got != 5050 {
		t.Errorf("master port: got %d, want 5050", got)
	}

	off := readEvent(t, "offers.json")
	o := off.Offers.Offers[0]
	if got := SumScalar(o.Resources, ResCPUs); got != 4 {
		t.Errorf("cpus: got %v, want 4", got)
	}
	if got := SumScalar(o.Resources, ResMem); got != 7168 {
		t.Errorf("mem: got %v, want 7168", got)
	}
	rs := AllRanges(o.Resources, ResPorts)
	if len(rs) != 2 || rs[1].Begin != 31010 || rs[1].End != 32000 {
		t.Errorf("ports: got %+v", rs)
	}
	if got := o.Resources[0].AllocationRole(); got != "mining" {
		t.Errorf("role: got %q, want mining", got)
	}
	if got := o.Attributes[0].Text.Value; got != "r1" {
		t.Errorf("attribute: got %q, want r1", got)
	}

	up := readEvent(t, "update.json")
	st := up.Update.Status
	if st.State != TaskRunning || len(st.UUID) != 16 {
		t.Errorf("update: state %s, uuid %d bytes; want TASK_RUNNING, 16", st.State, len(st.UUID))
	}
	ack, ok := Acknowledge(FrameworkID{Value: "f"}, st)
	if !ok {
		t.Fatal("Acknowledge refused an update with a uuid")
	}
	b, _ := json.Marshal(ack)
	want := `{"framework_id":{"value":"f"},"type":"ACKNOWLEDGE","acknowledge":{"agent_id":{"value":"7c5f2b5e-1d7c-4c54-9b3e-2f0e8f4a1d22-S0"},"task_id":{"value":"miner-server.2f6d1c9a-4b0e-4a57-8c1d-0e9f3a7b5c21"},"uuid":"mgZD2tdASXKtSED3mAzhmw=="}}`
	if string(b) != want {
		t.Errorf("ack JSON:\n got %s\nwant %s", b, want)
	}
	if ip := st.ContainerStatus.NetworkInfos[0].IPAddresses[0].IPAddress; ip != "172.17.0.3" {
		t.Errorf("container ip: got %q", ip)
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
	for _, name := range []string{"subscribed.json", "offers.json", "update.json"} {
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
	})
}
