package scheduler

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/hashfleet/hashfleet/internal/mesos"
)

// TaskView is one task in a Status snapshot.
type TaskView struct {
	ID         string    `json:"id"`
	Role       Role      `json:"role"`
	State      string    `json:"state"`
	Healthy    *bool     `json:"healthy,omitempty"`
	AgentID    string    `json:"agent_id"`
	Hostname   string    `json:"hostname"`
	Ports      []uint64  `json:"ports,omitempty"`
	CPUs       float64   `json:"cpus"`
	Mem        float64   `json:"mem"`
	Server     string    `json:"server,omitempty"`
	ServerAddr string    `json:"server_addr,omitempty"`
	Message    string    `json:"message,omitempty"`
	Reason     string    `json:"reason,omitempty"`
	Killing    bool      `json:"killing,omitempty"`
	KillReason string    `json:"kill_reason,omitempty"`
	LaunchedAt time.Time `json:"launched_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// OfferView is a recent offer and what the policy did with it.
type OfferView struct {
	ID       string    `json:"id"`
	AgentID  string    `json:"agent_id"`
	Hostname string    `json:"hostname"`
	CPUs     float64   `json:"cpus"`
	Mem      float64   `json:"mem"`
	Ports    string    `json:"ports"`
	Accepted bool      `json:"accepted"`
	Decision string    `json:"decision"` // what was launched, or why it was declined
	At       time.Time `json:"at"`
}

// Status is a value snapshot of the scheduler, safe to keep and share.
type Status struct {
	FrameworkID        string         `json:"framework_id"`
	Connected          bool           `json:"connected"`
	Master             string         `json:"master,omitempty"`
	LastError          string         `json:"last_error,omitempty"`
	LastErrorAt        time.Time      `json:"last_error_at,omitzero"`
	Subscriptions      int            `json:"subscriptions"`
	Suppressed         bool           `json:"suppressed"`
	Wanted             int            `json:"wanted"`
	Server             *TaskView      `json:"server,omitempty"`
	ServerAddr         string         `json:"server_addr,omitempty"` // host:port of the Stratum listener
	ServerReady        bool           `json:"server_ready"`
	ServerFailures     int            `json:"server_failures"`
	ServerBackoffUntil time.Time      `json:"server_backoff_until,omitzero"`
	WorkerFailures     int            `json:"worker_failures"`
	WorkerBackoffUntil time.Time      `json:"worker_backoff_until,omitzero"`
	Workers            int            `json:"workers"`     // active workers of the current server
	WorkerCPUs         float64        `json:"worker_cpus"` // their cpus
	States             map[string]int `json:"states"`      // task count per state
	Tasks              []TaskView     `json:"tasks"`
	LastOffers         []OfferView    `json:"last_offers"`
	Reconciling        int            `json:"reconciling"` // tasks awaiting an explicit reconciliation answer
	// NodeReachable: whether the node RPC endpoint accepted a TCP
	// connection from the scheduler's host (advisory; nil before the first check).
	NodeReachable *bool     `json:"node_reachable,omitempty"`
	NodeError     string    `json:"node_error,omitempty"`
	NodeCheckedAt time.Time `json:"node_checked_at,omitzero"`
	UpdatedAt     time.Time `json:"updated_at"`
}

func viewOf(t *Task) TaskView {
	return TaskView{
		ID: t.ID, Role: t.Role, State: string(t.State), Healthy: t.Healthy, AgentID: t.AgentID, Hostname: t.Hostname,
		Ports: t.Ports, CPUs: t.CPUs, Mem: t.Mem, Server: t.Server, ServerAddr: t.ServerAddr,
		Message: t.Message, Reason: t.Reason, Killing: t.KillWanted && t.Active(), KillReason: t.KillReason,
		LaunchedAt: t.LaunchedAt, UpdatedAt: t.UpdatedAt,
	}
}

func offerView(o mesos.Offer, d OfferDecision, at time.Time) OfferView {
	var ports []string
	for _, r := range mesos.AllRanges(o.Resources, mesos.ResPorts) {
		if r.Begin == r.End {
			ports = append(ports, fmt.Sprint(r.Begin))
		} else {
			ports = append(ports, fmt.Sprintf("%d-%d", r.Begin, r.End))
		}
	}
	return OfferView{
		ID: o.ID.Value, AgentID: o.AgentID.Value, Hostname: o.Hostname,
		CPUs: mesos.SumScalar(o.Resources, mesos.ResCPUs), Mem: mesos.SumScalar(o.Resources, mesos.ResMem),
		Ports: "[" + strings.Join(ports, ",") + "]", Accepted: len(d.Launches) > 0, Decision: d.Reason, At: at,
	}
}

// Handler returns the scheduler's HTTP API:
//
//	GET /api/status   the Status snapshot (JSON)
//	GET /api/tasks    the tasks only
//	GET /api/offers   the last offers and the decision on each
//	GET /healthz      200 while serving
//	GET /bin/hashfleet  the binary at binaryPath (for command tasks), if binaryPath != ""
func (s *Scheduler) Handler(binaryPath string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	s.Register(mux, binaryPath)
	return mux
}

// Register adds the /api/… routes (and /bin/hashfleet when binaryPath is
// set) of Handler to mux.
func (s *Scheduler) Register(mux *http.ServeMux, binaryPath string) {
	writeJSON := func(w http.ResponseWriter, v any) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(v)
	}
	mux.HandleFunc("GET /api/status", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, s.Status()) })
	mux.HandleFunc("GET /api/tasks", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, s.Status().Tasks) })
	mux.HandleFunc("GET /api/offers", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, s.Status().LastOffers) })
	if binaryPath != "" {
		mux.HandleFunc("GET /bin/hashfleet", func(w http.ResponseWriter, r *http.Request) {
			f, err := os.Open(binaryPath)
			if err != nil {
				http.Error(w, "binary unavailable", http.StatusInternalServerError)
				return
			}
			defer f.Close()
			st, err := f.Stat()
			if err != nil {
				http.Error(w, "binary unavailable", http.StatusInternalServerError)
				return
			}
			w.Header().Set("Content-Type", "application/octet-stream")
			http.ServeContent(w, r, "hashfleet", st.ModTime(), f)
		})
	}
}
