package kube

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// reconcileWorkers deletes the workers that must not run (no Ready server,
// another server's, ended, on a vanished node) and returns the rest: their
// count and cpus, and the cpus of those not yet placed on a node (creates
// in flight included).
func (s *State) reconcileWorkers(p *Plan, w World, srv *Pod) (n int, cpus, pending float64) {
	for i := range w.Pods {
		q := &w.Pods[i]
		if q.Role != RoleWorker {
			continue
		}
		gone := nodeGone(q, w)
		switch {
		case q.Deleting:
			if gone {
				s.del(p, w.Now, q, true, "node "+q.Node+" is gone")
			}
		case srv == nil:
			s.del(p, w.Now, q, gone, "the server is not Ready")
		case q.ServerUID != srv.UID:
			s.del(p, w.Now, q, gone, "created for another server")
		case gone:
			s.workerEnded(p, w.Now, q, "NodeLost", "its node "+q.Node+" is gone")
			s.del(p, w.Now, q, true, "node "+q.Node+" is gone")
		case q.ended():
			s.workerEnded(p, w.Now, q, "WorkerFailed", fmt.Sprintf("worker pod %s: %s", q.Phase, q.Message))
			s.del(p, w.Now, q, false, "worker pod "+string(q.Phase))
		default:
			s.reportWaiting(p, q)
			n++
			cpus += q.CPUs
			if q.Node == "" {
				pending += q.CPUs
			}
		}
	}
	for _, e := range s.expect {
		if e.role == RoleWorker && srv != nil && e.serverUID == srv.UID {
			n++
			cpus += e.cpus
			pending += e.cpus
		}
	}
	return n, round(cpus), round(pending)
}

// workerEnded counts a worker's end once and arms the worker backoff.
func (s *State) workerEnded(p *Plan, now time.Time, q *Pod, reason, msg string) {
	if s.ended[q.UID] {
		return
	}
	s.ended[q.UID] = true
	s.WorkerFailures++
	s.WorkerBackoffUntil = now.Add(s.cfg.Backoff(s.WorkerFailures))
	p.event(q.Name, true, reason, fmt.Sprintf("%s; a replacement after %v (%d consecutive failures)",
		msg, s.WorkerBackoffUntil.Sub(now), s.WorkerFailures))
}

// createWorkers adds workers for the Ready server srv up to the caps and
// the cluster's free cpus, unless the worker backoff runs.
func (s *State) createWorkers(p *Plan, w World, srv *Pod, n int, cpus, pending float64) {
	pol := s.cfg.Policy
	if pol.Full(n, cpus) {
		s.WorkerReason = pol.FullReason(n, cpus)
		return
	}
	if w.Now.Before(s.WorkerBackoffUntil) {
		s.WorkerReason = fmt.Sprintf("worker relaunch backoff (%d failures) until %s",
			s.WorkerFailures, s.WorkerBackoffUntil.Format(time.RFC3339))
		p.requeueAt(w.Now, s.WorkerBackoffUntil)
		return
	}
	made := 0
	for _, free := range freeCPUs(w.Nodes, pending) {
		for !pol.Full(n, cpus) {
			size := pol.NextWorker(free, cpus)
			if size <= 0 {
				break
			}
			s.seq++
			c := Create{Role: RoleWorker, Name: s.cfg.WorkerPrefix + s.cfg.Nonce + strconv.FormatUint(s.seq, 36),
				CPUs: size, ServerUID: srv.UID, ServerIP: srv.IP}
			s.expect[c.Name] = expectation{role: RoleWorker, cpus: size, serverUID: srv.UID, at: w.Now}
			p.Creates = append(p.Creates, c)
			free, n, cpus, made = round(free-size), n+1, round(cpus+size), made+1
		}
	}
	switch {
	case pol.Full(n, cpus):
		s.WorkerReason = pol.FullReason(n, cpus)
	case made > 0:
		s.WorkerReason = fmt.Sprintf("created %d worker(s)", made)
	default:
		s.WorkerReason = fmt.Sprintf("no usable node has %.3g free cpus for a worker", pol.MinWorkerCPUs())
	}
}

// freeCPUs returns the free cpus (allocatable less requested) of each
// usable node, in name order, after taking the cpus of pods not yet placed
// from the first nodes that have room: those pods will land somewhere.
func freeCPUs(nodes []Node, pending float64) []float64 {
	ns := slices.Clone(nodes)
	slices.SortFunc(ns, func(a, b Node) int { return strings.Compare(a.Name, b.Name) })
	var free []float64
	for _, nd := range ns {
		if !nd.Usable {
			continue
		}
		f := max(round(nd.CPUs-nd.Requested), 0)
		take := min(f, pending)
		f, pending = round(f-take), round(pending-take)
		free = append(free, f)
	}
	return free
}

// round keeps cpu sums at millicpu precision (Kubernetes' own).
func round(v float64) float64 {
	return float64(int64(v*1000+0.5*sign(v))) / 1000
}

func sign(v float64) float64 {
	if v < 0 {
		return -1
	}
	return 1
}
