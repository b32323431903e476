package main

import (
	"github.com/mqstore/mqstore/broker"
	"github.com/mqstore/mqstore/metrics"
)

// newMetrics builds the Prometheus metrics of a broker: counters recorded by the broker, gauges
// read from the store at scrape time.
func newMetrics(s *settings, b *broker.Broker) *metrics.Metrics {
	m := metrics.New(metrics.Options{Cluster: s.broker.BrokerClusterName, NodeID: s.broker.BrokerName})
	st := b.Store()
	m.SetSnapshot(func() metrics.Snapshot {
		snap := metrics.Snapshot{
			FlushBehindBytes:    st.MaxPhysicalOffset() - st.CommitLog().FlushedOffset(),
			DispatchBehindBytes: st.DispatchBehind(),
			DiskUsageRatio:      st.DiskUsage(),
			Permission:          int64(s.broker.BrokerPermission),
			HalfMessages:        map[string]int64{},
		}
		for _, t := range st.Transactions().Open() {
			snap.HalfMessages[t.Topic]++
		}
		return snap
	})
	return m
}
