package minimesos_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hashfleet/hashfleet/internal/mesos"
	"github.com/hashfleet/hashfleet/internal/minimesos"
)

// TestClusterEndToEnd runs a Cluster (master + 2 process agents on
// loopback) and drives it with the mesos package's HTTP
// client, as the scheduler does: subscribe, take offers, launch real
// commands, acknowledge their updates, kill one, read /state and /metrics.
func TestClusterEndToEnd(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c, err := minimesos.New(minimesos.Config{Agents: 2, Resources: "cpus:2;mem:1024;ports:[31000-31100]",
		Containerizer: "process", WorkDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Cluster.Run: %v", err)
		}
	}()
	<-c.Ready()
	if c.Master() == nil {
		t.Fatal("Master() is nil after Ready")
	}
	addr := ln.Addr().String()

	det, _ := mesos.NewStaticDetector(addr)
	cl, err := mesos.NewClient(mesos.ClientConfig{Detector: det})
	if err != nil {
		t.Fatal(err)
	}
	sub, err := cl.Subscribe(ctx, mesos.Subscribe(mesos.FrameworkInfo{User: "nobody", Name: "e2e", FailoverTimeout: 60,
		Capabilities: []mesos.FrameworkCapability{{Type: mesos.CapTaskKillingState}}}))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	fid := sub.Subscribed.FrameworkID
	events := make(chan mesos.Event, 100)
	go func() {
		for {
			var ev mesos.Event
			if err := sub.Next(&ev); err != nil {
				close(events)
				return
			}
			events <- ev
		}
	}()
	next := func(want mesos.EventType) mesos.Event {
		t.Helper()
		for {
			select {
			case ev, ok := <-events:
				if !ok {
					t.Fatalf("stream ended waiting for %s", want)
				}
				if ev.Type == want {
					return ev
				}
				if ev.Type != mesos.EventHeartbeat && ev.Type != mesos.EventOffers {
					t.Fatalf("got %s, want %s", ev.Type, want)
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("timed out waiting for %s", want)
			}
		}
	}
	offers := next(mesos.EventOffers).Offers.Offers
	if len(offers) != 2 {
		t.Fatalf("offers: got %d, want one per agent", len(offers))
	}
	shell := func(id, script string, agent mesos.AgentID) mesos.TaskInfo {
		return mesos.TaskInfo{Name: id, TaskID: mesos.TaskID{Value: id}, AgentID: agent,
			Resources: []mesos.Resource{mesos.ScalarResource("cpus", 0.5), mesos.ScalarResource("mem", 64)},
			Command:   &mesos.CommandInfo{Value: &script}}
	}
	o := offers[0]
	launch := mesos.Launch(fid, []mesos.OfferID{o.ID}, []mesos.TaskInfo{
		shell("quick", "echo hi", o.AgentID), shell("slow", "exec sleep 100", o.AgentID)}, 0)
	if err := cl.Call(ctx, launch); err != nil {
		t.Fatal(err)
	}
	seen := map[string][]mesos.TaskState{}
	killed := false
	for seen["quick"] == nil || !masterTestHas(seen["quick"], mesos.TaskFinished) || !masterTestHas(seen["slow"], mesos.TaskKilled) {
		st := next(mesos.EventUpdate).Update.Status
		seen[st.TaskID.Value] = append(seen[st.TaskID.Value], st.State)
		if ack, ok := mesos.Acknowledge(fid, st); ok {
			if err := cl.Call(ctx, ack); err != nil {
				t.Fatal(err)
			}
		}
		if st.TaskID.Value == "slow" && st.State == mesos.TaskRunning && !killed {
			killed = true
			if err := cl.Call(ctx, mesos.Kill(fid, st.TaskID, o.AgentID, nil)); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := map[string]string{
		"quick": "[TASK_STARTING TASK_RUNNING TASK_FINISHED]",
		"slow":  "[TASK_STARTING TASK_RUNNING TASK_KILLING TASK_KILLED]",
	}
	for task, w := range want {
		if got := masterTestStates(seen[task]); got != w {
			t.Errorf("%s states: got %s, want %s", task, got, w)
		}
	}

	// /state shows both tasks completed once their terminal updates are acked.
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/state")
		if err != nil {
			t.Fatal(err)
		}
		var doc mesos.MasterState // the shared type the dashboard reads
		err = json.NewDecoder(resp.Body).Decode(&doc)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range doc.Agents {
			if a.Resources["cpus"] != 2.0 || a.Resources["ports"] != "[31000-31100]" {
				t.Fatalf("/state agent %s resources: got %v, want cpus 2 and ports [31000-31100]", a.ID, a.Resources)
			}
		}
		if len(doc.Agents) == 2 && len(doc.Frameworks) == 1 && len(doc.Frameworks[0].Completed) == 2 && len(doc.Frameworks[0].Tasks) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/state: got %+v", doc)
		}
		time.Sleep(50 * time.Millisecond)
	}
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, m := range []string{"minimesos_master_calls_total", "minimesos_agent_tasks_terminal_total"} {
		if !strings.Contains(string(b), m) {
			t.Errorf("/metrics lacks %s", m)
		}
	}
}

func masterTestHas(states []mesos.TaskState, s mesos.TaskState) bool {
	for _, x := range states {
		if x == s {
			return true
		}
	}
	return false
}

func masterTestStates(ss []mesos.TaskState) string {
	var parts []string
	for _, s := range ss {
		parts = append(parts, string(s))
	}
	return "[" + strings.Join(parts, " ") + "]"
}
