package master

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/hashfleet/hashfleet/internal/mesos"
)

// FuzzCall feeds arbitrary request bodies through the HTTP layer's parsing
// and validation and, when they pass, into a core with one subscribed
// framework and one agent: nothing may panic, a parsed call encodes to a
// body that parses to the same call, and the core's invariants (offers
// within agent totals) must hold afterwards.
func FuzzCall(f *testing.F) {
	for _, s := range []string{
		`{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"n"}}}`,
		`{"type":"ACCEPT","framework_id":{"value":"m-0000"},"accept":{"offer_ids":[{"value":"m-O0"}],"operations":[{"type":"LAUNCH","launch":{"task_infos":[{"name":"t","task_id":{"value":"t"},"agent_id":{"value":"m-S0"},"resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":1}}],"command":{"value":"true"}}]}}]}}`,
		`{"type":"ACCEPT","framework_id":{"value":"m-0000"},"accept":{"offer_ids":[{"value":"m-O0"}],"operations":[{"type":"LAUNCH"},{"type":"LAUNCH_GROUP"},{"type":"RESERVE"}]}}`,
		`{"type":"DECLINE","framework_id":{"value":"m-0000"},"decline":{"offer_ids":[{"value":"m-O0"}],"filters":{"refuse_seconds":-1e308}}}`,
		`{"type":"RECONCILE","framework_id":{"value":"m-0000"},"reconcile":{"tasks":[{"task_id":{"value":"x"}}]}}`,
		`{"type":"KILL","framework_id":{"value":"m-0000"},"kill":{"task_id":{"value":"t"},"kill_policy":{"grace_period":{"nanoseconds":-5}}}}`,
		`{"type":"UPDATE_FRAMEWORK","framework_id":{"value":"m-0000"},"update_framework":{"framework_info":{"user":"u","name":"n","id":{"value":"m-0000"},"roles":["a"]}}}`,
		`{"type":"ACKNOWLEDGE","framework_id":{"value":"m-0000"},"acknowledge":{"agent_id":{"value":"m-S0"},"task_id":{"value":"t"},"uuid":"AAAAAAAAAAAAAAAAAAAAAA=="}}`,
		`{"type":"TEARDOWN","framework_id":{"value":"m-0000"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		call, err := parseCall(body)
		if err != nil {
			return
		}
		// Round trip: the parsed call, encoded again, parses to the same
		// call.
		enc, err := json.Marshal(call)
		if err != nil {
			t.Fatalf("encode the parsed call: %v", err)
		}
		again, err := parseCall(enc)
		if err != nil {
			t.Fatalf("parse of the re-encoded call %s: %v", enc, err)
		}
		if enc2, _ := json.Marshal(again); !bytes.Equal(enc, enc2) {
			t.Fatalf("round trip changed the call: %s then %s", enc, enc2)
		}
		if validateCall(call) != nil {
			return
		}
		now := time.Unix(1_700_000_000, 0)
		c := newCore(mesos.MasterInfo{ID: "m"}, time.Second, now)
		c.addAgent(now, "h", resources{"cpus": {typ: mesos.ScalarType, milli: 2000}})
		sub := mesos.Subscribe(mesos.FrameworkInfo{User: "u", Name: "n"})
		c.subscribe(now, 1, "", &sub)
		if call.Type == mesos.CallSubscribe {
			c.subscribe(now, 2, "", call)
		} else {
			c.call(now, call, c.frameworks["m-0000"].streamID, true)
		}
		c.tick(now.Add(time.Hour))
		c.take()
		for _, a := range c.agents {
			used := resources{}
			for _, o := range a.offers {
				used = used.add(o.res)
			}
			for _, tk := range a.tasks {
				if !tk.recovered {
					used = used.add(tk.res)
				}
			}
			if !a.total.contains(used) {
				t.Fatalf("agent %s: offers and tasks %v exceed total %v", a.id, used, a.total)
			}
		}
	})
}
