package master

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// metrics are the master's Prometheus metrics. Labels are bounded: call
// and event types are enums, codes are HTTP statuses.
type metrics struct {
	calls      *prometheus.CounterVec
	events     *prometheus.CounterVec
	dropped    prometheus.Counter
	frameworks prometheus.Gauge
	agents     prometheus.Gauge
	offers     prometheus.Gauge
	tasks      prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg) // a nil Registerer registers nothing
	return &metrics{
		calls: f.NewCounterVec(prometheus.CounterOpts{Name: "minimesos_master_calls_total",
			Help: "Scheduler API calls by type and HTTP status."}, []string{"type", "code"}),
		events: f.NewCounterVec(prometheus.CounterOpts{Name: "minimesos_master_events_total",
			Help: "Events queued to subscribers by type."}, []string{"type"}),
		dropped: f.NewCounter(prometheus.CounterOpts{Name: "minimesos_master_slow_subscribers_dropped_total",
			Help: "Subscription streams closed because their event queue was full."}),
		frameworks: f.NewGauge(prometheus.GaugeOpts{Name: "minimesos_master_frameworks_connected",
			Help: "Frameworks with an open subscription."}),
		agents: f.NewGauge(prometheus.GaugeOpts{Name: "minimesos_master_agents", Help: "Registered agents."}),
		offers: f.NewGauge(prometheus.GaugeOpts{Name: "minimesos_master_offers_outstanding", Help: "Outstanding offers."}),
		tasks:  f.NewGauge(prometheus.GaugeOpts{Name: "minimesos_master_tasks_active", Help: "Tasks the master tracks."}),
	}
}

// observe refreshes the gauges from the core; called by Run.
func (m *metrics) observe(c *core) {
	n, t := 0, 0
	for _, f := range c.frameworks {
		if f.connected() {
			n++
		}
		t += len(f.tasks)
	}
	m.frameworks.Set(float64(n))
	m.agents.Set(float64(len(c.agents)))
	m.offers.Set(float64(len(c.offers)))
	m.tasks.Set(float64(t))
}
