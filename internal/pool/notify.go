package pool

import (
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
