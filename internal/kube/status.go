package kube

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// PodView is one of the fleet's pods in a Status.
type PodView struct {
	Name     string    `json:"name"`
	Role     Role      `json:"role"`
	Phase    string    `json:"phase"`
	Ready    bool      `json:"ready"`
	Node     string    `json:"node,omitempty"`
	IP       string    `json:"ip,omitempty"`
	CPUs     float64   `json:"cpus"`
	Waiting  string    `json:"waiting,omitempty"`
	Message  string    `json:"message,omitempty"`
	Deleting bool      `json:"deleting,omitempty"`
	Created  time.Time `json:"created"`
}

// Status is a value snapshot of the controller, safe to keep and share.
type Status struct {
	Backend            string    `json:"backend"` // "kubernetes"
	Namespace          string    `json:"namespace"`
	Identity           string    `json:"identity"`
	Leader             string    `json:"leader,omitempty"` // identity of the Lease holder last seen
	IsLeader           bool      `json:"is_leader"`
	Synced             bool      `json:"synced"`    // the informers' caches are filled
	Connected          bool      `json:"connected"` // synced, and no API error in the last minute
	LastError          string    `json:"last_error,omitempty"`
	LastErrorAt        time.Time `json:"last_error_at,omitzero"`
	Server             *PodView  `json:"server,omitempty"`
	ServerAddr         string    `json:"server_addr"` // the Service, as workers dial it
	ServerReady        bool      `json:"server_ready"`
	ServerFailures     int       `json:"server_failures"`
	ServerBackoffUntil time.Time `json:"server_backoff_until,omitzero"`
	WorkerFailures     int       `json:"worker_failures"`
	WorkerBackoffUntil time.Time `json:"worker_backoff_until,omitzero"`
	Workers            int       `json:"workers"`
	WorkerCPUs         float64   `json:"worker_cpus"`
	WorkerReason       string    `json:"worker_reason,omitempty"`
	Nodes              int       `json:"nodes"`
	UsableNodes        int       `json:"usable_nodes"`
	FreeCPUs           float64   `json:"free_cpus"` // on usable nodes
	Pods               []PodView `json:"pods"`
	UpdatedAt          time.Time `json:"updated_at,omitzero"`
}

func viewOfPod(p *corev1.Pod) PodView {
	v := podView(p)
	return PodView{Name: p.Name, Role: v.Role, Phase: string(v.Phase), Ready: v.Ready, Node: v.Node, IP: p.Status.PodIP,
		CPUs: v.CPUs, Waiting: v.Waiting, Message: v.Message, Deleting: v.Deleting, Created: p.CreationTimestamp.Time}
}

// Status returns the latest snapshot. Safe for concurrent use.
func (c *Controller) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.status
	s.Pods = slices.Clone(s.Pods)
	s.Connected = s.Synced && (s.LastErrorAt.IsZero() || time.Since(s.LastErrorAt) > time.Minute)
	return s
}

// publish stores the snapshot after a reconcile and sets the gauges.
func (c *Controller) publish(st *State, w World, pods map[string]*corev1.Pod) {
	var views []PodView
	var srv *PodView
	workers, cpus := 0, 0.0
	for _, p := range pods {
		v := viewOfPod(p)
		views = append(views, v)
		switch {
		case v.Role == RoleServer && p.Name == c.cfg.serverName() && !v.Deleting:
			srv = &v
		case v.Role == RoleWorker && !v.Deleting && v.Phase != string(PhaseFailed) && v.Phase != string(PhaseSucceeded):
			workers, cpus = workers+1, cpus+v.CPUs
		}
	}
	slices.SortFunc(views, func(a, b PodView) int { return strings.Compare(a.Name, b.Name) })
	usable, free := 0, 0.0
	for _, n := range w.Nodes {
		if n.Usable {
			usable, free = usable+1, free+max(n.CPUs-n.Requested, 0)
		}
	}
	ready := srv != nil && srv.Ready
	c.mu.Lock()
	s := &c.status
	s.Server, s.ServerReady, s.Pods, s.Workers, s.WorkerCPUs = srv, ready, views, workers, round(cpus)
	s.ServerFailures, s.ServerBackoffUntil, s.WorkerFailures, s.WorkerBackoffUntil = st.ServerFailures, st.ServerBackoffUntil, st.WorkerFailures, st.WorkerBackoffUntil
	s.WorkerReason, s.Nodes, s.UsableNodes, s.FreeCPUs, s.UpdatedAt = st.WorkerReason, len(w.Nodes), usable, round(free), w.Now
	c.mu.Unlock()
	c.m.workers.Set(float64(workers))
	c.m.serverReady.Set(map[bool]float64{true: 1}[ready])
}

func (c *Controller) noteErr(call string, err error) {
	c.m.callErrors.WithLabelValues(call).Inc()
	c.mu.Lock()
	c.status.LastError, c.status.LastErrorAt = call+": "+err.Error(), time.Now()
	c.mu.Unlock()
}

func (c *Controller) setSynced() {
	c.mu.Lock()
	c.status.Synced = true
	c.mu.Unlock()
}

// setLeader records the Lease holder last seen (this replica's identity
// when it leads).
func (c *Controller) setLeader(id string) {
	c.mu.Lock()
	c.status.Leader, c.status.IsLeader = id, id == c.cfg.Identity && id != ""
	if !c.status.IsLeader {
		c.status.Synced = false
	}
	isLeader := c.status.IsLeader
	c.mu.Unlock()
	c.m.leader.Set(map[bool]float64{true: 1}[isLeader])
}

// Register adds the status API to mux:
//
//	GET /api/status  the Status snapshot (JSON)
//	GET /api/pods    the fleet's pods
func (c *Controller) Register(mux *http.ServeMux) {
	writeJSON := func(w http.ResponseWriter, v any) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(v)
	}
	mux.HandleFunc("GET /api/status", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, c.Status()) })
	mux.HandleFunc("GET /api/pods", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, c.Status().Pods) })
}
