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
	doc := mesos.MasterState{
		ID: c.info.ID, PID: c.info.PID, Hostname: c.info.Hostname, Version: c.info.Version,
		StartTime: unixSeconds(c.started), ElectedTime: unixSeconds(c.started), Leader: c.info.PID, LeaderInfo: c.info,
		Agents: []mesos.StateAgent{}, Frameworks: []mesos.StateFramework{}, CompletedFrameworks: []mesos.StateFramework{},
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
		doc.Agents = append(doc.Agents, mesos.StateAgent{ID: a.id, Hostname: a.hostname, Active: true,
			Resources: a.total.stateJSON(), Used: used.stateJSON(), Offered: offered.stateJSON()})
	}
	doc.ActivatedAgents = len(doc.Agents)
	for _, f := range c.sortedFrameworks() {
		doc.Frameworks = append(doc.Frameworks, stateFramework(f))
	}
	for _, f := range c.completedF {
		doc.CompletedFrameworks = append(doc.CompletedFrameworks, stateFramework(f))
	}
	b, _ := json.Marshal(doc)
	_ = now
	return b
}

// stateFramework renders f for the /state document.
func stateFramework(f *framework) mesos.StateFramework {
	fj := mesos.StateFramework{ID: f.id, Name: f.info.Name, User: f.info.User, Principal: f.info.Principal, Roles: f.roles(),
		Active: f.connected(), Connected: f.connected(), FailoverTime: f.info.FailoverTimeout,
		RegisteredTime: unixSeconds(f.registered), Tasks: []mesos.StateTask{}, Completed: []mesos.StateTask{}, Offers: []mesos.StateOffer{}}
	used, offered := resources{}, resources{}
	for _, t := range sortedTasks(f.tasks) {
		fj.Tasks = append(fj.Tasks, stateTask(t))
		if !t.recovered {
			used = used.add(t.res)
		}
	}
	for _, t := range f.completed {
		fj.Completed = append(fj.Completed, stateTask(t))
	}
	for _, o := range sortedOffers(f.offers) {
		fj.Offers = append(fj.Offers, mesos.StateOffer{ID: o.id, FrameworkID: o.fw, AgentID: o.agent, Resources: o.res.stateJSON()})
		offered = offered.add(o.res)
	}
	fj.Used, fj.Offered = used.stateJSON(), offered.stateJSON()
	return fj
}

// stateTask renders t for the /state document.
func stateTask(t *task) mesos.StateTask {
	tj := mesos.StateTask{ID: t.info.TaskID.Value, Name: t.info.Name, FrameworkID: t.fw, AgentID: t.agent, State: t.state,
		Resources: t.res.stateJSON()}
	if t.status != nil {
		tj.Statuses = []mesos.TaskStatus{*t.status}
	}
	return tj
}
