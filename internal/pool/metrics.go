package pool

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// metrics are the pool's Prometheus series. Labels are bounded: reasons and
// results come from fixed sets, never from worker names.
type metrics struct {
	conns        prometheus.Gauge
	sessions     prometheus.Gauge
	accepts      *prometheus.CounterVec // result: accepted, conn_limit, ip_conn_limit, ip_rate_limit
	disconnects  *prometheus.CounterVec // reason
	shares       prometheus.Counter
	shareDiff    prometheus.Counter
	rejects      *prometheus.CounterVec // reason
	jobs         *prometheus.CounterVec // clean: true, false
	broadcast    prometheus.Histogram
	diffChanges  prometheus.Counter
	submitErrors prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, hashrate func() float64) *metrics {
	f := promauto.With(reg)
	m := &metrics{
		conns: f.NewGauge(prometheus.GaugeOpts{
			Name: "hashfleet_pool_connections", Help: "Open Stratum connections.",
		}),
		sessions: f.NewGauge(prometheus.GaugeOpts{
			Name: "hashfleet_pool_sessions", Help: "Subscribed and authorized Stratum sessions.",
		}),
		accepts: f.NewCounterVec(prometheus.CounterOpts{
			Name: "hashfleet_pool_connections_total", Help: "TCP connections accepted (result=accepted) or refused at once by a limit (result=conn_limit: the pool is full; ip_conn_limit, ip_rate_limit: the address has too many or opens them too fast).",
		}, []string{"result"}),
		disconnects: f.NewCounterVec(prometheus.CounterOpts{
			Name: "hashfleet_pool_disconnects_total", Help: "Closed connections by reason (slow_client, idle_timeout, flood, ...).",
		}, []string{"reason"}),
		shares: f.NewCounter(prometheus.CounterOpts{
			Name: "hashfleet_pool_shares_accepted_total", Help: "Accepted shares.",
		}),
		shareDiff: f.NewCounter(prometheus.CounterOpts{
			Name: "hashfleet_pool_share_difficulty_total", Help: "Sum of the difficulty of accepted shares (x 2^32 = hashes).",
		}),
		rejects: f.NewCounterVec(prometheus.CounterOpts{
			Name: "hashfleet_pool_shares_rejected_total", Help: "Rejected shares by reason.",
		}, []string{"reason"}),
		jobs: f.NewCounterVec(prometheus.CounterOpts{
			Name: "hashfleet_pool_jobs_total", Help: "Jobs broadcast, by clean_jobs.",
		}, []string{"clean"}),
		broadcast: f.NewHistogram(prometheus.HistogramOpts{
			Name:    "hashfleet_pool_broadcast_seconds",
			Help:    "Time to queue one job's mining.notify for every session.",
			Buckets: prometheus.ExponentialBuckets(10e-6, 4, 10),
		}),
		diffChanges: f.NewCounter(prometheus.CounterOpts{
			Name: "hashfleet_pool_difficulty_changes_total", Help: "Share difficulty changes sent (vardiff and suggest_difficulty).",
		}),
		submitErrors: f.NewCounter(prometheus.CounterOpts{
			Name: "hashfleet_pool_submit_errors_total", Help: "Shares that could not be validated or submitted (node errors, timeouts).",
		}),
	}
	f.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "hashfleet_pool_hashrate_hashes_per_second", Help: "Pool hash rate estimated from accepted shares over 5 minutes.",
	}, hashrate)
	return m
}
