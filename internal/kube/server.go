package kube

import (
	"fmt"
	"time"
)

// reconcileServer follows the server pod: it returns it when it is Ready
// (workers may run), else nil, after deciding its replacement, deletion or
// creation.
func (s *State) reconcileServer(p *Plan, w World) *Pod {
	var cur *Pod
	for i := range w.Pods {
		q := &w.Pods[i]
		if q.Role != RoleServer {
			continue
		}
		if q.Name == s.cfg.ServerName {
			cur = q
			continue
		}
		s.del(p, w.Now, q, nodeGone(q, w), "a server pod not named "+s.cfg.ServerName)
	}
	if cur == nil || cur.Deleting {
		s.serverGone(p, w, cur)
		return nil
	}
	if cur.UID != s.serverUID {
		// A new incarnation: the one just created, or found at start.
		s.serverUID, s.serverReadyAt, s.serverReady, s.serverCounted = cur.UID, time.Time{}, false, false
	}
	switch {
	case nodeGone(cur, w):
		s.serverEnded(p, w.Now, cur, "NodeLost", "its node "+cur.Node+" is gone")
		s.del(p, w.Now, cur, true, "node "+cur.Node+" is gone")
		return nil
	case cur.ended():
		s.serverEnded(p, w.Now, cur, "ServerFailed", fmt.Sprintf("server pod %s: %s", cur.Phase, cur.Message))
		s.del(p, w.Now, cur, false, "server pod "+string(cur.Phase))
		return nil
	case cur.Ready:
		if !s.serverReady {
			s.serverReady = true
			if s.serverReadyAt.IsZero() {
				s.serverReadyAt = w.Now
			}
			p.event(cur.Name, false, "ServerReady", "server pod is Ready: workers may start")
		}
		return cur
	}
	if s.serverReady {
		s.serverReady = false
		p.event(cur.Name, true, "ServerNotReady", "server pod is no longer Ready: deleting its workers")
	}
	s.reportWaiting(p, cur)
	return nil
}

// serverEnded counts the end of the followed server once and arms the
// relaunch backoff.
func (s *State) serverEnded(p *Plan, now time.Time, q *Pod, reason, msg string) {
	if s.serverCounted {
		return
	}
	s.serverCounted, s.serverReady = true, false
	s.ServerFailures = s.cfg.FailuresAfter(s.serverReadyAt, s.ServerFailures, now)
	s.ServerBackoffUntil = now.Add(s.cfg.Backoff(s.ServerFailures))
	p.event(q.Name, true, reason, fmt.Sprintf("%s; deleting the workers; a new server in %v (%d consecutive failures)",
		msg, s.ServerBackoffUntil.Sub(now), s.ServerFailures))
}

// serverGone handles a server pod that is being deleted (cur) or absent
// (cur nil): count its end if nobody saw it fail, wait until it is gone,
// then create the next one once the backoff allows.
func (s *State) serverGone(p *Plan, w World, cur *Pod) {
	if s.serverUID != "" && !s.serverCounted {
		gone := Pod{Name: s.cfg.ServerName, Role: RoleServer}
		s.serverEnded(p, w.Now, &gone, "ServerDeleted", "server pod deleted from outside the controller")
		if cur == nil {
			p.Events[len(p.Events)-1].Pod = "" // the pod is gone: record it on the Service
		}
	}
	if cur != nil {
		// The fixed name is taken until the pod is gone.
		s.serverUID, s.serverCounted = cur.UID, true
		if nodeGone(cur, w) {
			s.del(p, w.Now, cur, true, "node "+cur.Node+" is gone")
		}
		return
	}
	s.serverUID, s.serverReady = "", false
	if _, ok := s.expect[s.cfg.ServerName]; ok {
		return // created; the informer has not shown it yet
	}
	if w.Now.Before(s.ServerBackoffUntil) {
		p.requeueAt(w.Now, s.ServerBackoffUntil)
		return
	}
	c := Create{Role: RoleServer, Name: s.cfg.ServerName}
	s.expect[c.Name] = expectation{role: RoleServer, at: w.Now}
	p.Creates = append(p.Creates, c)
}
