package scheduler

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// metrics are the scheduler's Prometheus metrics; labels are bounded
// (roles, task states, call types).
type metrics struct {
	launches      *prometheus.CounterVec // role
	kills         prometheus.Counter
	declines      prometheus.Counter
	updates       *prometheus.CounterVec // state
	acks          prometheus.Counter
	callErrors    *prometheus.CounterVec // call type
	subscriptions prometheus.Counter
	disconnects   prometheus.Counter
	workers       prometheus.Gauge
	serverReady   prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	return &metrics{
		launches:      f.NewCounterVec(prometheus.CounterOpts{Name: "hashfleet_scheduler_launches_total", Help: "Tasks launched, by role."}, []string{"role"}),
		kills:         f.NewCounter(prometheus.CounterOpts{Name: "hashfleet_scheduler_kills_total", Help: "KILL calls sent (retries included)."}),
		declines:      f.NewCounter(prometheus.CounterOpts{Name: "hashfleet_scheduler_offers_declined_total", Help: "Offers declined."}),
		updates:       f.NewCounterVec(prometheus.CounterOpts{Name: "hashfleet_scheduler_status_updates_total", Help: "Status updates received, by state."}, []string{"state"}),
		acks:          f.NewCounter(prometheus.CounterOpts{Name: "hashfleet_scheduler_acknowledgements_total", Help: "Status updates acknowledged."}),
		callErrors:    f.NewCounterVec(prometheus.CounterOpts{Name: "hashfleet_scheduler_call_errors_total", Help: "Failed calls to the master, by call type."}, []string{"call"}),
		subscriptions: f.NewCounter(prometheus.CounterOpts{Name: "hashfleet_scheduler_subscriptions_total", Help: "Successful (re-)subscriptions."}),
		disconnects:   f.NewCounter(prometheus.CounterOpts{Name: "hashfleet_scheduler_disconnects_total", Help: "Lost or failed subscriptions."}),
		workers:       f.NewGauge(prometheus.GaugeOpts{Name: "hashfleet_scheduler_workers", Help: "Active workers of the current server."}),
		serverReady:   f.NewGauge(prometheus.GaugeOpts{Name: "hashfleet_scheduler_server_ready", Help: "1 when the current server is running (and healthy)."}),
	}
}
