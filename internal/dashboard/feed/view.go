package feed

import (
	"fmt"
	"strings"

	"github.com/hashfleet/hashfleet/internal/dashboard"
	"github.com/hashfleet/hashfleet/internal/job"
	"github.com/hashfleet/hashfleet/internal/pool"
)

// poolView turns the server's stats into the dashboard's pool panel and
// the workers still connected or hashing.
func poolView(ps pool.Stats, addr string) (dashboard.Pool, []dashboard.Worker) {
	p := dashboard.Pool{
		Address: addr, Connections: ps.Connections, HashRate: ps.HashrateHs,
		Accepted: ps.SharesAccepted, Rejected: ps.RejectReasons,
	}
	if p.Address == "" {
		p.Address = ps.StratumAddr
	}
	if ps.Job != nil {
		p.JobHeight = ps.Job.Height
	}
	var ws []dashboard.Worker
	for _, w := range ps.Workers {
		if w.Connections == 0 && w.HashrateHs == 0 {
			continue // gone; its totals stay in the pool's store
		}
		ws = append(ws, dashboard.Worker{Name: w.Name, HashRate: w.HashrateHs, Accepted: w.Accepted, Rejected: w.Rejected, Difficulty: w.Difficulty})
		p.Difficulty = max(p.Difficulty, w.Difficulty)
	}
	for _, b := range ps.Blocks {
		p.Blocks = append(p.Blocks, blockView(b))
	}
	return p, ws
}

func blockView(b job.BlockRecord) dashboard.Block {
	v := dashboard.Block{Height: b.Height, Hash: b.Hash, Time: b.Time, Ours: true, State: b.State}
	if b.State == job.BlockOrphaned {
		v.Result = b.Reason
	} else if !b.Accepted {
		v.Result = b.NodeResult
		if v.Result == "" {
			v.Result = "not accepted"
		}
	}
	return v
}

// resString renders /master/state resources as "cpus:2 mem:4096 ports:[…]".
func resString(m map[string]any) string {
	var parts []string
	for _, k := range []string{"cpus", "mem", "disk", "ports"} {
		v, ok := m[k]
		if !ok {
			continue
		}
		switch x := v.(type) {
		case float64:
			if x == 0 {
				continue
			}
			parts = append(parts, fmt.Sprintf("%s:%g", k, x))
		case string:
			if x == "" || x == "[]" {
				continue
			}
			parts = append(parts, k+":"+x)
		}
	}
	return strings.Join(parts, " ")
}
