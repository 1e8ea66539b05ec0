package miner

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Stats is a snapshot of a Miner, safe to marshal as JSON (/api/stats). It
// never contains a password.
type Stats struct {
	Impl            string            `json:"impl"`
	Pool            string            `json:"pool"` // current endpoint, no credentials
	User            string            `json:"user"`
	Connected       bool              `json:"connected"`
	Authorized      bool              `json:"authorized"`
	Difficulty      float64           `json:"difficulty"` // of the job being hashed
	JobID           string            `json:"job_id"`
	Extranonce2Size int               `json:"extranonce2_size"`
	VersionMask     string            `json:"version_mask"` // granted mask, "" if none
	HashRate        float64           `json:"hashrate"`     // H/s over the last sample interval
	Hashes          uint64            `json:"hashes"`
	Threads         []ThreadStats     `json:"threads"`
	Accepted        uint64            `json:"accepted"`
	Rejected        uint64            `json:"rejected"`
	RejectReasons   map[string]uint64 `json:"reject_reasons"`
	Invalid         uint64            `json:"invalid"`       // failed the re-check; never submitted
	Stale           uint64            `json:"stale_dropped"` // found for a job a clean notify replaced
	Dropped         uint64            `json:"queue_dropped"` // found while the submit queue was full
	BlockCandidates uint64            `json:"block_candidates"`
	Jobs            uint64            `json:"jobs"`
	JobsRefused     uint64            `json:"jobs_refused"`
	BadLines        uint64            `json:"bad_lines"`
	Connects        uint64            `json:"connects"`
	StartedAt       time.Time         `json:"started_at"`
}

// ThreadStats is one hashing thread.
type ThreadStats struct {
	Thread   int     `json:"thread"`
	HashRate float64 `json:"hashrate"` // H/s
	Hashes   uint64  `json:"hashes"`
}

// maxReasons caps the distinct reject reasons kept (pools send free text).
const maxReasons = 32

// counters is the miner's bookkeeping. Atomics are written by threads and
// the session; the mutex guards the few session-level fields.
type counters struct {
	accepted, rejected, invalid, stale, dropped atomic.Uint64
	blocks, jobs, jobsRefused, badLines         atomic.Uint64
	connects                                    atomic.Uint64

	mu         sync.Mutex
	pool       string
	user       string
	connected  bool
	authorized bool
	diff       float64
	jobID      string
	en2Size    int
	vmask      uint32
	reasons    map[string]uint64
	rates      []float64 // per thread, H/s
	rate       float64
}

func (c *counters) reject(reason string) {
	c.rejected.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.reasons == nil {
		c.reasons = map[string]uint64{}
	}
	if _, ok := c.reasons[reason]; !ok && len(c.reasons) >= maxReasons {
		reason = "other"
	}
	c.reasons[reason]++
}

func (c *counters) setSession(f func(c *counters)) {
	c.mu.Lock()
	f(c)
	c.mu.Unlock()
}

// Stats returns a snapshot. It is safe for concurrent use.
func (m *Miner) Stats() Stats {
	c := &m.stats
	s := Stats{
		Impl:            m.impl.Name,
		Accepted:        c.accepted.Load(),
		Rejected:        c.rejected.Load(),
		Invalid:         c.invalid.Load(),
		Stale:           c.stale.Load(),
		Dropped:         c.dropped.Load(),
		BlockCandidates: c.blocks.Load(),
		Jobs:            c.jobs.Load(),
		JobsRefused:     c.jobsRefused.Load(),
		BadLines:        c.badLines.Load(),
		Connects:        c.connects.Load(),
		StartedAt:       m.started,
		RejectReasons:   map[string]uint64{},
	}
	c.mu.Lock()
	s.Pool, s.User, s.Connected, s.Authorized = c.pool, c.user, c.connected, c.authorized
	s.Difficulty, s.JobID, s.Extranonce2Size = c.diff, c.jobID, c.en2Size
	if c.vmask != 0 {
		s.VersionMask = fmt.Sprintf("%08x", c.vmask)
	}
	for k, v := range c.reasons {
		s.RejectReasons[k] = v
	}
	s.HashRate = c.rate
	rates := append([]float64(nil), c.rates...)
	c.mu.Unlock()
	for i := range m.threads {
		h := m.threads[i].hashes.Load()
		s.Hashes += h
		ts := ThreadStats{Thread: i, Hashes: h}
		if i < len(rates) {
			ts.HashRate = rates[i]
		}
		s.Threads = append(s.Threads, ts)
	}
	return s
}

// metrics are the miner's Prometheus series. Labels are bounded: thread
// (by thread count), result and reason (fixed sets).
type metrics struct {
	shares     *prometheus.CounterVec // result=accepted|rejected|invalid|stale
	rejects    *prometheus.CounterVec // reason: a stratum.RejectKind label
	dropped    prometheus.Counter
	blocks     prometheus.Counter
	jobs       prometheus.Counter
	refused    prometheus.Counter
	badLines   prometheus.Counter
	connects   prometheus.Counter
	connected  prometheus.Gauge
	difficulty prometheus.Gauge
	rate       *prometheus.GaugeVec // thread
}

func newMetrics(reg prometheus.Registerer, m *Miner) *metrics {
	f := promauto.With(reg)
	mt := &metrics{
		shares: f.NewCounterVec(prometheus.CounterOpts{Name: "hashfleet_miner_shares_total",
			Help: "Shares found, by result: accepted, rejected (by the pool), invalid (failed the local re-check), stale (dropped after clean_jobs)."}, []string{"result"}),
		rejects: f.NewCounterVec(prometheus.CounterOpts{Name: "hashfleet_miner_rejects_total",
			Help: "Shares rejected by the pool, by reason: the stratum.RejectKind the Stratum error code names (job_not_found, duplicate, low_difficulty, unauthorized, not_subscribed, other)."}, []string{"reason"}),
		dropped:    f.NewCounter(prometheus.CounterOpts{Name: "hashfleet_miner_queue_dropped_total", Help: "Found shares dropped because the submit queue was full."}),
		blocks:     f.NewCounter(prometheus.CounterOpts{Name: "hashfleet_miner_block_candidates_total", Help: "Shares that also met the network target."}),
		jobs:       f.NewCounter(prometheus.CounterOpts{Name: "hashfleet_miner_jobs_total", Help: "Jobs (mining.notify) accepted."}),
		refused:    f.NewCounter(prometheus.CounterOpts{Name: "hashfleet_miner_jobs_refused_total", Help: "mining.notify messages refused as invalid."}),
		badLines:   f.NewCounter(prometheus.CounterOpts{Name: "hashfleet_miner_bad_lines_total", Help: "Malformed or oversized lines received from the pool."}),
		connects:   f.NewCounter(prometheus.CounterOpts{Name: "hashfleet_miner_connects_total", Help: "Connection attempts to pools."}),
		connected:  f.NewGauge(prometheus.GaugeOpts{Name: "hashfleet_miner_connected", Help: "1 while a pool session is authorized."}),
		difficulty: f.NewGauge(prometheus.GaugeOpts{Name: "hashfleet_miner_difficulty", Help: "Share difficulty of the job being hashed."}),
		rate: f.NewGaugeVec(prometheus.GaugeOpts{Name: "hashfleet_miner_hashrate_hps",
			Help: "Hash rate per thread over the last sample interval, hashes per second."}, []string{"thread"}),
	}
	f.NewCounterFunc(prometheus.CounterOpts{Name: "hashfleet_miner_hashes_total", Help: "Nonces hashed by all threads."},
		func() float64 {
			var n uint64
			for i := range m.threads {
				n += m.threads[i].hashes.Load()
			}
			return float64(n)
		})
	for _, r := range []string{"accepted", "rejected", "invalid", "stale"} {
		mt.shares.WithLabelValues(r)
	}
	for i := range m.threads {
		mt.rate.WithLabelValues(strconv.Itoa(i))
	}
	return mt
}

// statsLoop samples the per-thread counters every interval, publishes the
// rates and logs progress lines like cpuminer's.
func (m *Miner) statsLoop(ctx context.Context) {
	interval := m.statsInterval
	prev := make([]uint64, len(m.threads))
	last := time.Now()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			dt := now.Sub(last).Seconds()
			last = now
			rates := make([]float64, len(m.threads))
			var total float64
			for i := range m.threads {
				h := m.threads[i].hashes.Load()
				rates[i] = float64(h-prev[i]) / dt
				prev[i] = h
				total += rates[i]
				m.met.rate.WithLabelValues(strconv.Itoa(i)).Set(rates[i])
			}
			m.stats.setSession(func(c *counters) { c.rates, c.rate = rates, total })
			if total == 0 {
				continue
			}
			if !m.quiet {
				for i, r := range rates {
					m.log.Info(fmt.Sprintf("thread %d: %s", i, FormatHashRate(r)), "thread", i, "hashrate", r)
				}
			}
			m.log.Info("Total: "+FormatHashRate(total), "hashrate", total,
				"accepted", m.stats.accepted.Load(), "rejected", m.stats.rejected.Load())
		}
	}
}

// FormatHashRate formats H/s with an SI prefix, e.g. "4.98 MH/s".
func FormatHashRate(hps float64) string {
	units := []string{"H/s", "kH/s", "MH/s", "GH/s", "TH/s", "PH/s"}
	i := 0
	for hps >= 1000 && i < len(units)-1 {
		hps /= 1000
		i++
	}
	return fmt.Sprintf("%.2f %s", hps, units[i])
}
