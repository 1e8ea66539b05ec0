package chain

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

type metrics struct {
	calls    *prometheus.CounterVec   // method, outcome
	duration *prometheus.HistogramVec // method
	retries  *prometheus.CounterVec   // method
}

func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	return &metrics{
		calls: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: "hashfleet", Subsystem: "chain", Name: "rpc_calls_total",
			Help: "Node JSON-RPC attempts by method and outcome (ok, rpc_error, http_error, unauthorized, decode_error, transport_error).",
		}, []string{"method", "outcome"}),
		duration: f.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "hashfleet", Subsystem: "chain", Name: "rpc_duration_seconds",
			Help:    "Node JSON-RPC attempt latency by method (longpolls included).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 10),
		}, []string{"method"}),
		retries: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: "hashfleet", Subsystem: "chain", Name: "rpc_retries_total",
			Help: "Node JSON-RPC attempts retried after a transient failure.",
		}, []string{"method"}),
	}
}

func (m *metrics) observe(method string, err error, d time.Duration) {
	m.duration.WithLabelValues(method).Observe(d.Seconds())
	m.calls.WithLabelValues(method, outcome(err)).Inc()
}

func outcome(err error) string {
	if err == nil {
		return "ok"
	}
	if _, ok := errors.AsType[*RPCError](err); ok {
		return "rpc_error"
	}
	if _, ok := errors.AsType[*HTTPError](err); ok {
		return "http_error"
	}
	if errors.Is(err, ErrUnauthorized) {
		return "unauthorized"
	}
	if _, ok := errors.AsType[*DecodeError](err); ok {
		return "decode_error"
	}
	return "transport_error"
}
