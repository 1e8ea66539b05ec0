package master

import (
	"encoding/json"
	"time"

	"github.com/hashfleet/hashfleet/internal/mesos"
)

// stateJSON renders the read-only /state document, shaped like the
// subset of Mesos's /master/state that tools read: master identity,
// agents with their resources, frameworks with tasks and offers.
func (c *core) stateJSON(now time.Time) []byte {
	type taskJSON struct {
		ID          string             `json:"id"`
		Name        string             `json:"name"`
		FrameworkID string             `json:"framework_id"`
		AgentID     string             `json:"slave_id"`
		State       mesos.TaskState    `json:"state"`
		Resources   map[string]any     `json:"resources"`
		Statuses    []mesos.TaskStatus `json:"statuses,omitempty"`
	}
	type offerJSON struct {
		ID          string         `json:"id"`
		FrameworkID string         `json:"framework_id"`
		AgentID     string         `json:"slave_id"`
		Resources   map[string]any `json:"resources"`
	}
	type fwJSON struct {
		ID             string         `json:"id"`
		Name           string         `json:"name"`
		User           string         `json:"user"`
		Principal      string         `json:"principal,omitempty"`
		Roles          []string       `json:"roles"`
		Active         bool           `json:"active"`
		Connected      bool           `json:"connected"`
		FailoverTime   float64        `json:"failover_timeout"`
		RegisteredTime float64        `json:"registered_time"`
		Used           map[string]any `json:"used_resources"`
		Offered        map[string]any `json:"offered_resources"`
		Tasks          []taskJSON     `json:"tasks"`
		Completed      []taskJSON     `json:"completed_tasks"`
		Offers         []offerJSON    `json:"offers"`
	}
	type agentJSON struct {
		ID        string         `json:"id"`
		Hostname  string         `json:"hostname"`
		Active    bool           `json:"active"`
		Resources map[string]any `json:"resources"`
		Used      map[string]any `json:"used_resources"`
		Offered   map[string]any `json:"offered_resources"`
	}
	toTask := func(t *task) taskJSON {
		tj := taskJSON{ID: t.info.TaskID.Value, Name: t.info.Name, FrameworkID: t.fw, AgentID: t.agent, State: t.state,
			Resources: t.res.stateJSON()}
		if t.status != nil {
			tj.Statuses = []mesos.TaskStatus{*t.status}
		}
		return tj
	}
	toFw := func(f *framework) fwJSON {
		fj := fwJSON{ID: f.id, Name: f.info.Name, User: f.info.User, Principal: f.info.Principal, Roles: f.roles(),
			Active: f.connected(), Connected: f.connected(), FailoverTime: f.info.FailoverTimeout,
			RegisteredTime: unixSeconds(f.registered), Tasks: []taskJSON{}, Completed: []taskJSON{}, Offers: []offerJSON{}}
		used, offered := resources{}, resources{}
		for _, t := range sortedTasks(f.tasks) {
			fj.Tasks = append(fj.Tasks, toTask(t))
			if !t.recovered {
				used = used.add(t.res)
			}
		}
		for _, t := range f.completed {
			fj.Completed = append(fj.Completed, toTask(t))
		}
		for _, o := range sortedOffers(f.offers) {
			fj.Offers = append(fj.Offers, offerJSON{ID: o.id, FrameworkID: o.fw, AgentID: o.agent, Resources: o.res.stateJSON()})
			offered = offered.add(o.res)
		}
		fj.Used, fj.Offered = used.stateJSON(), offered.stateJSON()
		return fj
	}
	doc := struct {
		ID                  string      `json:"id"`
		PID                 string      `json:"pid"`
		Hostname            string      `json:"hostname"`
		Version             string      `json:"version"`
		StartTime           float64     `json:"start_time"`
		ElectedTime         float64     `json:"elected_time"`
		Leader              string      `json:"leader"`
		LeaderInfo          any         `json:"leader_info"`
		ActivatedAgents     int         `json:"activated_slaves"`
		Agents              []agentJSON `json:"slaves"`
		Frameworks          []fwJSON    `json:"frameworks"`
		CompletedFrameworks []fwJSON    `json:"completed_frameworks"`
	}{
		ID: c.info.ID, PID: c.info.PID, Hostname: c.info.Hostname, Version: c.info.Version,
		StartTime: unixSeconds(c.started), ElectedTime: unixSeconds(c.started), Leader: c.info.PID, LeaderInfo: c.info,
		Agents: []agentJSON{}, Frameworks: []fwJSON{}, CompletedFrameworks: []fwJSON{},
	}
	for _, a := range c.sortedAgents() {
		used, offered := resources{}, resources{}
		for _, t := range a.tasks {
			if !t.recovered {
				used = used.add(t.res)
			}
		}
		for _, o := range a.offers {
			offered = offered.add(o.res)
		}
		doc.Agents = append(doc.Agents, agentJSON{ID: a.id, Hostname: a.hostname, Active: true,
			Resources: a.total.stateJSON(), Used: used.stateJSON(), Offered: offered.stateJSON()})
	}
	doc.ActivatedAgents = len(doc.Agents)
	for _, f := range c.sortedFrameworks() {
		doc.Frameworks = append(doc.Frameworks, toFw(f))
	}
	for _, f := range c.completedF {
		doc.CompletedFrameworks = append(doc.CompletedFrameworks, toFw(f))
	}
	b, _ := json.Marshal(doc)
	_ = now
	return b
}
