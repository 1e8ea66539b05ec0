package kube

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// metrics are the controller's Prometheus metrics. The names are the Mesos
// scheduler's where the concept is the same (a launch is a pod created, a
// kill a pod deleted), so dashboards and alerts work with either backend.
type metrics struct {
	launches    *prometheus.CounterVec // role
	kills       prometheus.Counter
	callErrors  *prometheus.CounterVec // call
	events      *prometheus.CounterVec // reason (a bounded set)
	workers     prometheus.Gauge
	serverReady prometheus.Gauge
	leader      prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	return &metrics{
		launches:    f.NewCounterVec(prometheus.CounterOpts{Name: "hashfleet_scheduler_launches_total", Help: "Tasks (pods) launched, by role."}, []string{"role"}),
		kills:       f.NewCounter(prometheus.CounterOpts{Name: "hashfleet_scheduler_kills_total", Help: "Kills (pod deletes) sent, retries included."}),
		callErrors:  f.NewCounterVec(prometheus.CounterOpts{Name: "hashfleet_scheduler_call_errors_total", Help: "Failed calls to the master (API server), by call type."}, []string{"call"}),
		events:      f.NewCounterVec(prometheus.CounterOpts{Name: "hashfleet_scheduler_events_total", Help: "Kubernetes Events recorded by the controller, by reason."}, []string{"reason"}),
		workers:     f.NewGauge(prometheus.GaugeOpts{Name: "hashfleet_scheduler_workers", Help: "Active workers of the current server."}),
		serverReady: f.NewGauge(prometheus.GaugeOpts{Name: "hashfleet_scheduler_server_ready", Help: "1 when the current server is running (and healthy)."}),
		leader:      f.NewGauge(prometheus.GaugeOpts{Name: "hashfleet_scheduler_leader", Help: "1 while this controller replica holds the leader Lease."}),
	}
}
