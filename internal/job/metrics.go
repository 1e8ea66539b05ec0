package job

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

type metrics struct {
	shares             *prometheus.CounterVec // result
	sharesAccepted     prometheus.Counter     // shares{result="accepted"}, resolved once
	blocks             *prometheus.CounterVec // outcome
	blocksFound        prometheus.Counter
	blockStates        *prometheus.CounterVec // state
	jobs               *prometheus.CounterVec // kind: clean, update
	templateErrors     prometheus.Counter
	commitmentMismatch prometheus.Counter
	submitRetries      prometheus.Counter
	height             prometheus.Gauge
	forwarded          *prometheus.CounterVec // result (proxy mode)
	outcomesDropped    prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	const ns, sub = "hashfleet", "job"
	m := &metrics{
		shares: f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "shares_total",
			Help: "Shares validated, by result: accepted or the rejection kind (stratum.RejectKind: job_not_found, stale, duplicate, low_difficulty, bad_ntime, bad_version, bad_extranonce2, other)."},
			[]string{"result"}),
		blocks: f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "blocks_total",
			Help: "Found blocks by final outcome (accepted, rejected, not_main_chain, error, lost)."},
			[]string{"outcome"}),
		blocksFound: f.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "blocks_found_total",
			Help: "Shares that met the network target (distinct block hashes)."}),
		blockStates: f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "block_state_changes_total",
			Help: "Followed blocks that became confirmed (buried), orphaned or rejected (a pending one the node never got), or came back to the main chain (accepted)."},
			[]string{"state"}),
		jobs: f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "jobs_total",
			Help: "Jobs published, by kind (clean = new tip, update = same tip)."}, []string{"kind"}),
		templateErrors: f.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "template_errors_total",
			Help: "Failed getblocktemplate calls and templates that could not become jobs."}),
		commitmentMismatch: f.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "witness_commitment_mismatch_total",
			Help: "Templates whose default_witness_commitment differed from the recomputed one."}),
		submitRetries: f.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "block_submit_retries_total",
			Help: "Block submissions retried after a node error or timeout."}),
		forwarded: f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "upstream_forwarded_total",
			Help: "Proxy mode: shares forwarded upstream, by result (accepted, rejected, session_gone, queue_full)."}, []string{"result"}),
		outcomesDropped: f.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "block_outcomes_dropped_total",
			Help: "Block outcomes not delivered to a SubscribeBlocks reader whose buffer was full."}),
		height: f.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "template_height",
			Help: "Height of the block being mined."}),
	}
	m.sharesAccepted = m.shares.WithLabelValues("accepted")
	return m
}
