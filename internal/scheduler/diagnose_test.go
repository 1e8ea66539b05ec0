package scheduler

import (
	"strings"
	"testing"

	"github.com/hashfleet/hashfleet/internal/mesos"
)

func TestLaunchProblem(t *testing.T) {
	cfg := Config{User: "alice", BinaryURL: "http://sched:8090/bin/hashfleet"}
	task := &Task{ID: "hashfleet-server-1", Hostname: "agent-7"}
	tests := []struct {
		name  string
		st    mesos.TaskStatus
		wants []string // substrings; none = no problem
	}{
		{
			name: "missing user (real agent's message)",
			st: mesos.TaskStatus{State: mesos.TaskDropped, Reason: mesos.ReasonExecutorTerminated,
				Message: "Failed to create executor directory '/var/lib/mesos/slaves/…': Failed to chown directory to 'alice': No such user 'alice'"},
			wants: []string{`agent agent-7 has no user "alice"`, "--user", "TASK_DROPPED"},
		},
		{
			name:  "fetch failure",
			st:    mesos.TaskStatus{State: mesos.TaskFailed, Reason: mesos.ReasonFetcherFailed, Message: "Failed to fetch all URIs"},
			wants: []string{"could not fetch", "http://sched:8090/bin/hashfleet", "--advertise"},
		},
		{name: "a crash is the task's own", st: mesos.TaskStatus{State: mesos.TaskFailed, Reason: mesos.ReasonExecutorTerminated, Message: "Executor terminated"}},
		{name: "not terminal", st: mesos.TaskStatus{State: mesos.TaskRunning, Message: "No such user 'alice'"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := cfg.launchProblem(task, tc.st)
			if len(tc.wants) == 0 && got != "" {
				t.Fatalf("got %q, want no problem", got)
			}
			for _, w := range tc.wants {
				if !strings.Contains(got, w) {
					t.Errorf("got %q, want it to contain %q", got, w)
				}
			}
		})
	}
}
