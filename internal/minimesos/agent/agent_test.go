package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashfleet/hashfleet/internal/mesos"
	"github.com/hashfleet/hashfleet/internal/parts/partstest"
	"github.com/hashfleet/hashfleet/internal/porttest"
)

const waitTimeout = 20 * time.Second

// update is one StatusUpdate received by fakeMaster.
type update struct {
	fw     string
	st     mesos.TaskStatus
	latest mesos.TaskState
}

// fakeMaster records status updates; with autoAck it acknowledges each
// one as a well-behaved scheduler would.
type fakeMaster struct {
	a       *Agent
	autoAck bool
	ups     chan update
}

func (m *fakeMaster) StatusUpdate(_ context.Context, fw mesos.FrameworkID, st mesos.TaskStatus, latest mesos.TaskState) error {
	m.ups <- update{fw: fw.Value, st: st, latest: latest}
	if m.autoAck {
		m.a.Acknowledge(fw, st.TaskID, st.UUID)
	}
	return nil
}

// next returns the next update for task, skipping others.
func (m *fakeMaster) next(t *testing.T, task string) update {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		select {
		case u := <-m.ups:
			if u.st.TaskID.Value == task {
				return u
			}
		case <-deadline:
			t.Fatalf("timed out waiting for an update of %s", task)
		}
	}
}

// expect reads updates of task until one has state want, checking that
// only allowed states came before it.
func (m *fakeMaster) expect(t *testing.T, task string, want mesos.TaskState) update {
	t.Helper()
	for {
		u := m.next(t, task)
		if u.st.State == want {
			return u
		}
		switch u.st.State {
		case mesos.TaskStarting, mesos.TaskRunning, mesos.TaskKilling:
		default:
			t.Fatalf("task %s: got %s (%s), want %s", task, u.st.State, u.st.Message, want)
		}
	}
}

var testFW = mesos.FrameworkInfo{User: "u", Name: "test", ID: &mesos.FrameworkID{Value: "fw-1"}}

type testAgent struct {
	*Agent
	m      *fakeMaster
	cancel context.CancelFunc
	done   chan error
}

func startAgent(t *testing.T, autoAck bool, edit func(*Config)) *testAgent {
	t.Helper()
	res, err := ParseResources("cpus:4;mem:1024")
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	if os.Getenv("HASHFLEET_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	cfg := Config{Resources: res, WorkDir: t.TempDir(), Logger: log,
		StatusRetry: 100 * time.Millisecond, StatusRetryMax: 400 * time.Millisecond}
	if edit != nil {
		edit(&cfg)
	}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	m := &fakeMaster{a: a, autoAck: autoAck, ups: make(chan update, 1000)}
	ctx, cancel := context.WithCancel(context.Background())
	ta := &testAgent{Agent: a, m: m, cancel: cancel, done: make(chan error, 1)}
	go func() { ta.done <- a.Run(ctx, mesos.AgentID{Value: "agent-1"}, m) }()
	t.Cleanup(func() { ta.stop(t) })
	return ta
}

func (ta *testAgent) stop(t *testing.T) {
	ta.cancel()
	select {
	case err := <-ta.done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
		ta.done <- nil // later stops return at once
	case <-time.After(waitTimeout):
		t.Errorf("Run did not return after cancel")
	}
}

func shTask(id, script string) mesos.TaskInfo {
	return mesos.TaskInfo{Name: id, TaskID: mesos.TaskID{Value: id}, AgentID: mesos.AgentID{Value: "agent-1"},
		Resources: []mesos.Resource{mesos.ScalarResource("cpus", 0.1)},
		Command:   &mesos.CommandInfo{Value: &script}}
}

// TestCommandTasks runs real commands: exit codes, shell and argv forms,
// environment and sandbox.
func TestCommandTasks(t *testing.T) {
	f := false
	tests := []struct {
		name    string
		task    func(id string) mesos.TaskInfo
		state   mesos.TaskState
		message string
		stdout  string
	}{
		{name: "exit 0", task: func(id string) mesos.TaskInfo { return shTask(id, "echo hello") },
			state: mesos.TaskFinished, message: "Command exited with status 0", stdout: "hello\n"},
		{name: "exit 3", task: func(id string) mesos.TaskInfo { return shTask(id, "echo oops >&2; exit 3") },
			state: mesos.TaskFailed, message: "Command exited with status 3; stderr: oops"},
		{name: "killed by signal", task: func(id string) mesos.TaskInfo { return shTask(id, "kill -9 $$") },
			state: mesos.TaskFailed, message: "Command terminated with signal Killed"},
		{name: "argv form", task: func(id string) mesos.TaskInfo {
			ti := shTask(id, "")
			sh := "/bin/sh"
			ti.Command = &mesos.CommandInfo{Shell: &f, Value: &sh, Arguments: []string{"sh", "-c", "echo $0 $1", "x", "y"}}
			return ti
		}, state: mesos.TaskFinished, stdout: "x y\n"},
		{name: "environment", task: func(id string) mesos.TaskInfo {
			ti := shTask(id, `echo "$FOO $MESOS_TASK_ID $SECRET"; test "$PWD" = "$MESOS_SANDBOX"`)
			bar := "bar"
			ti.Command.Environment = &mesos.Environment{Variables: []mesos.EnvVariable{{Name: "FOO", Value: &bar},
				{Name: "SECRET", Type: mesos.EnvSecret, Secret: &mesos.Secret{Type: "VALUE", Value: &mesos.SecretValue{Data: []byte("s3")}}}}}
			return ti
		}, state: mesos.TaskFinished, stdout: "bar environment s3\n"},
		{name: "missing executable", task: func(id string) mesos.TaskInfo {
			ti := shTask(id, "")
			nope := "/nonexistent/binary"
			ti.Command = &mesos.CommandInfo{Shell: &f, Value: &nope}
			return ti
		}, state: mesos.TaskFailed},
	}
	a := startAgent(t, true, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := strings.ReplaceAll(tt.name, " ", "-")
			a.LaunchTask(testFW, tt.task(id))
			u := a.m.expect(t, id, tt.state)
			if tt.message != "" && u.st.Message != tt.message {
				t.Errorf("message: got %q, want %q", u.st.Message, tt.message)
			}
			if len(u.st.UUID) != 16 || u.st.Source == "" || u.st.AgentID == nil || u.st.AgentID.Value != "agent-1" ||
				u.st.ExecutorID == nil || u.st.ExecutorID.Value != id {
				t.Errorf("status fields: got %+v", u.st)
			}
			if tt.stdout != "" {
				dir := findSandbox(t, a.Agent, id)
				b, _ := os.ReadFile(filepath.Join(dir, "stdout"))
				if string(b) != tt.stdout {
					t.Errorf("stdout: got %q, want %q", b, tt.stdout)
				}
			}
		})
	}
}

// findSandbox returns the single run directory of a task.
func findSandbox(t *testing.T, a *Agent, task string) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(a.cfg.WorkDir, "slaves", "*", "frameworks", "*", "executors", task, "runs", "*"))
	if len(m) != 1 {
		t.Fatalf("sandboxes of %s: %v", task, m)
	}
	return m[0]
}

// TestStatusSequence: STARTING, RUNNING then the terminal state, in order,
// each sent only after the previous one was acknowledged, with retries.
func TestStatusSequence(t *testing.T) {
	a := startAgent(t, false, nil)
	a.LaunchTask(testFW, shTask("seq", "exit 0"))
	var got []mesos.TaskState
	var last update
	for len(got) < 3 {
		u := a.m.next(t, "seq")
		if len(got) > 0 && string(u.st.UUID) == string(last.st.UUID) {
			continue // a retry of the head
		}
		got = append(got, u.st.State)
		// Not acknowledged yet: the same update is resent, and nothing newer.
		r := a.m.next(t, "seq")
		if string(r.st.UUID) != string(u.st.UUID) {
			t.Fatalf("after %s: got %s, want a retry of the unacknowledged head", u.st.State, r.st.State)
		}
		a.Acknowledge(*testFW.ID, u.st.TaskID, u.st.UUID)
		last = u
	}
	want := []mesos.TaskState{mesos.TaskStarting, mesos.TaskRunning, mesos.TaskFinished}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("states: got %v, want %v", got, want)
	}
	// Acknowledged terminal update: no more retries. The barrier is a
	// second task whose STARTING is left unacknowledged. The agent handles
	// commands in order (the launch after the ack) and retries every due
	// update in one pass; once that STARTING has been retried three times
	// (100+200+400 ms of backoff, past StatusRetryMax), a retry of the
	// FINISHED would have been sent before it. Only a retry already due
	// before the ack was handled may come before the barrier's first update.
	a.LaunchTask(testFW, shTask("seq-barrier", "exec sleep 60"))
	var barrier []byte
	deadline := time.After(waitTimeout)
	for retries := 0; retries < 3; {
		var u update
		select {
		case u = <-a.m.ups:
		case <-deadline:
			t.Fatalf("timed out waiting for retries of the barrier task (got %d)", retries)
		}
		switch u.st.TaskID.Value {
		case "seq":
			if barrier != nil || string(u.st.UUID) != string(last.st.UUID) {
				t.Errorf("after the final ack: got %s of seq (a retry after the ack, or a new update)", u.st.State)
			}
		case "seq-barrier":
			switch {
			case barrier == nil:
				barrier = u.st.UUID
			case string(u.st.UUID) == string(barrier):
				retries++
			default:
				t.Fatalf("barrier task: got a new update (%s) while its head is unacknowledged", u.st.State)
			}
		}
	}
}

// TestLatestStateAndResume: while the head is unacknowledged, the master
// learns the newest state through latest; UpdateFramework resends at once.
func TestLatestStateAndResume(t *testing.T) {
	a := startAgent(t, false, func(c *Config) { c.StatusRetry, c.StatusRetryMax = time.Hour, time.Hour })
	a.LaunchTask(testFW, shTask("lat", "exit 0"))
	u := a.m.next(t, "lat")
	if u.st.State != mesos.TaskStarting {
		t.Fatalf("first: got %s", u.st.State)
	}
	// The task finishes meanwhile; nothing new is sent (head unacked, retry
	// in 1 h), but each resend on re-subscription carries the latest state:
	// resend until it says FINISHED.
	var r update
	for deadline := time.Now().Add(waitTimeout); ; {
		a.UpdateFramework(testFW) // the framework re-subscribed
		r = a.m.next(t, "lat")
		if r.st.State != mesos.TaskStarting || string(r.st.UUID) != string(u.st.UUID) {
			t.Fatalf("resend: got %s, want the STARTING head again", r.st.State)
		}
		if r.latest == mesos.TaskFinished {
			break
		}
		if r.latest != mesos.TaskStarting && r.latest != mesos.TaskRunning {
			t.Fatalf("latest: got %s, want STARTING, RUNNING then TASK_FINISHED", r.latest)
		}
		if time.Now().After(deadline) {
			t.Fatalf("latest: still %s after %v, want TASK_FINISHED", r.latest, waitTimeout)
		}
		time.Sleep(10 * time.Millisecond) // poll
	}
	// A mismatched ack is ignored; the right one moves the stream on.
	a.Acknowledge(*testFW.ID, r.st.TaskID, make([]byte, 16))
	a.Acknowledge(*testFW.ID, r.st.TaskID, r.st.UUID)
	if n := a.m.next(t, "lat"); n.st.State != mesos.TaskRunning {
		t.Errorf("after ack: got %s, want TASK_RUNNING", n.st.State)
	}
}

// alive reports whether pid exists and is not a zombie waiting for its
// (new) parent to reap it.
func alive(pid int) bool {
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		if i := strings.LastIndexByte(string(b), ')'); i > 0 && i+2 < len(b) && b[i+2] == 'Z' {
			return false
		}
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

func readPID(t *testing.T, file string) int {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile(file)
		if s := strings.TrimSpace(string(b)); err == nil && strings.HasSuffix(string(b), "\n") && s != "" {
			pid, err := strconv.Atoi(s)
			if err != nil {
				t.Fatal(err)
			}
			return pid
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no pid in %s", file)
	return 0
}

func waitDead(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d still alive", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestKill: KILL → TASK_KILLING (with the capability) then TASK_KILLED;
// a task ignoring SIGTERM is SIGKILLed after the grace period; the whole
// process group dies.
func TestKill(t *testing.T) {
	killingFW := testFW
	killingFW.Capabilities = []mesos.FrameworkCapability{{Type: mesos.CapTaskKillingState}}
	tests := []struct {
		name    string
		fw      mesos.FrameworkInfo
		script  string
		policy  *mesos.KillPolicy
		killing bool
		message string
	}{
		{name: "sigterm", fw: testFW, script: "sleep 1000 & echo $! > child.pid; wait", message: "Command terminated with signal Terminated"},
		{name: "killing state", fw: killingFW, script: "sleep 1000 & echo $! > child.pid; wait", killing: true},
		{name: "ignores sigterm", fw: testFW, script: `trap "" TERM; sleep 1000 & echo $! > child.pid; while :; do sleep 0.05; done`,
			policy: &mesos.KillPolicy{GracePeriod: mesos.NewDurationInfo(200 * time.Millisecond)}, message: "Command terminated with signal Killed"},
	}
	a := startAgent(t, true, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := strings.ReplaceAll(tt.name, " ", "-")
			ti := shTask(id, tt.script)
			ti.KillPolicy = tt.policy
			a.LaunchTask(tt.fw, ti)
			a.m.expect(t, id, mesos.TaskRunning)
			child := readPID(t, filepath.Join(findSandbox(t, a.Agent, id), "child.pid"))
			a.KillTask(*tt.fw.ID, ti.TaskID, nil)
			if tt.killing {
				if u := a.m.next(t, id); u.st.State != mesos.TaskKilling {
					t.Errorf("first after kill: got %s, want TASK_KILLING", u.st.State)
				}
			}
			u := a.m.expect(t, id, mesos.TaskKilled)
			if tt.message != "" && u.st.Message != tt.message {
				t.Errorf("message: got %q, want %q", u.st.Message, tt.message)
			}
			waitDead(t, child)
		})
	}
	// Killing an unknown task answers TASK_LOST.
	a.KillTask(*testFW.ID, mesos.TaskID{Value: "ghost"}, nil)
	if u := a.m.next(t, "ghost"); u.st.State != mesos.TaskLost {
		t.Errorf("kill of unknown task: got %s", u.st.State)
	}
}

// TestOrphansReaped: background children of a finished task are killed,
// and the agent's shutdown leaves no task process behind.
func TestOrphansReaped(t *testing.T) {
	a := startAgent(t, true, nil)
	a.LaunchTask(testFW, shTask("bg", "sleep 1000 & echo $! > child.pid; exit 0"))
	a.m.expect(t, "bg", mesos.TaskFinished)
	waitDead(t, readPID(t, filepath.Join(findSandbox(t, a.Agent, "bg"), "child.pid")))

	a.LaunchTask(testFW, shTask("long", "sleep 1000 & echo $! > child.pid; echo $$ > main.pid; wait"))
	a.m.expect(t, "long", mesos.TaskRunning)
	dir := findSandbox(t, a.Agent, "long")
	child, main := readPID(t, filepath.Join(dir, "child.pid")), readPID(t, filepath.Join(dir, "main.pid"))
	a.stop(t)
	for _, pid := range []int{child, main} {
		if alive(pid) {
			t.Errorf("process %d survived the agent", pid)
		}
	}
}

// TestFetch: URIs are fetched into the sandbox (executable bit honoured)
// before launch; a failing fetch fails the launch; a kill during the fetch
// gives TASK_KILLED with REASON_TASK_KILLED_DURING_LAUNCH.
func TestFetch(t *testing.T) {
	block := make(chan struct{})
	slowHit := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/bin/tool":
			fmt.Fprint(w, "#!/bin/sh\necho tool ran \"$@\"\n")
		case "/slow":
			select {
			case slowHit <- struct{}{}:
			default:
			}
			select {
			case <-block:
			case <-r.Context().Done():
			}
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	defer close(block)
	yes := true
	a := startAgent(t, true, nil)

	ti := shTask("fetch-ok", "./tool a b")
	ti.Command.URIs = []mesos.CommandURI{{Value: srv.URL + "/bin/tool", Executable: &yes}}
	a.LaunchTask(testFW, ti)
	a.m.expect(t, "fetch-ok", mesos.TaskFinished)
	if b, _ := os.ReadFile(filepath.Join(findSandbox(t, a.Agent, "fetch-ok"), "stdout")); string(b) != "tool ran a b\n" {
		t.Errorf("stdout: got %q", b)
	}

	ti = shTask("fetch-404", "true")
	ti.Command.URIs = []mesos.CommandURI{{Value: srv.URL + "/missing?token=secret"}}
	a.LaunchTask(testFW, ti)
	u := a.m.next(t, "fetch-404")
	if u.st.State != mesos.TaskFailed || u.st.Reason != mesos.ReasonContainerLaunchFailed || u.st.Source != mesos.SourceAgent {
		t.Errorf("fetch failure: got %+v", u.st)
	}
	if strings.Contains(u.st.Message, "secret") {
		t.Errorf("message leaks the URL query: %q", u.st.Message)
	}

	ti = shTask("fetch-kill", "true")
	ti.Command.URIs = []mesos.CommandURI{{Value: srv.URL + "/slow"}}
	a.LaunchTask(testFW, ti)
	select { // the fetch is under way
	case <-slowHit:
	case <-time.After(waitTimeout):
		t.Fatal("the agent never fetched /slow")
	}
	a.KillTask(*testFW.ID, ti.TaskID, nil)
	u = a.m.next(t, "fetch-kill")
	if u.st.State != mesos.TaskKilled || u.st.Reason != mesos.ReasonTaskKilledDuringLaunch {
		t.Errorf("kill during fetch: got %+v", u.st)
	}
}

// TestTCPHealthCheck: healthy once the port accepts, unhealthy when it
// stops, and killed after consecutive_failures with the sequence of
// Mesos's command executor (src/launcher/executor.cpp taskHealthUpdated
// and reaped): each failure is a TASK_RUNNING healthy=false update (the
// last one too, before the kill), then TASK_KILLING for a framework with
// TASK_KILLING_STATE, then TASK_KILLED healthy=false with no reason.
func TestTCPHealthCheck(t *testing.T) {
	ln, err := net.Listen("tcp", porttest.Addr(t))
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	port := uint32(ln.Addr().(*net.TCPAddr).Port) // reserved: nothing else takes it once closed below
	f0, f1 := 0.0, 0.05
	n := uint32(2)
	a := startAgent(t, true, nil)
	ti := shTask("hc", "sleep 1000")
	ti.HealthCheck = &mesos.HealthCheck{Type: mesos.HealthTCP, TCP: &mesos.TCPCheckInfo{Port: port},
		DelaySeconds: &f0, IntervalSeconds: &f1, GracePeriodSeconds: &f0, ConsecutiveFailures: &n, TimeoutSeconds: &f1}
	fw := testFW
	fw.Capabilities = []mesos.FrameworkCapability{{Type: mesos.CapTaskKillingState}}
	a.LaunchTask(fw, ti)
	a.m.expect(t, "hc", mesos.TaskRunning)
	u := a.m.next(t, "hc")
	if u.st.State != mesos.TaskRunning || u.st.Healthy == nil || !*u.st.Healthy || u.st.Reason != mesos.ReasonTaskHealthCheckUpdated {
		t.Fatalf("health update: got %+v", u.st)
	}
	ln.Close()
	for i := range n {
		u = a.m.next(t, "hc")
		if u.st.State != mesos.TaskRunning || u.st.Healthy == nil || *u.st.Healthy || u.st.Reason != mesos.ReasonTaskHealthCheckUpdated {
			t.Fatalf("failure %d: got %s healthy=%v reason=%s, want TASK_RUNNING healthy=false", i+1, u.st.State, u.st.Healthy, u.st.Reason)
		}
	}
	if u = a.m.next(t, "hc"); u.st.State != mesos.TaskKilling {
		t.Fatalf("after the last failure: got %s, want TASK_KILLING", u.st.State)
	}
	u = a.m.next(t, "hc")
	if u.st.State != mesos.TaskKilled || u.st.Healthy == nil || *u.st.Healthy || u.st.Reason != "" {
		t.Errorf("terminal update: got %s healthy=%v reason=%q, want TASK_KILLED healthy=false, no reason", u.st.State, u.st.Healthy, u.st.Reason)
	}
}

func TestParseResources(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{in: "cpus:2;mem:4096;ports:[31000-32000]", want: "cpus=2 mem=4096 ports=[{31000 32000}]"},
		{in: "cpus:0.5", want: "cpus=0.5 ports=[{31000 32000}]"},
		{in: "cpus(*):1; disk:100; ports:[1-2,5-9]; gpus:{a,b}", want: "cpus=1 disk=100 ports=[{1 2} {5 9}] gpus={a,b}"},
		{in: "cpus", wantErr: true},
		{in: "cpus:-1", wantErr: true},
		{in: "ports:[5-1]", wantErr: true},
		{in: "cpus:1;cpus:2", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			rs, err := ParseResources(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err: got %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			var parts []string
			for _, r := range rs {
				switch r.Type {
				case mesos.ScalarType:
					parts = append(parts, fmt.Sprintf("%s=%v", r.Name, r.Scalar.Value))
				case mesos.RangesType:
					parts = append(parts, fmt.Sprintf("%s=%v", r.Name, r.Ranges.Range))
				case mesos.SetType:
					parts = append(parts, fmt.Sprintf("%s={%s}", r.Name, strings.Join(r.Set.Item, ",")))
				}
			}
			if got := strings.Join(parts, " "); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestMaxCompletionTime: a task still running at max_completion_time is
// killed and reported TASK_FAILED with REASON_MAX_COMPLETION_TIME_REACHED.
func TestMaxCompletionTime(t *testing.T) {
	a := startAgent(t, true, nil)
	ti := shTask("slowpoke", "exec sleep 1000")
	ti.MaxCompletionTime = mesos.NewDurationInfo(200 * time.Millisecond)
	a.LaunchTask(testFW, ti)
	u := a.m.expect(t, "slowpoke", mesos.TaskFailed)
	if u.st.Reason != mesos.ReasonMaxCompletionTimeReached {
		t.Errorf("reason: got %q, want %q", u.st.Reason, mesos.ReasonMaxCompletionTimeReached)
	}
}

// TestFailedTaskCarriesStderrTail: a failed task's status message carries
// the last lines of its stderr (bounded, secrets redacted), so the cause is
// visible without reading the sandbox.
func TestFailedTaskCarriesStderrTail(t *testing.T) {
	a := startAgent(t, true, nil)

	t.Run("last lines, bounded", func(t *testing.T) {
		a.LaunchTask(testFW, shTask("noisy", `seq 0 499 | sed 's/.*/line & xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx/' >&2; echo "fatal: the cause" >&2; exit 1`))
		u := a.m.expect(t, "noisy", mesos.TaskFailed)
		if !strings.HasPrefix(u.st.Message, "Command exited with status 1; stderr: ") || !strings.HasSuffix(u.st.Message, "fatal: the cause") {
			t.Errorf("message: got %q, want the exit status then stderr ending with the last line", u.st.Message)
		}
		if strings.Contains(u.st.Message, "line 0 ") || len(u.st.Message) > stderrTailBytes+100 {
			t.Errorf("message of %d bytes holds early output or is unbounded: %q", len(u.st.Message), u.st.Message)
		}
	})

	t.Run("secrets redacted", func(t *testing.T) {
		ti := shTask("leaky", `echo "connecting with $HASHFLEET_RPC_PASSWORD and $TOKEN_X" >&2; exit 2`)
		pw := "hunter2-very-secret"
		ti.Command.Environment = &mesos.Environment{Variables: []mesos.EnvVariable{{Name: "HASHFLEET_RPC_PASSWORD", Value: &pw},
			{Name: "TOKEN_X", Type: mesos.EnvSecret, Secret: &mesos.Secret{Type: "VALUE", Value: &mesos.SecretValue{Data: []byte("tok-123456")}}}}}
		a.LaunchTask(testFW, ti)
		u := a.m.expect(t, "leaky", mesos.TaskFailed)
		if strings.Contains(u.st.Message, pw) || strings.Contains(u.st.Message, "tok-123456") || !strings.Contains(u.st.Message, "connecting with [redacted] and [redacted]") {
			t.Errorf("message: got %q, want the stderr line with both secrets redacted", u.st.Message)
		}
	})

	t.Run("busy port", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		// A real process binding the busy port: this test binary (TestMain).
		ti := shTask("bind", fmt.Sprintf("AGENTTEST_LISTEN=%s exec %q", ln.Addr(), os.Args[0]))
		a.LaunchTask(testFW, ti)
		u := a.m.expect(t, "bind", mesos.TaskFailed)
		if !strings.Contains(u.st.Message, "address already in use") {
			t.Errorf("message: got %q, want the bind error from stderr", u.st.Message)
		}
	})
}

// TestMain doubles as a task that binds a port, as a server task does:
// with AGENTTEST_LISTEN set it listens there and exits 1 with the error on
// stderr if it cannot.
func TestMain(m *testing.M) {
	if addr := os.Getenv("AGENTTEST_LISTEN"); addr != "" {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			fmt.Fprintln(os.Stderr, "listen:", err)
			os.Exit(1)
		}
		ln.Close()
		os.Exit(0)
	}
	partstest.Main(m) // prints which integration parts were missing (docs/testing.md)
}

// TestCleanTaskEnvironment: a command task sees what Mesos's command
// executor gives it (seen on a real agent: MESOS_* variables, PATH set to
// Mesos's default, the agent's --executor_environment_variables, the
// task's own environment), never the agent's own environment.
func TestCleanTaskEnvironment(t *testing.T) {
	t.Setenv("AGENT_ONLY_SECRET", "leaked")
	a := startAgent(t, true, func(c *Config) { c.ExecutorEnv = map[string]string{"EXTRA": "y"} })
	script := `test -z "$AGENT_ONLY_SECRET" && test -z "$HOME" && test "$PATH" = "` + defaultTaskPath + `" &&
		test "$EXTRA" = y && test "$MINE" = z && test -n "$MESOS_SANDBOX" && test "$MESOS_FRAMEWORK_ID" = fw-1`
	ti := shTask("env", script)
	mine := "z"
	ti.Command.Environment = &mesos.Environment{Variables: []mesos.EnvVariable{{Name: "MINE", Value: &mine}}}
	a.LaunchTask(testFW, ti)
	if u := a.m.expect(t, "env", mesos.TaskFinished); u.st.State != mesos.TaskFinished {
		t.Fatalf("got %+v", u.st)
	}
}

// TestSwitchUser: with SwitchUser (Mesos's --switch_user, its default) a
// task runs as CommandInfo.user or else FrameworkInfo.user, in a sandbox
// it owns; a user the machine lacks drops the task with the cause, as a
// real agent does ("Failed to chown directory to 'U': No such user 'U'",
// TASK_DROPPED, REASON_EXECUTOR_TERMINATED).
func TestSwitchUser(t *testing.T) {
	a := startAgent(t, true, func(c *Config) {
		c.SwitchUser = true
		// The task's user must be able to reach its sandbox, as under
		// a real agent's work dir (t.TempDir is private to root).
		for _, d := range []string{filepath.Dir(c.WorkDir), c.WorkDir} {
			if err := os.Chmod(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	})
	fw := testFW
	fw.User = "no-such-user-h20"
	a.LaunchTask(fw, shTask("ghost", "true"))
	u := a.m.next(t, "ghost")
	want := "Failed to chown directory to 'no-such-user-h20': No such user 'no-such-user-h20'"
	if u.st.State != mesos.TaskDropped || u.st.Reason != mesos.ReasonExecutorTerminated || u.st.Message != want {
		t.Fatalf("missing user: got %s %s %q, want TASK_DROPPED %s %q", u.st.State, u.st.Reason, u.st.Message, mesos.ReasonExecutorTerminated, want)
	}
	if os.Geteuid() != 0 {
		t.Skip("running a task as another user needs root (CI runs as root)")
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("no user nobody: %v", err)
	}
	ti := shTask("asnobody", `test "$(id -u)" = `+nobody.Uid+` && touch "$MESOS_SANDBOX/mine"`)
	n := "nobody"
	ti.Command.User = n
	a.LaunchTask(testFW, ti) // testFW.User "u" is overridden by CommandInfo.user
	if u := a.m.expect(t, "asnobody", mesos.TaskFinished); u.st.State != mesos.TaskFinished {
		t.Fatalf("got %+v", u.st)
	}
}
