package scheduler

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/hashfleet/hashfleet/internal/mesos"
)

func joinHostPort(host string, port uint64) string {
	return net.JoinHostPort(host, strconv.FormatUint(port, 10))
}

// ServerPorts is how many host ports a server task takes (Stratum, HTTP).
const ServerPorts = 2

// LaunchSpec is one task the policy wants launched on an offer. The
// controller gives it an id, records it durably, builds the TaskInfo and
// sends the ACCEPT.
type LaunchSpec struct {
	Role       Role
	CPUs       float64
	Mem        float64
	Ports      []uint64 // host ports to request (server)
	Server     string   // worker: server task id
	ServerAddr string   // worker: host:port of the server's Stratum listener
}

// OfferDecision is what the policy does with one offer.
type OfferDecision struct {
	Offer    mesos.Offer
	Launches []LaunchSpec  // empty = decline
	Refuse   time.Duration // filter for the unused resources / the decline
	Reason   string        // why (for the status API): what was launched or why declined
}

// Plan is the policy's answer to a batch of offers.
type Plan struct {
	Offers []OfferDecision
	// Wanted is how many tasks the policy would still like to launch
	// (ignoring backoff); 0 means the controller should SUPPRESS offers.
	Wanted int
}

// serverPorts picks the server's ports from offer o, preferring ports no
// ended server task on the same agent used: a server that failed because
// something else holds its port (a crash loop on a busy port) gets fresh
// ports on its relaunch. With too few other ports it takes any free ones.
func (s *State) serverPorts(o mesos.Offer) []uint64 {
	used := map[uint64]bool{}
	for _, t := range s.Tasks {
		if t.Role == RoleServer && !t.Active() && t.AgentID == o.AgentID.Value {
			for _, p := range t.Ports {
				used[p] = true
			}
		}
	}
	var fresh []uint64
	for _, r := range mesos.AllRanges(o.Resources, mesos.ResPorts) {
		for p := r.Begin; len(fresh) < ServerPorts; p++ {
			if !used[p] {
				used[p] = true // an offer may list a port twice
				fresh = append(fresh, p)
			}
			if p == r.End {
				break
			}
		}
	}
	if len(fresh) == ServerPorts {
		return fresh
	}
	ports, _ := mesos.PickPorts(o.Resources, ServerPorts)
	return ports
}

// Decide runs the policy over offers at time now. It does not modify s;
// the controller applies the launches (NoteLaunch) after recording them.
// Rules: with no current server, the first offer with ServerCPUs, ServerMem
// and two free ports (from any of its ranges) gets the server, unless the
// server relaunch backoff is running. With a ready server, offers get
// workers of WorkerCPUs/WorkerMem (or all whole cpus of the offer) up to
// MaxWorkers and MaxCPUs, unless the worker backoff is running. Every other
// offer is declined: with the long filter if nothing is wanted, or until
// the backoff ends if that is what holds it.
func (s *State) Decide(offers []mesos.Offer, now time.Time) Plan {
	cfg := s.Config
	var p Plan
	needServer := s.Server() == nil
	serverLaunched := false
	ready := s.ServerReady()
	nWorkers, workerCPUs := s.activeWorkers()
	pol := cfg.fleet()
	workersWanted := func() bool { return ready && !pol.Full(nWorkers, workerCPUs) }
	serverBackoff := now.Before(s.ServerBackoffUntil)
	workerBackoff := now.Before(s.WorkerBackoffUntil)

	for _, o := range offers {
		d := OfferDecision{Offer: o, Refuse: cfg.RefuseLong}
		cpus := mesos.SumScalar(o.Resources, mesos.ResCPUs)
		mem := mesos.SumScalar(o.Resources, mesos.ResMem)
		switch {
		case needServer && !serverLaunched:
			if serverBackoff {
				d.Refuse = s.ServerBackoffUntil.Sub(now)
				d.Reason = fmt.Sprintf("server relaunch backoff (%d failures) for %v", s.ServerFailures, d.Refuse.Round(time.Millisecond))
				break
			}
			if why := serverFits(cfg, o, cpus, mem); why != "" {
				d.Reason = "no server fits: " + why
				break
			}
			ports := s.serverPorts(o)
			d.Launches = append(d.Launches, LaunchSpec{Role: RoleServer, CPUs: cfg.ServerCPUs, Mem: cfg.ServerMem, Ports: ports})
			d.Reason = fmt.Sprintf("launch server (%.3g cpus, %.0f MB, ports %v)", cfg.ServerCPUs, cfg.ServerMem, ports)
			serverLaunched = true
		case needServer:
			d.Reason = "server launch pending on another offer"
		case !ready:
			d.Reason = "waiting for the server to be running" + map[bool]string{true: " and healthy", false: ""}[cfg.RequireHealthy]
		case !workersWanted():
			d.Reason = s.fullReason(nWorkers, workerCPUs)
		case workerBackoff:
			d.Refuse = s.WorkerBackoffUntil.Sub(now)
			d.Reason = fmt.Sprintf("worker relaunch backoff (%d failures) for %v", s.WorkerFailures, d.Refuse.Round(time.Millisecond))
		default:
			srv := s.Server()
			for workersWanted() {
				size := pol.NextWorker(cpus, workerCPUs)
				if size <= 0 || mem+1e-9 < cfg.WorkerMem {
					break
				}
				d.Launches = append(d.Launches, LaunchSpec{Role: RoleWorker, CPUs: size, Mem: cfg.WorkerMem, Server: srv.ID, ServerAddr: srv.StratumAddr()})
				cpus = mesos.RoundScalar(cpus - size)
				mem = mesos.RoundScalar(mem - cfg.WorkerMem)
				nWorkers++
				workerCPUs = mesos.RoundScalar(workerCPUs + size)
			}
			switch {
			case len(d.Launches) > 0:
				d.Reason = fmt.Sprintf("launch %d worker(s)", len(d.Launches))
			case cpus < 1 && cfg.WorkerCPUs <= 0:
				d.Reason = fmt.Sprintf("no whole cpu (%.3g cpus)", cpus)
			case cfg.WorkerCPUs > 0 && cpus+1e-9 < cfg.WorkerCPUs:
				d.Reason = fmt.Sprintf("%.3g cpus < %.3g per worker", cpus, cfg.WorkerCPUs)
			case mem+1e-9 < cfg.WorkerMem:
				d.Reason = fmt.Sprintf("%.0f MB < %.0f MB per worker", mem, cfg.WorkerMem)
			default:
				d.Reason = s.fullReason(nWorkers, workerCPUs)
			}
		}
		p.Offers = append(p.Offers, d)
	}
	p.Wanted = s.wanted(serverLaunched, nWorkers, workerCPUs)
	return p
}

func (s *State) fullReason(n int, cpus float64) string {
	return s.Config.fleet().FullReason(n, cpus)
}

// wanted counts what is still wanted after the plan: 1 for a missing
// server, or the number of workers (capped at 1 when unlimited) the caps allow.
func (s *State) wanted(serverLaunched bool, nWorkers int, workerCPUs float64) int {
	cfg := s.Config
	if s.Server() == nil {
		if serverLaunched {
			return 0
		}
		return 1
	}
	if !s.ServerReady() {
		return 0
	}
	if cfg.MaxWorkers <= 0 && cfg.MaxCPUs <= 0 {
		return 1 // unlimited: always interested
	}
	return cfg.fleet().Remaining(nWorkers, workerCPUs)
}

// Wanted is Decide's Wanted without offers: what the controller uses to
// choose between SUPPRESS and REVIVE.
func (s *State) Wanted() int {
	n, c := s.activeWorkers()
	return s.wanted(false, n, c)
}

// serverFits returns "" if the offer can take the server, else why not.
func serverFits(cfg PolicyConfig, o mesos.Offer, cpus, mem float64) string {
	var why []string
	if cpus+1e-9 < cfg.ServerCPUs {
		why = append(why, fmt.Sprintf("%.3g cpus < %.3g", cpus, cfg.ServerCPUs))
	}
	if mem+1e-9 < cfg.ServerMem {
		why = append(why, fmt.Sprintf("%.0f MB < %.0f MB", mem, cfg.ServerMem))
	}
	if _, ok := mesos.PickPorts(o.Resources, ServerPorts); !ok {
		n := uint64(0)
		for _, r := range mesos.AllRanges(o.Resources, mesos.ResPorts) {
			n += mesos.CountRange(r)
		}
		why = append(why, fmt.Sprintf("%d free port(s) < %d", n, ServerPorts))
	}
	if len(why) == 0 {
		return ""
	}
	out := why[0]
	for _, w := range why[1:] {
		out += ", " + w
	}
	return out
}

// NoteLaunch records a task the controller is about to launch (called
// before the ACCEPT is sent, and persisted with the state).
func (s *State) NoteLaunch(id string, spec LaunchSpec, o mesos.Offer, now time.Time) *Task {
	t := &Task{
		ID: id, Role: spec.Role, AgentID: o.AgentID.Value, Hostname: o.Hostname,
		Ports: spec.Ports, CPUs: spec.CPUs, Mem: spec.Mem, Server: spec.Server, ServerAddr: spec.ServerAddr,
		State: mesos.TaskStaging, LaunchedAt: now, UpdatedAt: now,
	}
	s.Tasks[id] = t
	if spec.Role == RoleServer {
		s.CurrentServer = id
	}
	return t
}
