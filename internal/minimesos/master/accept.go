package master

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hashfleet/hashfleet/internal/mesos"
)

// accept handles ACCEPT: offer validation first (all-or-nothing), then each
// LAUNCH task is validated against the remaining offered resources, valid
// tasks become TASK_STAGING and are sent to the agent, and unused resources
// are refused with the call's filters.
func (c *core) accept(now time.Time, f *framework, body *mesos.CallAcceptBody) {
	offers, err := c.validateOffers(f, body.OfferIDs)
	if err != nil {
		for _, id := range body.OfferIDs {
			// Only this framework's offers are discarded (resources back
			// without a filter); another framework's offers stay valid.
			if o := f.offers[id.Value]; o != nil {
				c.dropOffer(o)
			}
		}
		state := mesos.TaskLost
		if f.partitionAware() {
			state = mesos.TaskDropped
		}
		for _, op := range body.Operations {
			for _, ti := range launchTasks(op) {
				c.masterUpdate(now, f, ti, state, mesos.ReasonInvalidOffers, "Task launched with invalid offers: "+err.Error())
			}
		}
		return
	}
	o0 := offers[0]
	a := c.agents[o0.agent]
	offered := resources{}
	for _, o := range offers {
		offered = offered.add(o.res)
		c.dropOffer(o)
	}
	remaining := offered
	for _, op := range body.Operations {
		switch op.Type {
		case mesos.OpLaunch:
			if op.Launch == nil {
				continue
			}
			if err := launchResourcesError(op.Launch.TaskInfos); err != nil {
				// Master::accept validates each operation's resources
				// first; every task of a bad LAUNCH gets TASK_ERROR.
				for _, ti := range op.Launch.TaskInfos {
					c.masterUpdate(now, f, ti, mesos.TaskError, mesos.ReasonTaskInvalid, err.Error())
				}
				continue
			}
			for _, ti := range op.Launch.TaskInfos {
				if op.ID != nil {
					c.masterUpdate(now, f, ti, mesos.TaskError, mesos.ReasonTaskInvalid,
						"The `id` field is not supported for LAUNCH operations")
					continue
				}
				res, err := c.validateTask(f, a, &ti, remaining)
				if err != nil {
					c.masterUpdate(now, f, ti, mesos.TaskError, mesos.ReasonTaskInvalid, err.Error())
					continue
				}
				remaining = remaining.sub(res)
				c.launch(now, f, a, o0.role, ti, res)
			}
		case mesos.OpLaunchGroup:
			for _, ti := range launchTasks(op) {
				c.masterUpdate(now, f, ti, mesos.TaskError, mesos.ReasonTaskInvalid,
					"LAUNCH_GROUP is not supported by this master (no default executor)")
			}
		default:
			// Reservation and volume operations need resource providers
			// and persistent storage this master does not have; they are
			// dropped and their resources declined like the rest.
		}
	}
	c.refuse(now, o0, remaining, body.Filters)
}

// launchResourcesError validates the resources of a LAUNCH operation's
// tasks and their executors, as validateAndUpgradeResources does.
func launchResourcesError(tasks []mesos.TaskInfo) error {
	for _, ti := range tasks {
		rs := ti.Resources
		if ti.Executor != nil {
			rs = append(slices.Clone(rs), ti.Executor.Resources...)
		}
		for _, r := range rs {
			if err := validateResource(r); err != nil {
				return err
			}
		}
	}
	return nil
}

func launchTasks(op mesos.Operation) []mesos.TaskInfo {
	switch {
	case op.Type == mesos.OpLaunch && op.Launch != nil:
		return op.Launch.TaskInfos
	case op.Type == mesos.OpLaunchGroup && op.LaunchGroup != nil:
		return op.LaunchGroup.TaskGroup.Tasks
	}
	return nil
}

// validateOffers mirrors validation::offer::validate.
func (c *core) validateOffers(f *framework, ids []mesos.OfferID) ([]*offer, error) {
	if len(ids) == 0 {
		return nil, fmt.Errorf("No offers specified")
	}
	seen := map[string]bool{}
	var out []*offer
	for _, id := range ids {
		if seen[id.Value] {
			return nil, fmt.Errorf("Duplicate offer %s in offer list", id.Value)
		}
		seen[id.Value] = true
	}
	for _, id := range ids {
		o := c.offers[id.Value]
		if o == nil {
			return nil, fmt.Errorf("Offer %s is no longer valid", id.Value)
		}
		if o.fw != f.id {
			return nil, fmt.Errorf("Offer %s has invalid framework %s while framework %s is expected", o.id, o.fw, f.id)
		}
		out = append(out, o)
	}
	for _, o := range out[1:] {
		if o.agent != out[0].agent {
			return nil, fmt.Errorf("Aggregated offers must belong to one single agent. Offer %s uses agent %s and offer %s uses agent %s",
				o.id, o.agent, out[0].id, out[0].agent)
		}
		if o.role != out[0].role {
			return nil, fmt.Errorf("Aggregated offers must be allocated to the same role. Offer %s uses role %s and offer %s uses role %s",
				o.id, o.role, out[0].id, out[0].role)
		}
	}
	return out, nil
}

// masterUpdate sends a master-generated (unreliable, no uuid) update.
func (c *core) masterUpdate(now time.Time, f *framework, ti mesos.TaskInfo, state mesos.TaskState, reason, msg string) {
	st := mesos.TaskStatus{TaskID: ti.TaskID, State: state, Source: mesos.SourceMaster, Reason: reason, Message: msg,
		Timestamp: unixSeconds(now)}
	if ti.AgentID.Value != "" {
		aid := ti.AgentID
		st.AgentID = &aid
	}
	c.emitFw(f, mesos.Event{Type: mesos.EventUpdate, Update: &mesos.EventUpdateBody{Status: st}})
}

// launch records a valid task as TASK_STAGING and sends it to its agent.
func (c *core) launch(now time.Time, f *framework, a *agentState, role string, ti mesos.TaskInfo, res resources) {
	stored := ti
	stored.Data = nil
	t := &task{info: stored, fw: f.id, agent: a.id, role: role, res: res, state: mesos.TaskStaging}
	f.tasks[ti.TaskID.Value] = t
	a.tasks[f.id+"/"+ti.TaskID.Value] = t
	a.changed()
	c.op(agentOp{kind: opLaunch, agent: a.id, fw: f.info, fwID: mesos.FrameworkID{Value: f.id}, task: ti})
}

// validateTask mirrors validation::task::validate and returns the task's
// resources. The order of checks follows Mesos.
func (c *core) validateTask(f *framework, a *agentState, ti *mesos.TaskInfo, available resources) (resources, error) {
	if err := validateID(ti.TaskID.Value); err != nil {
		return nil, fmt.Errorf("Task ID '%s' is invalid: %v", ti.TaskID.Value, err)
	}
	if t := f.tasks[ti.TaskID.Value]; t != nil {
		return nil, fmt.Errorf("Task has duplicate ID: %s", ti.TaskID.Value)
	}
	if ti.AgentID.Value != a.id {
		return nil, fmt.Errorf("Task uses invalid agent: %s", ti.AgentID.Value)
	}
	if kp := ti.KillPolicy; kp != nil && kp.GracePeriod != nil && kp.GracePeriod.Nanoseconds < 0 {
		return nil, fmt.Errorf("Task's 'kill_policy.grace_period' must be non-negative")
	}
	if ti.MaxCompletionTime != nil && ti.MaxCompletionTime.Nanoseconds < 0 {
		return nil, fmt.Errorf("Task's 'max_completion_time' must be non-negative")
	}
	if err := validateHealthCheck(ti.HealthCheck); err != nil {
		return nil, fmt.Errorf("Task uses invalid health check: %v", err)
	}
	if len(ti.Resources) == 0 {
		return nil, fmt.Errorf("Task uses no resources")
	}
	res, err := parseResources(ti.Resources)
	if err != nil {
		return nil, fmt.Errorf("Task uses invalid resources: %v", err)
	}
	for _, r := range ti.Resources {
		if r.Role != "" && r.Role != "*" {
			return nil, fmt.Errorf("Task uses invalid resources: resource %q is reserved for role %q", r.Name, r.Role)
		}
	}
	if (ti.Command == nil) == (ti.Executor == nil) {
		return nil, fmt.Errorf("Task should have at least one (but not both) of CommandInfo or ExecutorInfo present")
	}
	if ti.Executor != nil {
		return nil, fmt.Errorf("Task uses a custom executor, which this master's agents do not support")
	}
	if err := validateCommand(ti.Command); err != nil {
		return nil, fmt.Errorf("Task's CommandInfo is invalid: %v", err)
	}
	if err := validateContainer(ti.Container); err != nil {
		return nil, fmt.Errorf("Task's ContainerInfo is invalid: %v", err)
	}
	if !available.contains(res) {
		return nil, fmt.Errorf("Total resources %s required by task and its executor is more than available %s", res, available)
	}
	return res, nil
}

// validateID mirrors common::validation::validateID.
func validateID(id string) error {
	switch {
	case id == "":
		return fmt.Errorf("ID must not be empty")
	case len(id) > 255:
		return fmt.Errorf("ID must not be greater than 255 characters")
	case id == "." || id == "..":
		return fmt.Errorf("'.' and '..' are not allowed")
	case strings.ContainsAny(id, "/\\"):
		return fmt.Errorf("'/' and '\\' are not allowed")
	}
	for _, r := range id {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("Control characters are not allowed")
		}
	}
	return nil
}

// validateHealthCheck mirrors common/validation.cpp validateHealthCheck.
func validateHealthCheck(h *mesos.HealthCheck) error {
	if h == nil {
		return nil
	}
	switch h.Type {
	case "":
		return fmt.Errorf("HealthCheck must specify 'type'")
	case mesos.HealthCommand:
		if h.Command == nil {
			return fmt.Errorf("Expecting 'command' to be set for COMMAND health check")
		}
		if h.Command.Value == nil {
			kind := "'shell command'"
			if !h.Command.IsShell() {
				kind = "'executable path'"
			}
			return fmt.Errorf("Command health check must contain %s", kind)
		}
		if err := validateCommand(h.Command); err != nil {
			return fmt.Errorf("Health check's `CommandInfo` is invalid: %v", err)
		}
	case mesos.HealthHTTP:
		if h.HTTP == nil {
			return fmt.Errorf("Expecting 'http' to be set for HTTP health check")
		}
		if s := h.HTTP.Scheme; s != "" && s != "http" && s != "https" {
			return fmt.Errorf("Unsupported HTTP health check scheme: '%s'", s)
		}
		if p := h.HTTP.Path; p != "" && !strings.HasPrefix(p, "/") {
			return fmt.Errorf("The path '%s' of HTTP health check must start with '/'", p)
		}
	case mesos.HealthTCP:
		if h.TCP == nil {
			return fmt.Errorf("Expecting 'tcp' to be set for TCP health check")
		}
	default:
		return fmt.Errorf("'%s' is not a valid health check type", h.Type)
	}
	for _, d := range []struct {
		name string
		v    *float64
	}{{"delay_seconds", h.DelaySeconds}, {"grace_period_seconds", h.GracePeriodSeconds},
		{"interval_seconds", h.IntervalSeconds}, {"timeout_seconds", h.TimeoutSeconds}} {
		if d.v != nil && *d.v < 0 {
			return fmt.Errorf("Expecting '%s' to be non-negative", d.name)
		}
	}
	return nil
}

func validateCommand(cmd *mesos.CommandInfo) error {
	if cmd.Environment != nil {
		for _, v := range cmd.Environment.Variables {
			switch v.Type {
			case "", mesos.EnvValue:
				if v.Value == nil {
					return fmt.Errorf("Environment variable '%s' of type 'VALUE' must have a value set", v.Name)
				}
				if v.Secret != nil {
					return fmt.Errorf("Environment variable '%s' of type 'VALUE' must not have a secret set", v.Name)
				}
			case mesos.EnvSecret:
				if v.Secret == nil {
					return fmt.Errorf("Environment variable '%s' of type 'SECRET' must have a secret set", v.Name)
				}
				if v.Value != nil {
					return fmt.Errorf("Environment variable '%s' of type 'SECRET' must not have a value set", v.Name)
				}
			default:
				return fmt.Errorf("Environment variable of type 'UNKNOWN' is not allowed")
			}
		}
	}
	return nil
}

func validateContainer(ci *mesos.ContainerInfo) error {
	if ci == nil {
		return nil
	}
	switch ci.Type {
	case mesos.ContainerDocker:
		if ci.Docker == nil {
			return fmt.Errorf("DockerInfo 'docker' is not set for DOCKER typed ContainerInfo")
		}
		if ci.Docker.Image == "" {
			return fmt.Errorf("DockerInfo 'image' must be set")
		}
		for _, p := range ci.Docker.Parameters {
			if p.Key == "name" {
				return fmt.Errorf("Parameter in DockerInfo must not be 'name'")
			}
		}
		if ci.Docker.NetworkOrDefault() == mesos.NetworkUser && len(ci.NetworkInfos) != 1 {
			return fmt.Errorf("DockerInfo network USER requires exactly one 'network_infos' entry")
		}
	case mesos.ContainerMesos:
		return fmt.Errorf("MESOS containers are not supported by this master's agents")
	default:
		return fmt.Errorf("ContainerInfo 'type' is missing or unknown")
	}
	return nil
}
