package scheduler

import (
	"fmt"
	"strings"

	"github.com/hashfleet/hashfleet/internal/mesos"
)

// launchProblem explains a terminal update whose cause is the scheduler's
// configuration rather than the task, or returns "". Real agents run
// tasks as FrameworkInfo.user (--switch_user, Mesos's default) and drop a
// task whose user they lack ("Failed to chown directory to 'U': No such
// user 'U'"); they fail a task whose URI they cannot fetch.
func (c *Config) launchProblem(t *Task, st mesos.TaskStatus) string {
	if !terminal(st.State) {
		return ""
	}
	host := t.Hostname
	if host == "" && st.AgentID != nil {
		host = st.AgentID.Value
	}
	switch {
	case strings.Contains(st.Message, "No such user"):
		return fmt.Sprintf("agent %s has no user %q, which tasks run as (FrameworkInfo.user, default: the scheduler's own user): "+
			"start the scheduler with --user set to a user every agent has (%s %s: %s)", host, c.User, t.ID, st.State, st.Message)
	case st.Reason == mesos.ReasonFetcherFailed:
		return fmt.Sprintf("agent %s could not fetch the hashfleet binary from %s: check --advertise/--binary-url (%s %s: %s)",
			host, c.BinaryURL, t.ID, st.State, st.Message)
	}
	return ""
}
