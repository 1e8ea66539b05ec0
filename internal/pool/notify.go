package pool

import (
	"runtime"
	"sync"

	"github.com/hashfleet/hashfleet/internal/job"
	"github.com/hashfleet/hashfleet/internal/stratum"
)

// notifyBody encodes j's session-independent mining.notify parameters.
func notifyBody(j *job.Job) stratum.NotifyBody {
	return stratum.NewNotifyBody(&stratum.Notify{
		PrevHash: j.PrevHash, Coinb1: j.Coinb1, Coinb2: j.Coinb2, Branch: j.Branch,
		Version: j.Version, NBits: j.Bits, NTime: j.Time,
	})
}

// reconnectLine asks a client to reconnect to this same server
// (client.reconnect with no params); shared, never modified.
var reconnectLine, _ = stratum.EncodeNotification(stratum.MethodReconnect, stratum.Reconnect{})

// fanOutChunk is the fewest connections a broadcast worker takes;
// fanOutYield, how many it serves between two yields.
const (
	fanOutChunk = 256
	fanOutYield = 128
)

// fanOut calls send for every connection from up to GOMAXPROCS workers,
// each with its own scratch buffer for the lines it builds (send writes
// them at once, without blocking, and copies only what must wait), and
// returns when all are done. The workers yield every fanOutYield
// connections, so that shares submitted meanwhile are answered between
// them rather than after the whole broadcast.
func fanOut(conns []*conn, send func(c *conn, scratch *[]byte)) {
	workers := max(1, min(runtime.GOMAXPROCS(0), len(conns)/fanOutChunk))
	per := (len(conns) + workers - 1) / workers
	var wg sync.WaitGroup
	for w := range workers {
		part := conns[min(w*per, len(conns)):min((w+1)*per, len(conns))]
		wg.Go(func() {
			scratch := make([]byte, 0, 2048)
			for i, c := range part {
				send(c, &scratch)
				if i%fanOutYield == fanOutYield-1 {
					runtime.Gosched()
				}
			}
		})
	}
	wg.Wait()
}
