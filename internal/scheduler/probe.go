package scheduler

import (
	"context"
	"net"
	"net/url"
	"time"
)

// nodeProbe is the last result of checking that the node RPC endpoint
// accepts TCP connections from the scheduler's host.
type nodeProbe struct {
	ok  bool
	err string
	at  time.Time
}

// nodeAddr returns host:port of an http(s) node RPC URL.
func nodeAddr(raw string) (string, bool) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "", false
	}
	if u.Port() != "" {
		return u.Host, true
	}
	if u.Scheme == "https" {
		return net.JoinHostPort(u.Hostname(), "443"), true
	}
	return net.JoinHostPort(u.Hostname(), "80"), true
}

// probeNode checks the node endpoint every interval until ctx ends. The
// result is advisory (agents may see another network than the scheduler):
// it is logged on change and shown in Status, and does not stop launches.
func (s *Scheduler) probeNode(ctx context.Context, interval time.Duration) {
	addr, ok := nodeAddr(s.cfg.NodeRPC)
	if !ok {
		s.node.Store(&nodeProbe{err: "node RPC URL " + s.cfg.NodeRPC + " has no host", at: time.Now()})
		return
	}
	var last *nodeProbe
	for {
		d := net.Dialer{Timeout: 3 * time.Second}
		c, err := d.DialContext(ctx, "tcp", addr)
		p := &nodeProbe{ok: err == nil, at: time.Now()}
		if err != nil {
			p.err = err.Error()
		} else {
			c.Close()
		}
		if ctx.Err() != nil {
			return
		}
		if last == nil || last.ok != p.ok {
			if p.ok {
				s.log.Info("scheduler: node RPC endpoint reachable", "addr", addr)
			} else {
				s.log.Warn("scheduler: node RPC endpoint not reachable from the scheduler; the server task will likely fail",
					"addr", addr, "err", p.err)
			}
		}
		s.node.Store(p)
		last = p
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}
