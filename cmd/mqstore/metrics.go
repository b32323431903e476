package main

import (
	"github.com/mqstore/mqstore/broker"
	"github.com/mqstore/mqstore/metrics"
)

// newMetrics builds the Prometheus metrics of a broker: the broker records counters through
// broker.Options.Metrics, and the gauges are read from it at scrape time.
func newMetrics(s *settings) *metrics.Metrics {
	return metrics.New(metrics.Options{Cluster: s.broker.BrokerClusterName, NodeID: s.broker.BrokerName})
}

// attachSnapshot makes the metrics read the broker's gauges at scrape time.
func attachSnapshot(m *metrics.Metrics, b *broker.Broker) {
	m.SetSnapshot(b.MetricsSnapshot)
}
