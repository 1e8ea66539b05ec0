package master

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashfleet/hashfleet/internal/mesos"
)

// waitTimeout bounds every wait for an event in the HTTP tests; it is a
// deadlock guard, not a speed assertion.
const waitTimeout = 10 * time.Second

// testCluster is a master on loopback HTTP with fake agents.
type testCluster struct {
	t   *testing.T
	m   *Master
	url string
	// user and pass, when user is set, go as basic auth on every
	// scheduler API request (copy the cluster to act as another principal).
	user, pass string
	// client, when set, sends the requests (e.g. from another local address).
	client *http.Client
}

func startCluster(t *testing.T, cfg Config) *testCluster {
	t.Helper()
	if cfg.AllocationInterval == 0 {
		cfg.AllocationInterval = 50 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	m, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	srv := httptest.NewServer(m.Handler())
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		srv.Close()
	})
	return &testCluster{t: t, m: m, url: srv.URL}
}

// agentCmd is one command a fakeAgent received.
type agentCmd struct {
	kind   string // launch, kill, ack, shutdown, update
	fw     string
	task   mesos.TaskInfo
	taskID string
	policy *mesos.KillPolicy
	uuid   []byte
}

// fakeAgent is an in-memory Agent that records commands; tests answer
// with Master.StatusUpdate.
type fakeAgent struct {
	id   mesos.AgentID
	cmds chan agentCmd
}

func (a *fakeAgent) LaunchTask(fw mesos.FrameworkInfo, t mesos.TaskInfo) {
	a.cmds <- agentCmd{kind: "launch", fw: fw.ID.Value, task: t, taskID: t.TaskID.Value}
}
func (a *fakeAgent) KillTask(fw mesos.FrameworkID, t mesos.TaskID, p *mesos.KillPolicy) {
	a.cmds <- agentCmd{kind: "kill", fw: fw.Value, taskID: t.Value, policy: p}
}
func (a *fakeAgent) Acknowledge(fw mesos.FrameworkID, t mesos.TaskID, uuid []byte) {
	a.cmds <- agentCmd{kind: "ack", fw: fw.Value, taskID: t.Value, uuid: uuid}
}
func (a *fakeAgent) ShutdownFramework(fw mesos.FrameworkID) {
	a.cmds <- agentCmd{kind: "shutdown", fw: fw.Value}
}
func (a *fakeAgent) UpdateFramework(fw mesos.FrameworkInfo) {
	a.cmds <- agentCmd{kind: "update", fw: fw.ID.Value}
}

func (c *testCluster) addAgent(res string) *fakeAgent {
	c.t.Helper()
	a := &fakeAgent{cmds: make(chan agentCmd, 100)}
	id, err := c.m.RegisterAgent(context.Background(), "agent.test", mustRes(c.t, res), a)
	if err != nil {
		c.t.Fatalf("RegisterAgent: %v", err)
	}
	a.id = id
	return a
}

func (a *fakeAgent) next(t *testing.T, kind string) agentCmd {
	t.Helper()
	select {
	case c := <-a.cmds:
		if c.kind != kind {
			t.Fatalf("agent command: got %s (%+v), want %s", c.kind, c, kind)
		}
		return c
	case <-time.After(waitTimeout):
		t.Fatalf("agent command: timed out waiting for %s", kind)
	}
	return agentCmd{}
}

func (a *fakeAgent) none(t *testing.T) {
	t.Helper()
	select {
	case c := <-a.cmds:
		t.Fatalf("agent command: got %+v, want none", c)
	default:
	}
}

// mustRes parses "cpus:2;mem:1024;ports:[31000-31010]".
func mustRes(t *testing.T, s string) []mesos.Resource {
	t.Helper()
	var out []mesos.Resource
	for part := range strings.SplitSeq(s, ";") {
		name, val, _ := strings.Cut(part, ":")
		if strings.HasPrefix(val, "[") {
			var rs []mesos.ValueRange
			for r := range strings.SplitSeq(strings.Trim(val, "[]"), ",") {
				var b, e uint64
				if _, err := fmt.Sscanf(strings.TrimSpace(r), "%d-%d", &b, &e); err != nil {
					t.Fatalf("range %q: %v", r, err)
				}
				rs = append(rs, mesos.ValueRange{Begin: b, End: e})
			}
			out = append(out, mesos.RangesResource(name, rs...))
			continue
		}
		var f float64
		if err := json.Unmarshal([]byte(val), &f); err != nil {
			t.Fatalf("scalar %q: %v", val, err)
		}
		out = append(out, mesos.ScalarResource(name, f))
	}
	return out
}

// sub is one subscription stream read by a goroutine.
type sub struct {
	c        *testCluster
	t        *testing.T
	fwID     mesos.FrameworkID
	streamID string
	resp     *http.Response
	events   chan mesos.Event
	closed   chan struct{} // closed when the stream ends
	info     mesos.FrameworkInfo
}

func fwInfo(name string, caps ...mesos.FrameworkCapabilityType) mesos.FrameworkInfo {
	fi := mesos.FrameworkInfo{User: "nobody", Name: name, FailoverTimeout: 60}
	for _, c := range caps {
		fi.Capabilities = append(fi.Capabilities, mesos.FrameworkCapability{Type: c})
	}
	return fi
}

// subscribeRaw opens a SUBSCRIBE stream and returns it without reading.
func (c *testCluster) subscribeRaw(fi mesos.FrameworkInfo) *sub {
	c.t.Helper()
	body, _ := json.Marshal(mesos.Subscribe(fi))
	req, _ := http.NewRequest(http.MethodPost, c.url+"/api/v1/scheduler", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if c.user != "" {
		req.SetBasicAuth(c.user, c.pass)
	}
	client := http.DefaultClient
	if c.client != nil {
		client = c.client
	}
	resp, err := client.Do(req)
	if err != nil {
		c.t.Fatalf("subscribe: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		c.t.Fatalf("subscribe: got %d %s, want 200", resp.StatusCode, b)
	}
	s := &sub{c: c, t: c.t, streamID: resp.Header.Get("Mesos-Stream-Id"), resp: resp,
		events: make(chan mesos.Event, 1000), closed: make(chan struct{}), info: fi}
	go func() {
		defer close(s.closed)
		dec := mesos.NewDecoder(resp.Body, 0)
		for {
			var ev mesos.Event
			if err := dec.Decode(&ev); err != nil {
				return
			}
			s.events <- ev
		}
	}()
	c.t.Cleanup(func() { resp.Body.Close() })
	return s
}

// subscribe subscribes and consumes SUBSCRIBED and the first HEARTBEAT.
func (c *testCluster) subscribe(fi mesos.FrameworkInfo) *sub {
	c.t.Helper()
	s := c.subscribeRaw(fi)
	ev := s.next(mesos.EventSubscribed)
	s.fwID = ev.Subscribed.FrameworkID
	s.info.ID = &s.fwID
	s.next(mesos.EventHeartbeat)
	return s
}

// next returns the next event, skipping HEARTBEATs unless want is HEARTBEAT.
func (s *sub) next(want mesos.EventType) mesos.Event {
	s.t.Helper()
	return s.nextSkipping(want)
}

// nextSkipping is next that also skips events of the skip types (for a
// framework whose offers arrive concurrently and are not under test).
func (s *sub) nextSkipping(want mesos.EventType, skip ...mesos.EventType) mesos.Event {
	s.t.Helper()
	deadline := time.After(waitTimeout)
	for {
		select {
		case ev := <-s.events:
			if ev.Type == mesos.EventHeartbeat && want != mesos.EventHeartbeat || slices.Contains(skip, ev.Type) && ev.Type != want {
				continue
			}
			if ev.Type != want {
				b, _ := json.Marshal(ev)
				s.t.Fatalf("event: got %s, want %s", b, want)
			}
			return ev
		case <-deadline:
			s.t.Fatalf("event: timed out waiting for %s", want)
		}
	}
}

// quiet asserts that no event other than HEARTBEAT (and ignore) arrives within d.
func (s *sub) quiet(d time.Duration, ignore ...mesos.EventType) {
	s.t.Helper()
	deadline := time.After(d)
	for {
		select {
		case ev := <-s.events:
			if ev.Type != mesos.EventHeartbeat && !slices.Contains(ignore, ev.Type) {
				b, _ := json.Marshal(ev)
				s.t.Fatalf("event: got %s, want none", b)
			}
		case <-deadline:
			return
		}
	}
}

// waitClosed waits for the stream to end.
func (s *sub) waitClosed() {
	s.t.Helper()
	select {
	case <-s.closed:
	case <-time.After(waitTimeout):
		s.t.Fatalf("stream not closed")
	}
}

// update returns the next UPDATE's status.
func (s *sub) update() mesos.TaskStatus {
	s.t.Helper()
	return s.next(mesos.EventUpdate).Update.Status
}

// offers returns the next OFFERS event's offers.
func (s *sub) offers() []mesos.Offer {
	s.t.Helper()
	return s.next(mesos.EventOffers).Offers.Offers
}

// post sends a raw request; headers with an empty value are omitted.
func (c *testCluster) post(body string, headers map[string]string) (int, string) {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.url+"/api/v1/scheduler", strings.NewReader(body))
	if c.user != "" {
		req.SetBasicAuth(c.user, c.pass)
	}
	for k, v := range headers {
		req.Header[k] = []string{v}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("post: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// call sends a call on this subscription's stream id.
func (s *sub) call(c mesos.Call) (int, string) {
	s.t.Helper()
	b, _ := json.Marshal(c)
	return s.c.post(string(b), map[string]string{"Content-Type": "application/json", "Mesos-Stream-Id": s.streamID})
}

// mustCall sends a call and requires the given status.
func (s *sub) mustCall(c mesos.Call, want int) {
	s.t.Helper()
	if code, body := s.call(c); code != want {
		s.t.Fatalf("%s: got %d %q, want %d", c.Type, code, body, want)
	}
}

func cmdTask(id string, agent mesos.AgentID, res string, t *testing.T) mesos.TaskInfo {
	v := "true"
	return mesos.TaskInfo{Name: id, TaskID: mesos.TaskID{Value: id}, AgentID: agent, Resources: mustRes(t, res),
		Command: &mesos.CommandInfo{Value: &v}}
}

func offerIDs(os []mesos.Offer) []mesos.OfferID {
	var ids []mesos.OfferID
	for _, o := range os {
		ids = append(ids, o.ID)
	}
	return ids
}

// agentUpdate sends a reliable update as an agent would.
func (c *testCluster) agentUpdate(a *fakeAgent, fw mesos.FrameworkID, task string, state mesos.TaskState, uuid byte) mesos.TaskStatus {
	c.t.Helper()
	u := bytes.Repeat([]byte{uuid}, 16)
	st := mesos.TaskStatus{TaskID: mesos.TaskID{Value: task}, State: state, Source: mesos.SourceExecutor,
		AgentID: &a.id, UUID: u}
	if err := c.m.StatusUpdate(context.Background(), fw, st, state); err != nil {
		c.t.Fatalf("StatusUpdate: %v", err)
	}
	return st
}

// state fetches /state.
func (c *testCluster) state() map[string]any {
	c.t.Helper()
	resp, err := http.Get(c.url + "/state")
	if err != nil {
		c.t.Fatalf("state: %v", err)
	}
	defer resp.Body.Close()
	var doc map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		c.t.Fatalf("state: %v", err)
	}
	return doc
}
