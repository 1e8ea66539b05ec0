package master

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// realMesosAnswers are calls posted to a real Apache Mesos master (the
// build in ../shared/mesos: 1.11.0 plus later commits, c1b42f79) and the
// status code and body it answered, byte for byte. Framework "x" does not
// exist, so a call that parses and validates ends in "Framework cannot be
// found"; a SUBSCRIBE that is accepted answers 200 (the stream is closed
// at once). Keys are case-sensitive, unknown keys are ignored, an unknown
// value of an optional enum is dropped (of a required one is an error), a
// required proto field is required at any depth, a single value where a
// list is expected is a list of one, and strings are accepted for numbers
// and booleans.
var realMesosAnswers = []struct {
	name, body string
	code       int
	want       string // exact body; "" for a 200 stream
}{
	{"upper-case key", `{"TYPE":"SUBSCRIBE","subscribe":{"framework_info":{"user":"root","name":"x"}}}`,
		400, "Failed to validate scheduler::Call: Expecting 'type' to be present"},
	{"lower-case enum value", `{"type":"subscribe","subscribe":{"framework_info":{"user":"root","name":"x"}}}`,
		400, "Failed to validate scheduler::Call: Expecting 'type' to be present"},
	{"unknown call type", `{"type":"FLY"}`,
		400, "Failed to validate scheduler::Call: Expecting 'type' to be present"},
	{"upper-case nested key", `{"type":"SUBSCRIBE","subscribe":{"framework_info":{"USER":"root","name":"x"}}}`,
		400, "Failed to convert JSON into Call protobuf: Missing required fields: subscribe.framework_info.user"},
	{"unknown nested key ignored", `{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"root","name":"x","bogus":1}}}`, 200, ""},
	{"unknown top-level key ignored", `{"type":"SUBSCRIBE","bogus":3,"subscribe":{"framework_info":{"user":"root","name":"x"}}}`, 200, ""},
	{"string for a double", `{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"root","name":"x","failover_timeout":"5"}}}`, 200, ""},
	{"unknown optional enum in a list, string for a bool",
		`{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"root","name":"x","capabilities":[{"type":"NOPE"}],"checkpoint":"true"}}}`, 200, ""},
	{"number for a string", `{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":5,"name":"x"}}}`,
		400, "Failed to convert JSON into Call protobuf: Not expecting a JSON number for field 'user'"},
	{"framework_info.id without framework_id", `{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"root","name":"x","id":{"value":"abc"}}}}`,
		400, "Failed to validate scheduler::Call: 'framework_id' differs from 'subscribe.framework_info.id'"},
	{"task without name, resource without type",
		`{"type":"ACCEPT","framework_id":{"value":"x"},"accept":{"offer_ids":[{"value":"o"}],"operations":[{"type":"LAUNCH","launch":{"task_infos":[{"task_id":{"value":"t"},"agent_id":{"value":"a"},"resources":[{"name":"cpus","scalar":{"value":1}}]}]}}]}}`,
		400, "Failed to convert JSON into Call protobuf: Missing required fields: accept.operations[0].launch.task_infos[0].name, accept.operations[0].launch.task_infos[0].resources[0].type"},
	{"unknown operation type dropped",
		`{"type":"ACCEPT","framework_id":{"value":"x"},"accept":{"offer_ids":[{"value":"o"}],"operations":[{"type":"BOGUS","launch":{"task_infos":[{"name":"n","task_id":{"value":"t"},"agent_id":{"value":"a"},"resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":1}}]}]}}]}}`,
		400, "Framework cannot be found"},
	{"object for a list", `{"type":"ACCEPT","framework_id":{"value":"x"},"accept":{"offer_ids":{"value":"o"}}}`,
		400, "Framework cannot be found"},
	{"unknown required enum",
		`{"type":"ACCEPT","framework_id":{"value":"x"},"accept":{"offer_ids":[{"value":"o"}],"operations":[{"type":"LAUNCH","launch":{"task_infos":[{"name":"n","task_id":{"value":"t"},"agent_id":{"value":"a"},"resources":[{"name":"cpus","type":"BOGUS","scalar":{"value":1}}]}]}}]}}`,
		400, "Failed to convert JSON into Call protobuf: Failed to find enum for 'BOGUS'"},
	{"Infinity as a string",
		`{"type":"ACCEPT","framework_id":{"value":"x"},"accept":{"offer_ids":[{"value":"o"}],"operations":[{"type":"LAUNCH","launch":{"task_infos":[{"name":"n","task_id":{"value":"t"},"agent_id":{"value":"a"},"resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":"Infinity"}}]}]}}]}}`,
		400, "Framework cannot be found"},
	{"HTTP health check without port",
		`{"type":"ACCEPT","framework_id":{"value":"x"},"accept":{"offer_ids":[{"value":"o"}],"operations":[{"type":"LAUNCH","launch":{"task_infos":[{"name":"n","task_id":{"value":"t"},"agent_id":{"value":"a"},"health_check":{"type":"HTTP","http":{}},"resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":1}}]}]}}]}}`,
		400, "Failed to convert JSON into Call protobuf: Missing required fields: accept.operations[0].launch.task_infos[0].health_check.http.port"},
	{"URI without value, variable without name",
		`{"type":"ACCEPT","framework_id":{"value":"x"},"accept":{"offer_ids":[{"value":"o"}],"operations":[{"type":"LAUNCH","launch":{"task_infos":[{"name":"n","task_id":{"value":"t"},"agent_id":{"value":"a"},"resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":1}}],"command":{"uris":[{}],"environment":{"variables":[{"value":"x"}]}}}]}}]}}`,
		400, "Failed to convert JSON into Call protobuf: Missing required fields: accept.operations[0].launch.task_infos[0].command.uris[0].value, accept.operations[0].launch.task_infos[0].command.environment.variables[0].name"},
	{"duration without nanoseconds", `{"type":"KILL","framework_id":{"value":"x"},"kill":{"task_id":{"value":"t"},"kill_policy":{"grace_period":{}}}}`,
		400, "Failed to convert JSON into Call protobuf: Missing required fields: kill.kill_policy.grace_period.nanoseconds"},
	{"number for an id", `{"type":"KILL","framework_id":{"value":"x"},"kill":{"task_id":{"value":7}}}`,
		400, "Failed to convert JSON into Call protobuf: Not expecting a JSON number for field 'value'"},
	{"bad base64", `{"type":"ACKNOWLEDGE","framework_id":{"value":"x"},"acknowledge":{"task_id":{"value":"t"},"agent_id":{"value":"a"},"uuid":"!!"}}`,
		400, "Failed to convert JSON into Call protobuf: Failed to base64 decode bytes field 'uuid': Invalid character '!'"},
	{"not an object", `[1]`, 400, "Failed to convert JSON into Call protobuf: Expecting a JSON object"},
	{"unknown key on a non-subscribe call", `{"type":"TEARDOWN","framework_id":{"value":"x"},"bogus":1}`, 400, "Framework cannot be found"},
	{"number for a list of strings", `{"type":"REVIVE","framework_id":{"value":"x"},"revive":{"roles":["a"]},"suppress":{"roles":5}}`,
		400, "Failed to convert JSON into Call protobuf: Not expecting a JSON number for field 'roles'"},
}

// TestWireLikeRealMesos posts each call real Mesos answered and requires
// the same status code and body.
func TestWireLikeRealMesos(t *testing.T) {
	c := startCluster(t, Config{})
	for _, tt := range realMesosAnswers {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, c.url+"/api/v1/scheduler", strings.NewReader(tt.body))
			req.Header.Set("Content-Type", jsonCT)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tt.code {
				var b []byte
				if resp.StatusCode != http.StatusOK { // a stream never ends
					b, _ = io.ReadAll(resp.Body)
				}
				t.Fatalf("got %d %q, want %d %q", resp.StatusCode, b, tt.code, tt.want)
			}
			if tt.code == http.StatusOK {
				return
			}
			b, _ := io.ReadAll(resp.Body)
			if string(b) != tt.want {
				t.Errorf("body:\n got %q\nwant %q", b, tt.want)
			}
		})
	}
}
