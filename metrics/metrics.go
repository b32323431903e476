package metrics

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Options configures New. The zero value is usable.
type Options struct {
	// Cluster is the cluster label (brokerClusterName). Default
	// "DefaultCluster".
	Cluster string
	// NodeID is the node_id label, the broker name (brokerName). Default
	// "broker-a".
	NodeID string
	// MaxSeries caps the label sets of each labelled counter family; the
	// sets beyond it are counted under OverflowLabel. Default 50000
	// (RocketMQ's metricsOtelCardinalityLimit).
	MaxSeries int
	// NoRuntimeMetrics leaves out the Go runtime (go_*) and process
	// (process_*) collectors, which are registered by default.
	NoRuntimeMetrics bool
}

// Metrics holds mqstore's metric families in its own prometheus.Registry.
// Its methods are safe for concurrent use.
type Metrics struct {
	cluster   string
	nodeID    string
	maxSeries int
	constants prometheus.Labels
	registry  *prometheus.Registry

	messagesIn    *prometheus.CounterVec // topic, message_type, is_system
	throughputIn  *prometheus.CounterVec
	messagesOut   *prometheus.CounterVec // topic, consumer_group, is_system
	throughputOut *prometheus.CounterVec
	sendToDLQ     *prometheus.CounterVec // topic, consumer_group, is_system
	commits       *prometheus.CounterVec // topic
	rollbacks     *prometheus.CounterVec // topic
	rpcLatency    *prometheus.HistogramVec

	checksSent     prometheus.Counter
	checkAnswers   [3]prometheus.Counter // commit, rollback, unknown
	halfDiscarded  prometheus.Counter
	putLatency     prometheus.Histogram
	snapshotSource atomic.Pointer[func() Snapshot]

	in       series[topicTypeKey, *counterPair]
	out      series[topicGroupKey, *counterPair]
	dlq      series[topicGroupKey, prometheus.Counter]
	commit   series[string, prometheus.Counter]
	rollback series[string, prometheus.Counter]
	rpc      series[rpcKey, prometheus.Observer]
}

type topicTypeKey struct {
	topic string
	kind  MessageType
}

type topicGroupKey struct{ topic, group string }

type rpcKey struct {
	code, response int32
	longPolling    bool
	result         RPCResult
}

// counterPair is a message count and its byte count.
type counterPair struct{ messages, bytes prometheus.Counter }

// series caches the labelled children of one family by key, so that the
// hot path is a sync.Map load and atomic adds.
type series[K comparable, V any] struct {
	children sync.Map // K → V; loaded without locks

	mu    sync.Mutex // guards count; held while a child is added or removed
	count int        // children in the map
}

// load returns the cached child of key.
func (s *series[K, V]) load(key K) (V, bool) {
	v, ok := s.children.Load(key)
	if !ok {
		var zero V
		return zero, false
	}
	return v.(V), true
}

// add returns the child of key, creating it with create; once the family
// holds limit children, it returns the child of overflow(key) instead.
func (s *series[K, V]) add(key K, limit int, overflow func(K) K, create func(K) V) V {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.children.Load(key); ok {
		return v.(V)
	}
	if s.count >= limit {
		key = overflow(key)
		if v, ok := s.children.Load(key); ok {
			return v.(V)
		}
	}
	v := create(key)
	s.children.Store(key, v)
	s.count++
	return v
}

// forget removes the children whose key matches.
func (s *series[K, V]) forget(match func(K) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.children.Range(func(k, _ any) bool {
		if match(k.(K)) {
			s.children.Delete(k)
			s.count--
		}
		return true
	})
}

// rpcLatencyBuckets are RocketMQ's, in milliseconds
// (RemotingMetricsManager.getMetricsView).
var rpcLatencyBuckets = []float64{1, 3, 5, 7, 10, 100, 1000, 2000, 3000}

// putLatencyBuckets, in seconds, span RocketMQ's put-latency distribution
// (0 ms … 10 s, BrokerStatsManager's PMDT buckets) with finer steps below 10 ms.
var putLatencyBuckets = []float64{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// New returns the metrics of one broker, registered in a new registry.
func New(opts Options) *Metrics {
	m := &Metrics{
		cluster:   opts.Cluster,
		nodeID:    opts.NodeID,
		maxSeries: opts.MaxSeries,
		registry:  prometheus.NewRegistry(),
	}
	if m.cluster == "" {
		m.cluster = defaultCluster
	}
	if m.nodeID == "" {
		m.nodeID = defaultNodeID
	}
	if m.maxSeries <= 0 {
		m.maxSeries = defaultMaxSeries
	}
	m.constants = prometheus.Labels{labelCluster: m.cluster, labelNodeType: nodeTypeBroker, labelNodeID: m.nodeID}

	counterVec := func(name, help string, labels ...string) *prometheus.CounterVec {
		v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: m.constants}, labels)
		m.registry.MustRegister(v)
		return v
	}
	counter := func(name, help string) prometheus.Counter {
		c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: m.constants})
		m.registry.MustRegister(c)
		return c
	}

	m.messagesIn = counterVec("rocketmq_messages_in_total",
		"Messages produced to the broker, retry and DLQ topics excluded.",
		labelTopic, labelMessageType, labelIsSystem)
	m.throughputIn = counterVec("rocketmq_throughput_in_total",
		"Bytes of message bodies produced to the broker, retry and DLQ topics excluded.",
		labelTopic, labelMessageType, labelIsSystem)
	m.messagesOut = counterVec("rocketmq_messages_out_total",
		"Messages delivered to consumers by pull.",
		labelTopic, labelGroup, labelIsSystem)
	m.throughputOut = counterVec("rocketmq_throughput_out_total",
		"Bytes of messages delivered to consumers by pull.",
		labelTopic, labelGroup, labelIsSystem)
	m.sendToDLQ = counterVec("rocketmq_send_to_dlq_messages_total",
		"Messages moved to a dead-letter queue after the maximum reconsume times; topic is the original topic.",
		labelGroup, labelTopic, labelIsSystem)
	m.commits = counterVec("rocketmq_commit_messages_total",
		"Transactional messages committed.", labelTopic)
	m.rollbacks = counterVec("rocketmq_rollback_messages_total",
		"Transactional messages rolled back.", labelTopic)
	m.rpcLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:        "rocketmq_rpc_latency",
		Help:        "Latency of remoting requests handled by the broker, in milliseconds (unit: ms).",
		ConstLabels: m.constants,
		Buckets:     rpcLatencyBuckets,
	}, []string{labelProtocolType, labelRequestCode, labelResponseCode, labelIsLongPolling, labelResult})
	m.registry.MustRegister(m.rpcLatency)

	m.checksSent = counter("mqstore_transaction_checks_sent_total",
		"Transaction state checks sent to producers (CHECK_TRANSACTION_STATE).")
	answers := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name:        "mqstore_transaction_check_answers_total",
		Help:        "Answers to transaction state checks, by result (commit, rollback, unknown).",
		ConstLabels: m.constants,
	}, []string{labelResult})
	m.registry.MustRegister(answers)
	for i, result := range []string{CheckCommit, CheckRollback, CheckUnknown} {
		m.checkAnswers[i] = answers.WithLabelValues(result)
	}
	m.halfDiscarded = counter("mqstore_half_messages_discarded_total",
		"Half messages discarded unresolved (check limit or file reserved time reached).")
	m.putLatency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:        "mqstore_store_put_latency_seconds",
		Help:        "Latency of a store put (append to the commitlog, flush and replication waits included), in seconds.",
		ConstLabels: m.constants,
		Buckets:     putLatencyBuckets,
	})
	m.registry.MustRegister(m.putLatency)

	m.registry.MustRegister(&snapshotCollector{m: m, descs: newSnapshotDescs(m.constants)})
	if !opts.NoRuntimeMetrics {
		wrapped := prometheus.WrapRegistererWith(m.constants, m.registry)
		wrapped.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	return m
}

// Registry returns the registry holding every metric of m; the caller may
// register more collectors in it.
func (m *Metrics) Registry() *prometheus.Registry { return m.registry }

// MessagesIn counts n messages of bytes body bytes stored for topic
// (rocketmq_messages_in_total, rocketmq_throughput_in_total). Retry and
// DLQ topics are not counted, as in RocketMQ. A batch is one call.
func (m *Metrics) MessagesIn(topic string, n, bytes int, kind MessageType) {
	if n <= 0 || isRetryOrDLQ(topic) {
		return
	}
	if kind >= messageTypeCount {
		kind = MessageNormal
	}
	key := topicTypeKey{topic, kind}
	c, ok := m.in.load(key)
	if !ok {
		c = m.addIn(key)
	}
	c.messages.Add(float64(n))
	if bytes > 0 {
		c.bytes.Add(float64(bytes))
	}
}

func (m *Metrics) addIn(key topicTypeKey) *counterPair {
	return m.in.add(key, m.maxSeries,
		func(k topicTypeKey) topicTypeKey { return topicTypeKey{overflowLabel, k.kind} },
		func(k topicTypeKey) *counterPair {
			labels := []string{labelValue(k.topic), k.kind.String(), boolLabel(m.isSystemTopic(k.topic))}
			return &counterPair{m.messagesIn.WithLabelValues(labels...), m.throughputIn.WithLabelValues(labels...)}
		})
}

// MessagesOut counts n messages of bytes bytes delivered from topic to the
// consumer group (rocketmq_messages_out_total,
// rocketmq_throughput_out_total).
func (m *Metrics) MessagesOut(topic, group string, n, bytes int) {
	if n <= 0 {
		return
	}
	key := topicGroupKey{topic, group}
	c, ok := m.out.load(key)
	if !ok {
		c = m.out.add(key, m.maxSeries, overflowTopicGroup, func(k topicGroupKey) *counterPair {
			labels := []string{labelValue(k.topic), labelValue(k.group), boolLabel(m.isSystemTopic(k.topic) || isSystemGroup(k.group))}
			return &counterPair{m.messagesOut.WithLabelValues(labels...), m.throughputOut.WithLabelValues(labels...)}
		})
	}
	c.messages.Add(float64(n))
	if bytes > 0 {
		c.bytes.Add(float64(bytes))
	}
}

func overflowTopicGroup(topicGroupKey) topicGroupKey {
	return topicGroupKey{overflowLabel, overflowLabel}
}

// SentToDLQ counts one message of topic (its original topic) moved to the
// dead-letter queue of group (rocketmq_send_to_dlq_messages_total).
func (m *Metrics) SentToDLQ(topic, group string) {
	key := topicGroupKey{topic, group}
	c, ok := m.dlq.load(key)
	if !ok {
		c = m.dlq.add(key, m.maxSeries, overflowTopicGroup, func(k topicGroupKey) prometheus.Counter {
			return m.sendToDLQ.WithLabelValues(labelValue(k.group), labelValue(k.topic), boolLabel(m.isSystemTopic(k.topic) || isSystemGroup(k.group)))
		})
	}
	c.Inc()
}

// TxnCommitted counts one transactional message of topic committed
// (rocketmq_commit_messages_total).
func (m *Metrics) TxnCommitted(topic string) {
	c, ok := m.commit.load(topic)
	if !ok {
		c = m.commit.add(topic, m.maxSeries, overflowTopic, func(t string) prometheus.Counter {
			return m.commits.WithLabelValues(labelValue(t))
		})
	}
	c.Inc()
}

// TxnRolledBack counts one transactional message of topic rolled back
// (rocketmq_rollback_messages_total).
func (m *Metrics) TxnRolledBack(topic string) {
	c, ok := m.rollback.load(topic)
	if !ok {
		c = m.rollback.add(topic, m.maxSeries, overflowTopic, func(t string) prometheus.Counter {
			return m.rollbacks.WithLabelValues(labelValue(t))
		})
	}
	c.Inc()
}

func overflowTopic(string) string { return overflowLabel }

// RPC records the latency of one request with request code code answered
// with responseCode (rocketmq_rpc_latency, is_long_polling="false",
// result="success").
func (m *Metrics) RPC(code, responseCode int32, d time.Duration) {
	m.RPCDetailed(code, responseCode, false, RPCSuccess, d)
}

// RPCDetailed records the latency of one request with every label of
// rocketmq_rpc_latency: longPolling is true for a pull answered after
// being suspended. Codes outside remoting's table are labelled "unknown".
func (m *Metrics) RPCDetailed(code, responseCode int32, longPolling bool, result RPCResult, d time.Duration) {
	if result >= rpcResultCount {
		result = RPCSuccess
	}
	key := rpcKey{code, responseCode, longPolling, result}
	h, ok := m.rpc.load(key)
	if !ok {
		h = m.addRPC(key)
	}
	h.Observe(float64(d) / float64(time.Millisecond))
}

// addRPC creates the child of key. A code outside remoting's table is
// stored under unknownRequestCode (or unknownResponseCode), so a client
// sending arbitrary codes cannot grow the cache.
func (m *Metrics) addRPC(key rpcKey) prometheus.Observer {
	request, knownRequest := requestCodeLabel(key.code)
	response, knownResponse := responseCodeLabel(key.response)
	if !knownRequest {
		key.code = unknownRequestCode
	}
	if !knownResponse {
		key.response = unknownResponseCode
	}
	return m.rpc.add(key, m.maxSeries, func(k rpcKey) rpcKey { return k }, func(k rpcKey) prometheus.Observer {
		return m.rpcLatency.WithLabelValues(protocolTypeRemoting, request, response, boolLabel(k.longPolling), k.result.String())
	})
}

// CheckSent counts one transaction state check sent to a producer
// (mqstore_transaction_checks_sent_total).
func (m *Metrics) CheckSent() { m.checksSent.Inc() }

// CheckAnswered counts one answer to a transaction check
// (mqstore_transaction_check_answers_total): CheckCommit, CheckRollback or
// CheckUnknown; any other value counts as unknown.
func (m *Metrics) CheckAnswered(result string) {
	switch result {
	case CheckCommit:
		m.checkAnswers[0].Inc()
	case CheckRollback:
		m.checkAnswers[1].Inc()
	default:
		m.checkAnswers[2].Inc()
	}
}

// HalfDiscarded counts one half message discarded unresolved
// (mqstore_half_messages_discarded_total).
func (m *Metrics) HalfDiscarded() { m.halfDiscarded.Inc() }

// PutLatency records the latency of one store put
// (mqstore_store_put_latency_seconds).
func (m *Metrics) PutLatency(d time.Duration) { m.putLatency.Observe(d.Seconds()) }

// Forget removes every counter series of topic (after the topic is
// deleted), so that deleted topics do not stay in /metrics.
func (m *Metrics) Forget(topic string) {
	m.in.forget(func(k topicTypeKey) bool { return k.topic == topic })
	m.out.forget(func(k topicGroupKey) bool { return k.topic == topic })
	m.dlq.forget(func(k topicGroupKey) bool { return k.topic == topic })
	m.commit.forget(func(t string) bool { return t == topic })
	m.rollback.forget(func(t string) bool { return t == topic })
	match := prometheus.Labels{labelTopic: labelValue(topic)}
	for _, v := range []*prometheus.CounterVec{m.messagesIn, m.throughputIn, m.messagesOut, m.throughputOut, m.sendToDLQ, m.commits, m.rollbacks} {
		v.DeletePartialMatch(match)
	}
}

// ForgetGroup removes every counter series of the consumer group (after
// the group is deleted).
func (m *Metrics) ForgetGroup(group string) {
	m.out.forget(func(k topicGroupKey) bool { return k.group == group })
	m.dlq.forget(func(k topicGroupKey) bool { return k.group == group })
	match := prometheus.Labels{labelGroup: labelValue(group)}
	for _, v := range []*prometheus.CounterVec{m.messagesOut, m.throughputOut, m.sendToDLQ} {
		v.DeletePartialMatch(match)
	}
}
