package kube

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashfleet/hashfleet/internal/fleet"
)

// Policy configures State: the engine-neutral fleet policy plus what is
// particular to pods.
type Policy struct {
	fleet.Policy
	// ServerName is the server pod's fixed name (default
	// "hashfleet-server"): the API server itself refuses a second pod of
	// that name, so two servers cannot exist, whatever the controllers do.
	ServerName string
	// WorkerPrefix starts every worker pod's name (default
	// "hashfleet-worker-"); Nonce (default random) and a counter follow, so
	// each name is unique and a create is idempotent.
	WorkerPrefix string
	Nonce        string
	// DeleteRetry: a delete not yet reflected by the informer is sent
	// again after this long (default 10 s).
	DeleteRetry time.Duration
	// ExpectTimeout: a created pod the informer has not shown after this
	// long is no longer counted (default 1 min).
	ExpectTimeout time.Duration
}

func (c Policy) withDefaults() Policy {
	c.Policy = c.Policy.WithDefaults()
	c.ServerName = cmp.Or(c.ServerName, "hashfleet-server")
	c.WorkerPrefix = cmp.Or(c.WorkerPrefix, "hashfleet-worker-")
	if c.Nonce == "" {
		c.Nonce = strconv.FormatUint(rand.Uint64N(36*36*36*36), 36)
	}
	if c.DeleteRetry <= 0 {
		c.DeleteRetry = 10 * time.Second
	}
	if c.ExpectTimeout <= 0 {
		c.ExpectTimeout = time.Minute
	}
	return c
}

// expectation is a pod created (or about to be) that the informer may not
// show yet; it counts as existing until seen or ExpectTimeout.
type expectation struct {
	role      Role
	cpus      float64
	serverUID string
	at        time.Time
}

// State is the Kubernetes controller's policy: a pure state machine. Each
// Reconcile takes one observation (World) and returns the actions (Plan);
// State keeps only what the cluster cannot tell: the failure counts and
// backoffs, which pods' ends were already counted, the deletes and creates
// in flight, and which warnings were already reported. It does no I/O and
// reads no clock; one goroutine owns it.
type State struct {
	cfg Policy

	ServerFailures     int
	ServerBackoffUntil time.Time
	WorkerFailures     int
	WorkerBackoffUntil time.Time
	// WorkerReason says why no (more) workers were created, for the status API.
	WorkerReason string

	serverUID     string    // the server incarnation being followed
	serverReadyAt time.Time // when it first became Ready (the stable rule)
	serverReady   bool      // whether it was Ready at the last Reconcile
	serverCounted bool      // its end was counted

	ended    map[string]bool        // worker UIDs whose end was counted
	deletes  map[string]time.Time   // pod UID → when its delete was sent
	expect   map[string]expectation // pod name → create in flight
	reported map[string]string      // pod UID → class of the waiting reason reported
	seq      uint64
}

// NewState returns a State for cfg with its defaults applied.
func NewState(cfg Policy) *State {
	return &State{cfg: cfg.withDefaults(), ended: map[string]bool{}, deletes: map[string]time.Time{},
		expect: map[string]expectation{}, reported: map[string]string{}}
}

// Config returns the policy with its defaults.
func (s *State) Config() Policy { return s.cfg }

// Reconcile folds the observation w into the state and returns what to do.
func (s *State) Reconcile(w World) Plan {
	var p Plan
	s.forget(w)
	srv := s.reconcileServer(&p, w)
	n, cpus, pending := s.reconcileWorkers(&p, w, srv)
	if srv != nil {
		s.createWorkers(&p, w, srv, n, cpus, pending)
	} else {
		s.WorkerReason = "waiting for the server pod to be Ready"
	}
	return p
}

// forget drops what concerns pods no longer observed, and creates the
// informer has not shown within ExpectTimeout.
func (s *State) forget(w World) {
	present := make(map[string]bool, len(w.Pods))
	for _, q := range w.Pods {
		present[q.UID] = true
		delete(s.expect, q.Name)
	}
	for uid := range s.ended {
		if !present[uid] {
			delete(s.ended, uid)
		}
	}
	for uid := range s.deletes {
		if !present[uid] {
			delete(s.deletes, uid)
		}
	}
	for uid := range s.reported {
		if !present[uid] {
			delete(s.reported, uid)
		}
	}
	for name, e := range s.expect {
		if w.Now.Sub(e.at) >= s.cfg.ExpectTimeout {
			delete(s.expect, name)
		}
	}
}

// nodeGone reports whether q is bound to a node that no longer exists.
func nodeGone(q *Pod, w World) bool {
	if q.Node == "" {
		return false
	}
	return !slices.ContainsFunc(w.Nodes, func(n Node) bool { return n.Name == q.Node })
}

// del asks for q's deletion unless it is already under way (or was sent
// less than DeleteRetry ago).
func (s *State) del(p *Plan, now time.Time, q *Pod, force bool, reason string) {
	if q.Deleting && !force {
		return
	}
	if t, ok := s.deletes[q.UID]; ok && now.Sub(t) < s.cfg.DeleteRetry {
		p.requeueAt(now, t.Add(s.cfg.DeleteRetry))
		return
	}
	s.deletes[q.UID] = now
	p.Deletes = append(p.Deletes, Delete{Name: q.Name, UID: q.UID, Role: q.Role, Force: force, Reason: reason})
	p.requeueAt(now, now.Add(s.cfg.DeleteRetry))
}

// waitClass groups the waiting reasons the kubelet alternates between, so
// that one problem is reported once: every image pull failure is one
// (their messages vary with the retry), any other reason is one per
// message (a missing Secret, then once it exists another config error).
func waitClass(reason, msg string) string {
	switch reason {
	case "ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull":
		return "image"
	}
	return reason + ": " + msg
}

// reportWaiting records a Warning once per pod and kind of problem when the
// pod's container waits on something the kubelet retries by itself (an
// image that cannot be pulled, a missing Secret). The pod is kept: the
// kubelet's own backoff paces the retries, so replacing it would only
// add pods.
func (s *State) reportWaiting(p *Plan, q *Pod) {
	if q.Waiting == "" {
		return
	}
	class := waitClass(q.Waiting, q.Message)
	if s.reported[q.UID] == class {
		return
	}
	s.reported[q.UID] = class
	reason := map[string]string{"image": "ImagePullFailed", "CreateContainerConfigError": "ConfigError"}[strings.TrimSuffix(waitClass(q.Waiting, ""), ": ")]
	p.event(q.Name, true, cmp.Or(reason, "ContainerWaiting"),
		fmt.Sprintf("%s pod %s waits: %s: %s (the kubelet retries; the pod is kept)", q.Role, q.Name, q.Waiting, q.Message))
}

// Created records that c's pod was created, or already existed.
func (s *State) Created(c Create, now time.Time) {
	if e, ok := s.expect[c.Name]; ok {
		e.at = now
		s.expect[c.Name] = e
	}
}

// CreateFailed records that creating c failed with msg at now: the
// expectation is dropped and the role's relaunch backoff grows. It returns
// the Warning to record.
func (s *State) CreateFailed(c Create, msg string, now time.Time) Event {
	delete(s.expect, c.Name)
	var n int
	var until time.Time
	if c.Role == RoleServer {
		s.ServerFailures++
		n, s.ServerBackoffUntil = s.ServerFailures, now.Add(s.cfg.Backoff(s.ServerFailures))
		until = s.ServerBackoffUntil
	} else {
		s.WorkerFailures++
		n, s.WorkerBackoffUntil = s.WorkerFailures, now.Add(s.cfg.Backoff(s.WorkerFailures))
		until = s.WorkerBackoffUntil
	}
	return Event{Warning: true, Reason: "CreateFailed",
		Message: fmt.Sprintf("creating %s pod %s: %s; retry in %v (%d consecutive failures)", c.Role, c.Name, msg, until.Sub(now), n)}
}
