package pool

import (
	"strconv"
	"testing"
)

// BenchmarkNotifyEncode measures what a new tip costs the encoder for 1,000
// sessions: the job's shared notify params once, then one line per session
// (its job id and the clean flag). The broadcast figure in BENCHMARKS.md
// (BenchmarkNewTipBroadcast1000) includes this work.
func BenchmarkNotifyEncode(b *testing.B) {
	j := *newFixedJobs(b).j
	j.Branch = make([][32]byte, 12) // a block of a few thousand transactions
	for i := range j.Branch {
		j.Branch[i][0] = byte(i)
	}
	sids := make([]string, 1000)
	for i := range sids {
		sids[i] = strconv.FormatUint(uint64(i+1), 16)
	}
	b.ReportAllocs()
	for b.Loop() {
		body := notifyBody(&j)
		for _, sid := range sids {
			_ = body.AppendLine(make([]byte, 0, body.LineLen(len(sid))), sid, true)
		}
	}
}
