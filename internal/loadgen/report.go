package loadgen

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
)

// Percentiles of a set of durations.
type Percentiles struct {
	N   int           `json:"n"`
	P50 time.Duration `json:"p50_ns"`
	P90 time.Duration `json:"p90_ns"`
	P99 time.Duration `json:"p99_ns"`
	Max time.Duration `json:"max_ns"`
}

func percentiles(ns []int64) Percentiles {
	s := sortedCopy(ns)
	if len(s) == 0 {
		return Percentiles{}
	}
	at := func(q float64) time.Duration {
		i := int(q*float64(len(s))+0.5) - 1
		return time.Duration(s[max(0, min(i, len(s)-1))])
	}
	return Percentiles{N: len(s), P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: time.Duration(s[len(s)-1])}
}

func (p Percentiles) String() string {
	if p.N == 0 {
		return "none"
	}
	r := func(d time.Duration) time.Duration { return d.Round(10 * time.Microsecond) }
	return fmt.Sprintf("n=%d p50=%v p90=%v p99=%v max=%v", p.N, r(p.P50), r(p.P90), r(p.P99), r(p.Max))
}

// TipReport is the fan-out of one new tip's clean mining.notify.
type TipReport struct {
	// Sessions is how many sessions read it (of Report.Up).
	Sessions int `json:"sessions"`
	// FromFirst is each session's receipt after the first session's: the
	// pool's broadcast spread, independent of how fast the node and the
	// template poll were.
	FromFirst Percentiles `json:"from_first"`
	// FromTip is each receipt after the Tip call began: the node making
	// the block, the pool fetching its template, and the broadcast.
	FromTip Percentiles `json:"from_tip"`
}

// Report is what a run measured.
type Report struct {
	Sessions   int `json:"sessions"`
	Submitters int `json:"submitters"`
	// Up is how many sessions were subscribed, authorized and had a job.
	Up int `json:"up"`
	// ConnectTime is from the first dial to the last session up;
	// ConnectRate is Up / ConnectTime.
	ConnectTime time.Duration `json:"connect_time_ns"`
	ConnectRate float64       `json:"connect_rate_per_s"`
	// Connect is each session's dial → first job.
	Connect Percentiles `json:"connect"`
	// MemoryBefore/After are Config.Memory's readings; PerSession is
	// their difference over Up.
	MemoryBefore int64   `json:"memory_before_bytes,omitempty"`
	MemoryAfter  int64   `json:"memory_after_bytes,omitempty"`
	PerSession   float64 `json:"memory_per_session_bytes,omitempty"`
	// Shares: sent, accepted, rejected, and the submit → answer latency.
	SharesSent     int64       `json:"shares_sent"`
	SharesAccepted int64       `json:"shares_accepted"`
	SharesRejected int64       `json:"shares_rejected"`
	ShareLatency   Percentiles `json:"share_latency"`
	Tips           []TipReport `json:"tips"`
	// Errors counts each distinct error text.
	Errors map[string]int `json:"errors"`
	// Counts are the run's event counters (sent, accepted, rejected,
	// submit_not_ready, share_search_gave_up, pool_requests).
	Counts map[string]int64 `json:"counts"`
}

func (r *run) report() *Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	rep := &Report{
		Sessions: r.cfg.Sessions, Submitters: r.cfg.Submitters, Up: int(r.up.Load()),
		Connect:        percentiles(r.connectNS),
		MemoryBefore:   r.memBefore,
		MemoryAfter:    r.memAfter,
		SharesSent:     r.counts["sent"],
		SharesAccepted: r.counts["accepted"],
		SharesRejected: r.counts["rejected"],
		ShareLatency:   percentiles(r.shareNS),
		Errors:         maps.Clone(r.errs),
	}
	if last := r.lastUp.Load(); last > 0 {
		rep.ConnectTime = time.Unix(0, last).Sub(r.start)
		if rep.ConnectTime > 0 {
			rep.ConnectRate = float64(rep.Up) / rep.ConnectTime.Seconds()
		}
	}
	if rep.Up > 0 && r.memAfter > 0 {
		rep.PerSession = float64(r.memAfter-r.memBefore) / float64(rep.Up)
	}
	rep.Tips = tipReports(r.tipSeen, r.tipCalls)
	rep.Counts = maps.Clone(r.counts)
	return rep
}

// tipReports orders the tips seen by their first receipt and times the
// k-th against the k-th Tip call.
func tipReports(seen map[string]*tipRecord, calls []time.Time) []TipReport {
	recs := slices.Collect(maps.Values(seen))
	recs = slices.DeleteFunc(recs, func(t *tipRecord) bool { return len(t.receipts()) == 0 })
	slices.SortFunc(recs, func(a, b *tipRecord) int { return cmp.Compare(slices.Min(a.receipts()), slices.Min(b.receipts())) })
	out := make([]TipReport, 0, len(recs))
	for k, t := range recs {
		received := t.receipts()
		first := slices.Min(received)
		fromFirst := make([]int64, len(received))
		var fromTip []int64
		for i, at := range received {
			fromFirst[i] = at - first
			if k < len(calls) {
				fromTip = append(fromTip, at-calls[k].UnixNano())
			}
		}
		out = append(out, TipReport{Sessions: len(received), FromFirst: percentiles(fromFirst), FromTip: percentiles(fromTip)})
	}
	return out
}

// WriteText writes the report for a person.
func (rep *Report) WriteText(w io.Writer) {
	fmt.Fprintf(w, "sessions      %d up of %d (%d submitting)\n", rep.Up, rep.Sessions, rep.Submitters)
	fmt.Fprintf(w, "connect       %v for all, %.0f sessions/s; each: %v\n",
		rep.ConnectTime.Round(time.Millisecond), rep.ConnectRate, rep.Connect)
	if rep.MemoryAfter > 0 {
		fmt.Fprintf(w, "memory        %.1f MiB → %.1f MiB: %.1f KiB per session\n",
			float64(rep.MemoryBefore)/(1<<20), float64(rep.MemoryAfter)/(1<<20), rep.PerSession/1024)
	}
	fmt.Fprintf(w, "shares        %d sent, %d accepted, %d rejected; latency %v\n",
		rep.SharesSent, rep.SharesAccepted, rep.SharesRejected, rep.ShareLatency)
	for i, t := range rep.Tips {
		fmt.Fprintf(w, "tip %-2d        read by %d; after the first: %v; after the Tip call: %v\n",
			i+1, t.Sessions, t.FromFirst, t.FromTip)
	}
	var counts []string
	for _, k := range slices.Sorted(maps.Keys(rep.Counts)) {
		counts = append(counts, fmt.Sprintf("%s=%d", k, rep.Counts[k]))
	}
	fmt.Fprintf(w, "counts        %s\n", strings.Join(counts, " "))
	keys := slices.Sorted(maps.Keys(rep.Errors))
	if len(keys) == 0 {
		fmt.Fprintln(w, "errors        none")
	}
	for _, k := range keys {
		fmt.Fprintf(w, "error         %d× %s\n", rep.Errors[k], k)
	}
}
