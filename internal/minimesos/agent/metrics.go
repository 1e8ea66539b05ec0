package agent

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// metrics are the agent's Prometheus metrics (bounded labels: task states).
type metrics struct {
	launched prometheus.Counter
	finished *prometheus.CounterVec
	updates  *prometheus.CounterVec
	retries  prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg) // a nil Registerer registers nothing
	return &metrics{
		launched: f.NewCounter(prometheus.CounterOpts{Name: "minimesos_agent_tasks_launched_total", Help: "Tasks handed to an executor."}),
		finished: f.NewCounterVec(prometheus.CounterOpts{Name: "minimesos_agent_tasks_terminal_total",
			Help: "Tasks that reached a terminal state, by state."}, []string{"state"}),
		updates: f.NewCounterVec(prometheus.CounterOpts{Name: "minimesos_agent_status_updates_total",
			Help: "Status updates generated, by state."}, []string{"state"}),
		retries: f.NewCounter(prometheus.CounterOpts{Name: "minimesos_agent_status_update_retries_total",
			Help: "Unacknowledged status updates resent."}),
	}
}
