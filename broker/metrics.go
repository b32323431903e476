package broker

import (
	"github.com/mqstore/mqstore/metrics"
)

// MetricsSnapshot returns the broker's gauges for the metrics endpoint: store backlogs, disk
// usage, open transactions per topic, consumer lag per topic and group, and connection counts.
func (b *Broker) MetricsSnapshot() metrics.Snapshot {
	st := b.store
	snap := metrics.Snapshot{
		FlushBehindBytes:    st.MaxPhysicalOffset() - st.CommitLog().FlushedOffset(),
		DispatchBehindBytes: st.DispatchBehind(),
		DiskUsageRatio:      st.DiskUsage(),
		StorageSizeBytes:    st.MaxPhysicalOffset() - st.MinPhysicalOffset(),
		Permission:          int64(b.cfg.BrokerPermission),
		HalfMessages:        map[string]int64{},
		Connections:         int64(b.server.NumConns()),
	}
	snap.StoreWriteFailed = st.Err() != nil
	ts := st.TimerStats()
	snap.Timer = metrics.TimerSnapshot{Pending: ts.Pending, EnqueueLag: ts.EnqueueLag,
		DequeueLatencyMillis: ts.DequeueLag.Milliseconds(), Enqueued: ts.Enqueued, Fired: ts.Fired, Skipped: ts.Skipped, Rolled: ts.Rolled}
	for _, t := range st.Transactions().Open() {
		snap.HalfMessages[t.Topic]++
	}
	now := b.now().UnixMilli()
	b.offsets.mu.Lock()
	type lagKey struct{ topic, group string }
	committed := make(map[lagKey]map[int32]int64, len(b.offsets.offsets))
	for k, queues := range b.offsets.offsets {
		m := make(map[int32]int64, len(queues))
		for q, off := range queues {
			m[q] = off
		}
		committed[lagKey{k.topic, k.group}] = m
	}
	b.offsets.mu.Unlock()
	groups := map[string]bool{}
	for k, queues := range committed {
		groups[k.group] = true
		lag := metrics.ConsumerLag{Topic: k.topic, Group: k.group}
		for q, off := range queues {
			maxOff := st.MaxOffset(k.topic, q)
			if behind := maxOff - off; behind > 0 {
				lag.Messages += behind
				// Latency: age of the oldest message not yet consumed.
				if u, ok := st.QueueUnit(k.topic, q, off); ok && !u.IsBlank() {
					if ts, err := st.CommitLog().StoreTimestamp(u.CommitLogOffset); err == nil && now-ts > lag.LatencyMillis {
						lag.LatencyMillis = now - ts
					}
				}
			}
		}
		snap.ConsumerLag = append(snap.ConsumerLag, lag)
	}
	b.clients.mu.Lock()
	var producers int64
	for _, chans := range b.clients.producers {
		producers += int64(len(chans))
	}
	for group, g := range b.clients.consumers {
		groups[group] = true
		snap.ConsumerConnections = append(snap.ConsumerConnections, metrics.ConsumerConnections{
			Group: group, Language: "go", ConsumeMode: g.consumeType, Count: int64(len(g.clients)),
		})
	}
	b.clients.mu.Unlock()
	if producers > 0 {
		snap.ProducerConnections = []metrics.ProducerConnections{{Language: "go", Count: producers}}
	}
	snap.ConsumerGroups = int64(len(groups))
	topics, _ := b.topics.snapshot()
	snap.Topics = int64(len(topics))
	return snap
}
