package master

import (
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/hashfleet/hashfleet/internal/mesos"
)

const jsonCT = "application/json"

// TestBadRequests covers §1.5: every malformed or misplaced call gets the
// status code (and message) real Mesos gives, and the master keeps serving.
func TestBadRequests(t *testing.T) {
	c := startCluster(t, Config{})
	s := c.subscribe(fwInfo("good"))
	fid := s.fwID.Value

	// A second framework that disconnects: its calls get 403.
	gone := c.subscribe(fwInfo("gone"))
	gone.resp.Body.Close()
	waitForState(t, c, func(doc map[string]any) bool {
		for _, f := range doc["frameworks"].([]any) {
			fm := f.(map[string]any)
			if fm["id"] == gone.fwID.Value && fm["connected"] == false {
				return true
			}
		}
		return false
	})

	subscribe := `{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"n"}}}`
	teardown := func(id string) string { return `{"type":"TEARDOWN","framework_id":{"value":"` + id + `"}}` }
	big := `{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"` + strings.Repeat("x", 17<<20) + `"}}}`
	tests := []struct {
		name     string
		method   string
		body     string
		headers  map[string]string
		wantCode int
		wantBody string // regexp
	}{
		{name: "GET", method: http.MethodGet, wantCode: 405, wantBody: "Expecting one of { 'POST' }"},
		{name: "no content type", body: subscribe, headers: map[string]string{}, wantCode: 400, wantBody: "Expecting 'Content-Type' to be present"},
		{name: "json with charset", body: subscribe, headers: map[string]string{"Content-Type": "application/json; charset=utf-8"}, wantCode: 415},
		{name: "text/plain", body: subscribe, headers: map[string]string{"Content-Type": "text/plain"}, wantCode: 415},
		{name: "protobuf", body: "\x08\x01", headers: map[string]string{"Content-Type": "application/x-protobuf"}, wantCode: 415},
		{name: "not json", body: `{"type":`, wantCode: 400, wantBody: "Failed to parse body into JSON"},
		{name: "truncated json", body: subscribe[:40], wantCode: 400, wantBody: "Failed to parse body into JSON"},
		{name: "json array", body: `[1]`, wantCode: 400, wantBody: "Failed to convert JSON into Call protobuf"},
		{name: "wrong field type", body: `{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":7,"name":"n"}}}`, wantCode: 400, wantBody: "Failed to convert JSON"},
		{name: "missing type", body: `{"subscribe":{"framework_info":{"user":"u","name":"n"}}}`, wantCode: 400, wantBody: "Expecting 'type' to be present"},
		{name: "missing type and required field", body: `{"subscribe":{}}`, wantCode: 400, wantBody: "^Failed to convert JSON into Call protobuf: Missing required fields: subscribe.framework_info$"},
		{name: "unknown type", body: `{"type":"FLY"}`, wantCode: 400, wantBody: "^Failed to validate scheduler::Call: Expecting 'type' to be present$"},
		{name: "subscribe without body", body: `{"type":"SUBSCRIBE"}`, wantCode: 400, wantBody: "Expecting 'subscribe' to be present"},
		{name: "subscribe without user", body: `{"type":"SUBSCRIBE","subscribe":{"framework_info":{"name":"n"}}}`, wantCode: 400, wantBody: "framework_info.user"},
		{name: "subscribe id mismatch", body: `{"type":"SUBSCRIBE","framework_id":{"value":"a"},"subscribe":{"framework_info":{"user":"u","name":"n","id":{"value":"b"}}}}`, wantCode: 400, wantBody: "'framework_id' differs from 'subscribe.framework_info.id'"},
		{name: "subscribe with stream id", body: subscribe, headers: map[string]string{"Content-Type": jsonCT, "Mesos-Stream-Id": "x"}, wantCode: 400, wantBody: "should not include the 'Mesos-Stream-Id' header"},
		{name: "subscribe accept xml", body: subscribe, headers: map[string]string{"Content-Type": jsonCT, "Accept": "application/xml"}, wantCode: 406},
		{name: "no framework id", body: `{"type":"TEARDOWN"}`, wantCode: 400, wantBody: "Expecting 'framework_id' to be present"},
		{name: "unknown framework", body: teardown("nope"), headers: map[string]string{"Content-Type": jsonCT, "Mesos-Stream-Id": s.streamID}, wantCode: 400, wantBody: "^Framework cannot be found$"},
		{name: "disconnected framework", body: teardown(gone.fwID.Value), headers: map[string]string{"Content-Type": jsonCT, "Mesos-Stream-Id": gone.streamID}, wantCode: 403, wantBody: "^Framework is not subscribed$"},
		{name: "missing stream id", body: teardown(fid), wantCode: 400, wantBody: "should include the 'Mesos-Stream-Id' header"},
		{name: "wrong stream id", body: teardown(fid), headers: map[string]string{"Content-Type": jsonCT, "Mesos-Stream-Id": "0000"}, wantCode: 400, wantBody: "didn't match the stream ID"},
		{name: "accept without body", body: `{"type":"ACCEPT","framework_id":{"value":"` + fid + `"}}`, wantCode: 400, wantBody: "Expecting 'accept' to be present"},
		{name: "reconcile without body", body: `{"type":"RECONCILE","framework_id":{"value":"` + fid + `"}}`, wantCode: 400, wantBody: "Expecting 'reconcile' to be present"},
		{name: "ack short uuid", body: `{"type":"ACKNOWLEDGE","framework_id":{"value":"` + fid + `"},"acknowledge":{"agent_id":{"value":"a"},"task_id":{"value":"t"},"uuid":"AAEC"}}`, wantCode: 400, wantBody: "^Failed to validate scheduler::Call: Not a valid UUID$"},
		{name: "ack bad base64", body: `{"type":"ACKNOWLEDGE","framework_id":{"value":"` + fid + `"},"acknowledge":{"agent_id":{"value":"a"},"task_id":{"value":"t"},"uuid":"!!"}}`, wantCode: 400, wantBody: "Failed to convert JSON"},
		{name: "unknown call type", body: `{"type":"UNKNOWN","framework_id":{"value":"` + fid + `"}}`, headers: map[string]string{"Content-Type": jsonCT, "Mesos-Stream-Id": s.streamID}, wantCode: 501},
		{name: "oversized body", body: big, wantCode: 413},
		{name: "unknown keys and nulls ignored", body: `{"type":"REVIVE","framework_id":{"value":"` + fid + `"},"revive":null,"bogus":{"x":1}}`, headers: map[string]string{"Content-Type": jsonCT, "Mesos-Stream-Id": s.streamID}, wantCode: 202},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = http.MethodPost
			}
			headers := tt.headers
			if headers == nil {
				headers = map[string]string{"Content-Type": jsonCT}
			}
			req, _ := http.NewRequest(method, c.url+"/api/v1/scheduler", strings.NewReader(tt.body))
			for k, v := range headers {
				req.Header[k] = []string{v}
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantCode {
				t.Fatalf("got %d %q, want %d", resp.StatusCode, b, tt.wantCode)
			}
			if tt.wantBody != "" && !regexp.MustCompile(tt.wantBody).Match(b) {
				t.Errorf("body: got %q, want match %q", b, tt.wantBody)
			}
		})
	}
	// The good framework is still served after all of that.
	s.mustCall(mesos.Reconcile(s.fwID), http.StatusAccepted)
	if code, _ := c.post(teardown(fid), map[string]string{"Content-Type": jsonCT, "Mesos-Stream-Id": s.streamID}); code != 202 {
		t.Errorf("teardown after bad input: got %d, want 202", code)
	}
}

// TestSubscribe checks §2.17 item 2: the response headers, SUBSCRIBED with
// a 15 s heartbeat and master_info, then an immediate HEARTBEAT.
func TestSubscribe(t *testing.T) {
	c := startCluster(t, Config{Addr: "127.0.0.1:5050"})
	s := c.subscribeRaw(fwInfo("fw"))
	if got := s.resp.Header.Get("Content-Type"); got != jsonCT {
		t.Errorf("Content-Type: got %q, want %q", got, jsonCT)
	}
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(s.streamID) {
		t.Errorf("Mesos-Stream-Id: got %q, want a UUID", s.streamID)
	}
	ev := s.next(mesos.EventSubscribed)
	sb := ev.Subscribed
	if want := c.m.Info().ID + "-0000"; sb.FrameworkID.Value != want {
		t.Errorf("framework id: got %q, want %q", sb.FrameworkID.Value, want)
	}
	if sb.HeartbeatIntervalSeconds != 15 {
		t.Errorf("heartbeat_interval_seconds: got %v, want 15", sb.HeartbeatIntervalSeconds)
	}
	mi := sb.MasterInfo
	if mi == nil || mi.IP != 16777343 || mi.Port != 5050 || mi.Version != "1.11.0" || mi.PID != "master@127.0.0.1:5050" {
		t.Errorf("master_info: got %+v", mi)
	}
	// The very next event is a HEARTBEAT.
	if ev := <-s.events; ev.Type != mesos.EventHeartbeat {
		t.Errorf("second event: got %s, want HEARTBEAT", ev.Type)
	}
	// A second new framework gets the next id.
	s2 := c.subscribe(fwInfo("fw2"))
	if want := c.m.Info().ID + "-0001"; s2.fwID.Value != want {
		t.Errorf("second framework id: got %q, want %q", s2.fwID.Value, want)
	}
}

// TestSubscribeRefused: FrameworkInfo validation failures are a 200 stream
// with one ERROR event, then the stream closes.
func TestSubscribeRefused(t *testing.T) {
	tests := []struct {
		name string
		fi   mesos.FrameworkInfo
		want string
	}{
		{name: "roles without MULTI_ROLE", fi: mesos.FrameworkInfo{User: "u", Name: "n", Roles: []string{"a"}}, want: "MULTI_ROLE"},
		{name: "invalid role", fi: mesos.FrameworkInfo{User: "u", Name: "n", Role: "a b"}, want: "cannot contain whitespace"},
		{name: "dot role", fi: mesos.FrameworkInfo{User: "u", Name: "n", Role: ".."}, want: "cannot be '.' or '..'"},
		{name: "negative failover timeout", fi: mesos.FrameworkInfo{User: "u", Name: "n", FailoverTimeout: -1}, want: "failover_timeout"},
	}
	c := startCluster(t, Config{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := c.subscribeRaw(tt.fi)
			ev := s.next(mesos.EventError)
			if !strings.Contains(ev.Error.Message, tt.want) {
				t.Errorf("error: got %q, want it to contain %q", ev.Error.Message, tt.want)
			}
			s.waitClosed()
		})
	}
}

// TestFailover covers re-subscription: the old stream gets ERROR "Framework
// failed over" and closes, its stream id is refused, offers are
// regenerated, and the agent is told to resume updates.
func TestFailover(t *testing.T) {
	c := startCluster(t, Config{})
	a := c.addAgent("cpus:2;mem:1024")
	s1 := c.subscribe(fwInfo("fw"))
	o1 := s1.offers()
	s1.mustCall(mesos.Launch(s1.fwID, offerIDs(o1), []mesos.TaskInfo{cmdTask("t1", a.id, "cpus:1;mem:128", t)}, 0), 202)
	a.next(t, "launch")
	s1.next(mesos.EventOffers) // the rest, re-offered (filter 0)

	s2 := c.subscribe(s1.info)
	if s2.fwID != s1.fwID {
		t.Fatalf("framework id after failover: got %v, want %v", s2.fwID, s1.fwID)
	}
	ev := s1.next(mesos.EventError)
	if ev.Error.Message != "Framework failed over" {
		t.Errorf("old stream error: got %q", ev.Error.Message)
	}
	s1.waitClosed()
	if code, body := s1.call(mesos.Reconcile(s1.fwID)); code != 400 || !strings.Contains(body, "didn't match") {
		t.Errorf("call with the old stream id: got %d %q, want 400", code, body)
	}
	if cmd := a.next(t, "update"); cmd.fw != s1.fwID.Value {
		t.Errorf("agent update: got framework %q", cmd.fw)
	}
	// Offers are regenerated for the new connection.
	os := s2.offers()
	if got := mesos.SumScalar(os[0].Resources, "cpus"); got != 1 {
		t.Errorf("re-offered cpus: got %v, want 1 (one cpu in use)", got)
	}
	if os[0].ID == o1[0].ID {
		t.Errorf("offer id reused: %v", os[0].ID)
	}
}

// TestTeardown: the framework's tasks are shut down on the agent, its
// stream closes, and its id is refused afterwards.
func TestTeardown(t *testing.T) {
	c := startCluster(t, Config{})
	a := c.addAgent("cpus:2;mem:1024")
	s := c.subscribe(fwInfo("fw"))
	os := s.offers()
	s.mustCall(mesos.Launch(s.fwID, offerIDs(os), []mesos.TaskInfo{cmdTask("t1", a.id, "cpus:1;mem:128", t)}, 0), 202)
	a.next(t, "launch")
	s.mustCall(mesos.Teardown(s.fwID), 202)
	if cmd := a.next(t, "shutdown"); cmd.fw != s.fwID.Value {
		t.Errorf("shutdown framework: got %q", cmd.fw)
	}
	s.waitClosed()
	again := c.subscribeRaw(s.info)
	if ev := again.next(mesos.EventError); ev.Error.Message != "Framework has been removed" {
		t.Errorf("re-subscribe after teardown: got %q", ev.Error.Message)
	}
	again.waitClosed()
	// Its resources are offered to another framework in full.
	s2 := c.subscribe(fwInfo("other"))
	if got := mesos.SumScalar(s2.offers()[0].Resources, "cpus"); got != 2 {
		t.Errorf("cpus offered after teardown: got %v, want 2", got)
	}
	doc := c.state()
	if n := len(doc["completed_frameworks"].([]any)); n != 1 {
		t.Errorf("completed_frameworks: got %d, want 1", n)
	}
}

func waitForState(t *testing.T, c *testCluster, ok func(map[string]any) bool) {
	t.Helper()
	for range 500 {
		if ok(c.state()) {
			return
		}
		sleep()
	}
	b, _ := json.Marshal(c.state())
	t.Fatalf("state never matched: %s", b)
}
