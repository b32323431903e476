package metrics

import (
	"fmt"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// Snapshot is the broker's state read at scrape time: the gauges of
// /metrics. Every field is optional; zero values are exported as zeros.
type Snapshot struct {
	// HalfMessages counts the pending half messages by real topic
	// (rocketmq_half_messages{topic}).
	HalfMessages map[string]int64
	// FlushBehindBytes is the commitlog bytes written but not yet flushed
	// (rocketmq_storage_flush_behind_bytes).
	FlushBehindBytes int64
	// DispatchBehindBytes is the commitlog bytes not yet dispatched to the
	// consume queues and index (rocketmq_storage_dispatch_behind_bytes).
	DispatchBehindBytes int64
	// StorageSizeBytes is the bytes the store occupies on disk
	// (rocketmq_storage_size).
	StorageSizeBytes int64
	// DiskUsageRatio is the used fraction, 0 to 1, of the file system
	// holding the store (mqstore_storage_disk_usage_ratio).
	DiskUsageRatio float64
	// ProcessorWatermark is the queue depth of each request processor,
	// by processor name: send, pull, ack, query_message, heartbeat,
	// transaction, admin, ... (rocketmq_processor_watermark{processor}).
	ProcessorWatermark map[string]int64
	// ConsumerLag is the lag of each subscribed topic and consumer group
	// (rocketmq_consumer_lag_messages, rocketmq_consumer_lag_latency).
	// Entries with the same topic and group are merged: messages summed,
	// latency the maximum.
	ConsumerLag []ConsumerLag
	// Connections is the number of open remoting connections
	// (mqstore_connections).
	Connections int64
	// ProducerConnections counts producer connections by client language
	// and version (rocketmq_producer_connections); duplicates are summed.
	ProducerConnections []ProducerConnections
	// ConsumerConnections counts consumer connections by group, language,
	// version and consume mode (rocketmq_consumer_connections); duplicates
	// are summed.
	ConsumerConnections []ConsumerConnections
	// Topics and ConsumerGroups are the numbers of topics and subscription
	// groups (rocketmq_topic_number, rocketmq_consumer_group_number).
	Topics, ConsumerGroups int64
	// Permission is the broker permission, 6 = read and write
	// (rocketmq_broker_permission).
	Permission int64
	// Timer is the state of the store's timer messages (delay levels included).
	Timer TimerSnapshot
	// StoreWriteFailed is set once the store refuses writes after a failed flush or dispatch
	// (store.Store.Err; mqstore_store_write_failed = 1) until the broker restarts.
	StoreWriteFailed bool
}

// TimerSnapshot is the timing wheel's state, under RocketMQ 5's timer metric names.
type TimerSnapshot struct {
	// Pending is the number of timers waiting in the wheel (rocketmq_timing_messages).
	Pending int64
	// EnqueueLag is the number of timer messages stored but not yet in the wheel
	// (rocketmq_timer_enqueue_lag).
	EnqueueLag int64
	// DequeueLatencyMillis is how far behind the clock the wheel fires, in ms
	// (rocketmq_timer_dequeue_latency).
	DequeueLatencyMillis int64
	// Enqueued and Fired count timers put into the wheel and delivered from it
	// (rocketmq_timer_enqueue_total, rocketmq_timer_dequeue_total: its rate is fired per second).
	Enqueued, Fired int64
	// Skipped counts fired timers that could not be delivered (mqstore_timer_skipped_total).
	Skipped int64
	// Rolled counts timers re-put past the roll window (mqstore_timer_rolled_total).
	Rolled int64
}

// ConsumerLag is the lag of one consumer group on one topic: Messages is
// the broker's max offset minus the committed offset, summed over the
// queues; LatencyMillis is now minus the store time of the oldest
// unconsumed message, in milliseconds (0 when there is none). A retry
// topic (%RETRY%group) is labelled is_retry="true".
type ConsumerLag struct {
	Topic, Group  string
	Messages      int64
	LatencyMillis int64
}

// ProducerConnections is the number of producer connections of one client
// language (java, go, cpp, ...) and version (v4_9_4, ...); both are
// lower-cased.
type ProducerConnections struct {
	Language, Version string
	Count             int64
}

// ConsumerConnections is the number of consumer connections of one group,
// client language, version and consume mode (push or pull); the strings
// are lower-cased.
type ConsumerConnections struct {
	Group, Language, Version, ConsumeMode string
	Count                                 int64
}

// SetSnapshot installs the function that /metrics calls once per scrape
// to read the gauges; it must be safe for concurrent use and fast (it runs
// on the scrape request). Until it is set, or with nil, the gauges are
// not exported.
func (m *Metrics) SetSnapshot(fn func() Snapshot) {
	if fn == nil {
		m.snapshotSource.Store(nil)
		return
	}
	m.snapshotSource.Store(&fn)
}

// snapshotDescs are the descriptors of the snapshot gauges.
type snapshotDescs struct {
	halfMessages, flushBehind, dispatchBehind, storageSize, diskUsage *prometheus.Desc
	watermark, lagMessages, lagLatency, connections                   *prometheus.Desc
	producerConnections, consumerConnections                          *prometheus.Desc
	topics, groups, permission                                        *prometheus.Desc
	timerPending, timerEnqueueLag, timerDequeueLatency                *prometheus.Desc
	timerEnqueued, timerFired, timerSkipped, timerRolled              *prometheus.Desc
	storeWriteFailed                                                  *prometheus.Desc
}

func newSnapshotDescs(constants prometheus.Labels) *snapshotDescs {
	desc := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, constants)
	}
	lagLabels := []string{labelTopic, labelGroup, labelIsRetry, labelIsSystem}
	return &snapshotDescs{
		halfMessages: desc("rocketmq_half_messages",
			"Pending half (prepared, unresolved) transactional messages, by real topic.", labelTopic),
		flushBehind: desc("rocketmq_storage_flush_behind_bytes",
			"Commitlog bytes written but not yet flushed to disk (unit: bytes).", labelStorageType, labelStorageMedium),
		dispatchBehind: desc("rocketmq_storage_dispatch_behind_bytes",
			"Commitlog bytes not yet dispatched to consume queues and index (unit: bytes).", labelStorageType, labelStorageMedium),
		storageSize: desc("rocketmq_storage_size",
			"Bytes the message store occupies on disk (unit: bytes).", labelStorageType, labelStorageMedium),
		diskUsage: desc("mqstore_storage_disk_usage_ratio",
			"Used fraction (0 to 1) of the file system holding the message store."),
		watermark: desc("rocketmq_processor_watermark",
			"Requests queued for each request processor.", labelProcessor),
		lagMessages: desc("rocketmq_consumer_lag_messages",
			"Messages not yet consumed by the group: broker max offset minus committed offset.", lagLabels...),
		lagLatency: desc("rocketmq_consumer_lag_latency",
			"Age of the oldest unconsumed message of the group, in milliseconds (unit: ms).", lagLabels...),
		connections: desc("mqstore_connections",
			"Open remoting connections."),
		producerConnections: desc("rocketmq_producer_connections",
			"Producer connections by client language and version.", labelLanguage, labelVersion, labelProtocolType),
		consumerConnections: desc("rocketmq_consumer_connections",
			"Consumer connections by group, client language, version and consume mode.",
			labelGroup, labelLanguage, labelVersion, labelConsumeMode, labelProtocolType, labelIsSystem),
		topics: desc("rocketmq_topic_number",
			"Topics on the broker."),
		groups: desc("rocketmq_consumer_group_number",
			"Subscription groups on the broker."),
		permission: desc("rocketmq_broker_permission",
			"Broker permission: 2 write, 4 read, 6 read and write."),
		timerPending: desc("rocketmq_timing_messages",
			"Timer messages (delay levels included) waiting in the timing wheel."),
		timerEnqueueLag: desc("rocketmq_timer_enqueue_lag",
			"Timer messages stored but not yet put into the timing wheel."),
		timerDequeueLatency: desc("rocketmq_timer_dequeue_latency",
			"How far behind the clock the timing wheel fires, in milliseconds (unit: ms)."),
		timerEnqueued: desc("rocketmq_timer_enqueue_total",
			"Timer messages put into the timing wheel."),
		timerFired: desc("rocketmq_timer_dequeue_total",
			"Timer messages delivered from the timing wheel to their topic."),
		timerSkipped: desc("mqstore_timer_skipped_total",
			"Fired timer messages that could not be delivered (record removed by retention, bad destination)."),
		timerRolled: desc("mqstore_timer_rolled_total",
			"Timer messages due beyond the roll window whose record was appended again (RocketMQ 5's roll)."),
		storeWriteFailed: desc("mqstore_store_write_failed",
			"1 once the store refuses writes after a failed flush (msync/fsync) or dispatch, until a restart; else 0."),
	}
}

// snapshotCollector exports the snapshot gauges.
type snapshotCollector struct {
	m     *Metrics
	descs *snapshotDescs
}

// Describe implements prometheus.Collector.
func (c *snapshotCollector) Describe(ch chan<- *prometheus.Desc) {
	d := c.descs
	for _, desc := range []*prometheus.Desc{d.halfMessages, d.flushBehind, d.dispatchBehind, d.storageSize,
		d.diskUsage, d.watermark, d.lagMessages, d.lagLatency, d.connections, d.producerConnections,
		d.consumerConnections, d.topics, d.groups, d.permission, d.timerPending, d.timerEnqueueLag,
		d.timerDequeueLatency, d.timerEnqueued, d.timerFired, d.timerSkipped, d.timerRolled, d.storeWriteFailed} {
		ch <- desc
	}
}

// Collect implements prometheus.Collector: it calls the snapshot function
// once. A panic in it fails the scrape's gauges (promhttp logs it and
// serves the rest), not the process: Gather runs collectors in goroutines. Label values are made valid UTF-8 first, and entries that end up
// with the same labels are merged, so a scrape never fails on duplicates.
func (c *snapshotCollector) Collect(ch chan<- prometheus.Metric) {
	fn := c.m.snapshotSource.Load()
	if fn == nil {
		return
	}
	d := c.descs
	s, err := callSnapshot(*fn)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(d.topics, err)
		return
	}
	gauge := func(desc *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, labels...)
	}

	half := make(map[string]int64, len(s.HalfMessages))
	for topic, n := range s.HalfMessages {
		half[labelValue(topic)] += n
	}
	for topic, n := range half {
		gauge(d.halfMessages, float64(n), topic)
	}
	gauge(d.flushBehind, float64(s.FlushBehindBytes), storageTypeLocal, storageMediumDisk)
	gauge(d.dispatchBehind, float64(s.DispatchBehindBytes), storageTypeLocal, storageMediumDisk)
	gauge(d.storageSize, float64(s.StorageSizeBytes), storageTypeLocal, storageMediumDisk)
	gauge(d.diskUsage, s.DiskUsageRatio)
	watermarks := make(map[string]int64, len(s.ProcessorWatermark))
	for processor, n := range s.ProcessorWatermark {
		watermarks[labelValue(processor)] += n
	}
	for processor, n := range watermarks {
		gauge(d.watermark, float64(n), processor)
	}

	type lag struct{ messages, latency int64 }
	lags := make(map[topicGroupKey]lag, len(s.ConsumerLag))
	for _, l := range s.ConsumerLag {
		key := topicGroupKey{labelValue(l.Topic), labelValue(l.Group)}
		prev := lags[key]
		prev.messages += l.Messages
		prev.latency = max(prev.latency, l.LatencyMillis)
		lags[key] = prev
	}
	for key, l := range lags {
		retry := boolLabel(strings.HasPrefix(key.topic, retryTopicPrefix))
		system := boolLabel(c.m.isSystemTopic(key.topic) || isSystemGroup(key.group))
		gauge(d.lagMessages, float64(l.messages), key.topic, key.group, retry, system)
		gauge(d.lagLatency, float64(l.latency), key.topic, key.group, retry, system)
	}

	gauge(d.connections, float64(s.Connections))
	producers := map[[2]string]int64{}
	for _, p := range s.ProducerConnections {
		producers[[2]string{lowerLabel(p.Language), lowerLabel(p.Version)}] += p.Count
	}
	for key, n := range producers {
		gauge(d.producerConnections, float64(n), key[0], key[1], protocolTypeRemoting)
	}
	consumers := map[[4]string]int64{}
	for _, cc := range s.ConsumerConnections {
		consumers[[4]string{labelValue(cc.Group), lowerLabel(cc.Language), lowerLabel(cc.Version), lowerLabel(cc.ConsumeMode)}] += cc.Count
	}
	for key, n := range consumers {
		gauge(d.consumerConnections, float64(n), key[0], key[1], key[2], key[3],
			protocolTypeRemoting, boolLabel(isSystemGroup(key[0])))
	}

	gauge(d.topics, float64(s.Topics))
	gauge(d.groups, float64(s.ConsumerGroups))
	gauge(d.permission, float64(s.Permission))
	gauge(d.timerPending, float64(s.Timer.Pending))
	gauge(d.timerEnqueueLag, float64(s.Timer.EnqueueLag))
	gauge(d.timerDequeueLatency, float64(s.Timer.DequeueLatencyMillis))
	counter := func(desc *prometheus.Desc, v int64) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, float64(v))
	}
	counter(d.timerEnqueued, s.Timer.Enqueued)
	counter(d.timerFired, s.Timer.Fired)
	counter(d.timerSkipped, s.Timer.Skipped)
	counter(d.timerRolled, s.Timer.Rolled)
	failed := 0.0
	if s.StoreWriteFailed {
		failed = 1
	}
	gauge(d.storeWriteFailed, failed)
}

// callSnapshot calls fn, turning a panic into an error.
func callSnapshot(fn func() Snapshot) (s Snapshot, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("metrics: snapshot function panicked: %v", r)
		}
	}()
	return fn(), nil
}

func lowerLabel(v string) string { return strings.ToLower(labelValue(v)) }
