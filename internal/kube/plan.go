package kube

import "time"

// Create is a pod the policy wants created.
type Create struct {
	Role      Role
	Name      string  // the pod's name (the server's is fixed: at most one can exist)
	CPUs      float64 // cpu request (worker; the server's comes from the config)
	ServerUID string  // worker: the server it mines for
	ServerIP  string  // worker: that server pod's IP (for Config.DialPodIP)
}

// Delete is a pod the policy wants deleted.
type Delete struct {
	Name   string
	UID    string // precondition: delete only this incarnation
	Role   Role
	Force  bool // grace period 0: the pod's node is gone, no kubelet will confirm
	Reason string
}

// Event is a Kubernetes Event the policy wants recorded (and logged).
type Event struct {
	Pod     string // involved pod's name; "" = the fleet's Service
	Warning bool
	Reason  string // CamelCase, as Events use
	Message string
}

// Plan is the policy's answer to one observation. The shell carries it out
// in order: events, deletes, creates; then it reports each create's outcome
// (State.Created, State.CreateFailed).
type Plan struct {
	Creates []Create
	Deletes []Delete
	Events  []Event
	// Requeue, when > 0, asks for another Reconcile after this long even
	// if nothing changes (a backoff ends, a delete is to be re-sent).
	Requeue time.Duration
}

func (p *Plan) event(pod string, warning bool, reason, msg string) {
	p.Events = append(p.Events, Event{Pod: pod, Warning: warning, Reason: reason, Message: msg})
}

// requeueAt asks for a Reconcile at t (keeping the earliest).
func (p *Plan) requeueAt(now, t time.Time) {
	d := t.Sub(now)
	if d <= 0 {
		d = time.Millisecond
	}
	if p.Requeue == 0 || d < p.Requeue {
		p.Requeue = d
	}
}
