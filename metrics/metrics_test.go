package metrics

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape GETs /metrics from srv and parses the text format.
func scrape(t *testing.T, srv *Server) map[string]*dto.MetricFamily {
	t.Helper()
	status, body := get(t, srv, "/metrics")
	if status != http.StatusOK {
		t.Fatalf("GET /metrics: status %d, body %q", status, body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, body)
	}
	return families
}

// get GETs path from srv without keep-alive (so Close leaves no client
// connections behind) and returns the status and body.
func get(t *testing.T, srv *Server, path string) (int, string) {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	resp, err := client.Get("http://" + srv.Addr().String() + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", path, err)
	}
	return resp.StatusCode, string(body)
}

// labelsOf returns the labels of a series as name=value pairs, sorted.
func labelsOf(m *dto.Metric) map[string]string {
	labels := map[string]string{}
	for _, l := range m.GetLabel() {
		labels[l.GetName()] = l.GetValue()
	}
	return labels
}

// find returns the series of family name whose labels are exactly the
// constant labels plus want.
func find(families map[string]*dto.MetricFamily, name string, want map[string]string) (*dto.Metric, error) {
	family, ok := families[name]
	if !ok {
		return nil, fmt.Errorf("family %s missing", name)
	}
	full := map[string]string{"cluster": "c1", "node_type": "broker", "node_id": "broker-x"}
	for k, v := range want {
		full[k] = v
	}
	var seen []string
	for _, m := range family.GetMetric() {
		got := labelsOf(m)
		if fmt.Sprint(got) == fmt.Sprint(full) { // fmt sorts map keys
			return m, nil
		}
		seen = append(seen, fmt.Sprint(got))
	}
	sort.Strings(seen)
	return nil, fmt.Errorf("%s%v missing; have:\n  %s", name, full, strings.Join(seen, "\n  "))
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	case m.Histogram != nil:
		return float64(m.GetHistogram().GetSampleCount())
	}
	return -1
}

func newTestMetrics(t *testing.T, opts Options) (*Metrics, *Server) {
	t.Helper()
	if opts.Cluster == "" {
		opts.Cluster, opts.NodeID = "c1", "broker-x"
	}
	m := New(opts)
	srv, err := m.Serve(HTTPOptions{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return m, srv
}

func TestScrapeCounters(t *testing.T) {
	m, srv := newTestMetrics(t, Options{})

	m.MessagesIn("TopicA", 3, 300, MessageNormal)
	m.MessagesIn("TopicA", 2, 20, MessageNormal)
	m.MessagesIn("TopicA", 1, 10, MessageTransaction)
	m.MessagesIn("TopicB", 4, 40, MessageFIFO)
	m.MessagesIn("TopicB", 1, 1, MessageDelay)
	m.MessagesIn("TopicB", 1, 1, MessageType(99)) // outside the constants: normal
	m.MessagesIn("RMQ_SYS_TRACE_TOPIC", 1, 7, MessageNormal)
	m.MessagesIn("c1", 1, 1, MessageNormal)             // cluster-name topic: system
	m.MessagesIn("%RETRY%GroupA", 5, 50, MessageNormal) // excluded
	m.MessagesIn("%DLQ%GroupA", 5, 50, MessageNormal)   // excluded
	m.MessagesIn("TopicA", 0, 100, MessageNormal)       // nothing
	m.MessagesOut("TopicA", "GroupA", 2, 200)
	m.MessagesOut("TopicA", "GroupA", 1, 100)
	m.MessagesOut("TopicA", "CID_RMQ_SYS_x", 1, 1)
	m.SentToDLQ("TopicA", "GroupA")
	m.SentToDLQ("TopicA", "GroupA")
	m.TxnCommitted("TopicT")
	m.TxnCommitted("TopicT")
	m.TxnRolledBack("TopicT")
	m.CheckSent()
	m.CheckSent()
	m.CheckSent()
	m.CheckAnswered(CheckCommit)
	m.CheckAnswered(CheckRollback)
	m.CheckAnswered(CheckUnknown)
	m.CheckAnswered("bogus")
	m.HalfDiscarded()

	families := scrape(t, srv)
	tests := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"rocketmq_messages_in_total", map[string]string{"topic": "TopicA", "message_type": "normal", "is_system": "false"}, 5},
		{"rocketmq_throughput_in_total", map[string]string{"topic": "TopicA", "message_type": "normal", "is_system": "false"}, 320},
		{"rocketmq_messages_in_total", map[string]string{"topic": "TopicA", "message_type": "transaction", "is_system": "false"}, 1},
		{"rocketmq_messages_in_total", map[string]string{"topic": "TopicB", "message_type": "fifo", "is_system": "false"}, 4},
		{"rocketmq_throughput_in_total", map[string]string{"topic": "TopicB", "message_type": "fifo", "is_system": "false"}, 40},
		{"rocketmq_messages_in_total", map[string]string{"topic": "TopicB", "message_type": "delay", "is_system": "false"}, 1},
		{"rocketmq_messages_in_total", map[string]string{"topic": "TopicB", "message_type": "normal", "is_system": "false"}, 1},
		{"rocketmq_messages_in_total", map[string]string{"topic": "RMQ_SYS_TRACE_TOPIC", "message_type": "normal", "is_system": "true"}, 1},
		{"rocketmq_messages_in_total", map[string]string{"topic": "c1", "message_type": "normal", "is_system": "true"}, 1},
		{"rocketmq_messages_out_total", map[string]string{"topic": "TopicA", "consumer_group": "GroupA", "is_system": "false"}, 3},
		{"rocketmq_throughput_out_total", map[string]string{"topic": "TopicA", "consumer_group": "GroupA", "is_system": "false"}, 300},
		{"rocketmq_messages_out_total", map[string]string{"topic": "TopicA", "consumer_group": "CID_RMQ_SYS_x", "is_system": "true"}, 1},
		{"rocketmq_send_to_dlq_messages_total", map[string]string{"topic": "TopicA", "consumer_group": "GroupA", "is_system": "false"}, 2},
		{"rocketmq_commit_messages_total", map[string]string{"topic": "TopicT"}, 2},
		{"rocketmq_rollback_messages_total", map[string]string{"topic": "TopicT"}, 1},
		{"mqstore_transaction_checks_sent_total", nil, 3},
		{"mqstore_transaction_check_answers_total", map[string]string{"result": "commit"}, 1},
		{"mqstore_transaction_check_answers_total", map[string]string{"result": "rollback"}, 1},
		{"mqstore_transaction_check_answers_total", map[string]string{"result": "unknown"}, 2},
		{"mqstore_half_messages_discarded_total", nil, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name+fmt.Sprint(tt.labels), func(t *testing.T) {
			series, err := find(families, tt.name, tt.labels)
			if err != nil {
				t.Fatal(err)
			}
			if families[tt.name].GetType() != dto.MetricType_COUNTER {
				t.Errorf("type %v, want counter", families[tt.name].GetType())
			}
			if got := value(series); got != tt.want {
				t.Errorf("value %v, want %v", got, tt.want)
			}
		})
	}

	// Retry and DLQ topics are not counted in.
	for _, series := range families["rocketmq_messages_in_total"].GetMetric() {
		if topic := labelsOf(series)["topic"]; isRetryOrDLQ(topic) {
			t.Errorf("retry/DLQ topic %q counted in", topic)
		}
	}
	// The in families hold exactly the series above: 7 label sets.
	if n := len(families["rocketmq_messages_in_total"].GetMetric()); n != 7 {
		t.Errorf("rocketmq_messages_in_total has %d series, want 7", n)
	}
}

func TestScrapeHistograms(t *testing.T) {
	m, srv := newTestMetrics(t, Options{})

	m.RPC(10, 0, 2*time.Millisecond)                                // send_message, success: le 3
	m.RPC(10, 0, 500*time.Microsecond)                              // le 1
	m.RPC(10, 0, 4*time.Second)                                     // +Inf only
	m.RPC(10, 1, 8*time.Millisecond)                                // system_error: le 10
	m.RPCDetailed(11, 0, true, RPCSuccess, 1500*time.Millisecond)   // pull_message, long polling: le 2000
	m.RPCDetailed(11, 19, false, RPCWriteFailed, time.Millisecond)  // pull_not_found
	m.RPC(987654, 876543, time.Millisecond)                         // unknown codes
	m.RPC(987655, 876544, time.Millisecond)                         // same series
	m.RPCDetailed(34, 0, false, RPCResult(200), 6*time.Millisecond) // heart_beat, invalid result: success
	m.PutLatency(300 * time.Microsecond)                            // le 0.0005
	m.PutLatency(20 * time.Millisecond)                             // le 0.025

	families := scrape(t, srv)
	if got := families["rocketmq_rpc_latency"].GetType(); got != dto.MetricType_HISTOGRAM {
		t.Fatalf("rocketmq_rpc_latency type %v", got)
	}
	rpc := func(request, response, longPolling, result string) map[string]string {
		return map[string]string{"protocol_type": "remoting", "request_code": request, "response_code": response,
			"is_long_polling": longPolling, "result": result}
	}
	tests := []struct {
		name    string
		labels  map[string]string
		count   uint64
		sum     float64
		buckets map[float64]uint64 // cumulative count at upper bound
	}{
		{"rocketmq_rpc_latency", rpc("send_message", "success", "false", "success"), 3, 4002.5,
			map[float64]uint64{1: 1, 3: 2, 5: 2, 7: 2, 10: 2, 100: 2, 1000: 2, 2000: 2, 3000: 2}},
		{"rocketmq_rpc_latency", rpc("send_message", "system_error", "false", "success"), 1, 8,
			map[float64]uint64{7: 0, 10: 1}},
		{"rocketmq_rpc_latency", rpc("pull_message", "success", "true", "success"), 1, 1500,
			map[float64]uint64{1000: 0, 2000: 1}},
		{"rocketmq_rpc_latency", rpc("pull_message", "pull_not_found", "false", "write_channel_failed"), 1, 1,
			map[float64]uint64{1: 1}},
		{"rocketmq_rpc_latency", rpc("unknown", "unknown", "false", "success"), 2, 2, map[float64]uint64{1: 2}},
		{"rocketmq_rpc_latency", rpc("heart_beat", "success", "false", "success"), 1, 6, map[float64]uint64{5: 0, 7: 1}},
		{"mqstore_store_put_latency_seconds", nil, 2, 0.0203,
			map[float64]uint64{0.00025: 0, 0.0005: 1, 0.01: 1, 0.025: 2, 10: 2}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.name, tt.labels), func(t *testing.T) {
			series, err := find(families, tt.name, tt.labels)
			if err != nil {
				t.Fatal(err)
			}
			h := series.GetHistogram()
			if h.GetSampleCount() != tt.count {
				t.Errorf("count %d, want %d", h.GetSampleCount(), tt.count)
			}
			if diff := h.GetSampleSum() - tt.sum; diff > 1e-9 || diff < -1e-9 {
				t.Errorf("sum %v, want %v", h.GetSampleSum(), tt.sum)
			}
			bounds := map[float64]uint64{}
			for _, b := range h.GetBucket() {
				bounds[b.GetUpperBound()] = b.GetCumulativeCount()
			}
			for bound, want := range tt.buckets {
				if got, ok := bounds[bound]; !ok || got != want {
					t.Errorf("bucket le=%v: %d (present %v), want %d", bound, got, ok, want)
				}
			}
		})
	}

	// RocketMQ's rpc buckets, in ms.
	series, _ := find(families, "rocketmq_rpc_latency", rpc("send_message", "success", "false", "success"))
	var bounds []float64
	for _, b := range series.GetHistogram().GetBucket() {
		if !math.IsInf(b.GetUpperBound(), 1) { // the text format adds +Inf
			bounds = append(bounds, b.GetUpperBound())
		}
	}
	if fmt.Sprint(bounds) != fmt.Sprint(rpcLatencyBuckets) {
		t.Errorf("rpc buckets %v, want %v", bounds, rpcLatencyBuckets)
	}
}

func TestScrapeSnapshot(t *testing.T) {
	m, srv := newTestMetrics(t, Options{})
	families := scrape(t, srv)
	if _, ok := families["rocketmq_half_messages"]; ok {
		t.Error("gauges exported before SetSnapshot")
	}

	calls := 0
	m.SetSnapshot(func() Snapshot {
		calls++
		return Snapshot{
			HalfMessages:        map[string]int64{"TopicT": 4, "TopicU": 0},
			FlushBehindBytes:    1024,
			DispatchBehindBytes: 2048,
			StorageSizeBytes:    1 << 30,
			DiskUsageRatio:      0.42,
			ProcessorWatermark:  map[string]int64{"send": 3, "pull": 1},
			ConsumerLag: []ConsumerLag{
				{Topic: "TopicA", Group: "GroupA", Messages: 10, LatencyMillis: 1500},
				{Topic: "TopicA", Group: "GroupA", Messages: 5, LatencyMillis: 2500}, // merged
				{Topic: "%RETRY%GroupA", Group: "GroupA", Messages: 2, LatencyMillis: 100},
				{Topic: "TopicA", Group: "CID_RMQ_SYS_x", Messages: 1},
			},
			Connections: 7,
			ProducerConnections: []ProducerConnections{
				{Language: "GO", Version: "V4_9_4", Count: 2},
				{Language: "go", Version: "v4_9_4", Count: 1}, // merged after lower-casing
				{Language: "JAVA", Version: "V5_1_0", Count: 1},
			},
			ConsumerConnections: []ConsumerConnections{
				{Group: "GroupA", Language: "GO", Version: "V4_9_4", ConsumeMode: "PUSH", Count: 3},
			},
			Topics:         5,
			ConsumerGroups: 2,
			Permission:     6,
		}
	})
	families = scrape(t, srv)
	if calls != 1 {
		t.Errorf("snapshot called %d times per scrape, want 1", calls)
	}
	storage := map[string]string{"storage_type": "local", "storage_medium": "disk"}
	lag := func(topic, group, retry, system string) map[string]string {
		return map[string]string{"topic": topic, "consumer_group": group, "is_retry": retry, "is_system": system}
	}
	tests := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"rocketmq_half_messages", map[string]string{"topic": "TopicT"}, 4},
		{"rocketmq_half_messages", map[string]string{"topic": "TopicU"}, 0},
		{"rocketmq_storage_flush_behind_bytes", storage, 1024},
		{"rocketmq_storage_dispatch_behind_bytes", storage, 2048},
		{"rocketmq_storage_size", storage, 1 << 30},
		{"mqstore_storage_disk_usage_ratio", nil, 0.42},
		{"rocketmq_processor_watermark", map[string]string{"processor": "send"}, 3},
		{"rocketmq_processor_watermark", map[string]string{"processor": "pull"}, 1},
		{"rocketmq_consumer_lag_messages", lag("TopicA", "GroupA", "false", "false"), 15},
		{"rocketmq_consumer_lag_latency", lag("TopicA", "GroupA", "false", "false"), 2500},
		{"rocketmq_consumer_lag_messages", lag("%RETRY%GroupA", "GroupA", "true", "false"), 2},
		{"rocketmq_consumer_lag_latency", lag("%RETRY%GroupA", "GroupA", "true", "false"), 100},
		{"rocketmq_consumer_lag_messages", lag("TopicA", "CID_RMQ_SYS_x", "false", "true"), 1},
		{"mqstore_connections", nil, 7},
		{"rocketmq_producer_connections", map[string]string{"language": "go", "version": "v4_9_4", "protocol_type": "remoting"}, 3},
		{"rocketmq_producer_connections", map[string]string{"language": "java", "version": "v5_1_0", "protocol_type": "remoting"}, 1},
		{"rocketmq_consumer_connections", map[string]string{"consumer_group": "GroupA", "language": "go", "version": "v4_9_4",
			"consume_mode": "push", "protocol_type": "remoting", "is_system": "false"}, 3},
		{"rocketmq_topic_number", nil, 5},
		{"rocketmq_consumer_group_number", nil, 2},
		{"rocketmq_broker_permission", nil, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name+fmt.Sprint(tt.labels), func(t *testing.T) {
			series, err := find(families, tt.name, tt.labels)
			if err != nil {
				t.Fatal(err)
			}
			if families[tt.name].GetType() != dto.MetricType_GAUGE {
				t.Errorf("type %v, want gauge", families[tt.name].GetType())
			}
			if got := value(series); got != tt.want {
				t.Errorf("value %v, want %v", got, tt.want)
			}
		})
	}

	m.SetSnapshot(nil)
	if _, ok := scrape(t, srv)["rocketmq_topic_number"]; ok {
		t.Error("gauges exported after SetSnapshot(nil)")
	}
}

// TestConstantLabels checks that every series, the Go runtime's included,
// carries cluster, node_type and node_id, and that the defaults apply.
func TestConstantLabels(t *testing.T) {
	tests := []struct {
		opts        Options
		cluster, id string
	}{
		{Options{Cluster: "c1", NodeID: "broker-x"}, "c1", "broker-x"},
		{Options{}, "DefaultCluster", "broker-a"},
	}
	for _, tt := range tests {
		t.Run(tt.cluster, func(t *testing.T) {
			m := New(tt.opts)
			m.MessagesIn("TopicA", 1, 1, MessageNormal)
			m.SetSnapshot(func() Snapshot { return Snapshot{HalfMessages: map[string]int64{"TopicA": 1}} })
			families, err := m.Registry().Gather()
			if err != nil {
				t.Fatal(err)
			}
			var sawGo, sawProcess bool
			for _, family := range families {
				sawGo = sawGo || strings.HasPrefix(family.GetName(), "go_")
				sawProcess = sawProcess || strings.HasPrefix(family.GetName(), "process_")
				for _, series := range family.GetMetric() {
					labels := labelsOf(series)
					if labels["cluster"] != tt.cluster || labels["node_type"] != "broker" || labels["node_id"] != tt.id {
						t.Errorf("%s %v: constant labels missing", family.GetName(), labels)
					}
				}
			}
			if !sawGo || !sawProcess {
				t.Errorf("runtime collectors: go %v, process %v", sawGo, sawProcess)
			}
		})
	}

	families, err := New(Options{NoRuntimeMetrics: true}).Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, family := range families {
		if strings.HasPrefix(family.GetName(), "go_") || strings.HasPrefix(family.GetName(), "process_") {
			t.Errorf("NoRuntimeMetrics: %s exported", family.GetName())
		}
	}
}

func TestOverflow(t *testing.T) {
	m := New(Options{Cluster: "c1", NodeID: "broker-x", MaxSeries: 2, NoRuntimeMetrics: true})
	for _, topic := range []string{"T1", "T2", "T3", "T4", "T1"} {
		m.MessagesIn(topic, 1, 10, MessageNormal)
		m.MessagesOut(topic, "G", 1, 10)
		m.TxnCommitted(topic)
	}
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"rocketmq_messages_in_total", map[string]string{"topic": "T1", "message_type": "normal", "is_system": "false"}, 2},
		{"rocketmq_messages_in_total", map[string]string{"topic": "T2", "message_type": "normal", "is_system": "false"}, 1},
		{"rocketmq_messages_in_total", map[string]string{"topic": OverflowLabel, "message_type": "normal", "is_system": "false"}, 2},
		{"rocketmq_throughput_in_total", map[string]string{"topic": OverflowLabel, "message_type": "normal", "is_system": "false"}, 20},
		{"rocketmq_messages_out_total", map[string]string{"topic": OverflowLabel, "consumer_group": OverflowLabel, "is_system": "false"}, 2},
		{"rocketmq_commit_messages_total", map[string]string{"topic": OverflowLabel}, 2},
	}
	byName := map[string]*dto.MetricFamily{}
	for _, f := range families {
		byName[f.GetName()] = f
	}
	for _, tt := range tests {
		series, err := find(byName, tt.name, tt.labels)
		if err != nil {
			t.Fatal(err)
		}
		if got := value(series); got != tt.want {
			t.Errorf("%s%v = %v, want %v", tt.name, tt.labels, got, tt.want)
		}
	}
	if n := len(byName["rocketmq_messages_in_total"].GetMetric()); n != 3 {
		t.Errorf("%d series, want 3 (2 + overflow)", n)
	}
}

func TestForget(t *testing.T) {
	m := New(Options{Cluster: "c1", NodeID: "broker-x", NoRuntimeMetrics: true})
	for _, topic := range []string{"T1", "T2"} {
		for _, group := range []string{"G1", "G2"} {
			m.MessagesIn(topic, 1, 1, MessageNormal)
			m.MessagesOut(topic, group, 1, 1)
			m.SentToDLQ(topic, group)
			m.TxnCommitted(topic)
			m.TxnRolledBack(topic)
		}
	}
	m.Forget("T1")
	m.ForgetGroup("G2")
	// Counting again after Forget starts from zero.
	m.MessagesIn("T1", 1, 1, MessageNormal)

	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range families {
		for _, series := range f.GetMetric() {
			l := labelsOf(series)
			got = append(got, fmt.Sprintf("%s %s %s=%v", f.GetName(), l["topic"], l["consumer_group"], value(series)))
		}
	}
	sort.Strings(got)
	want := []string{
		"rocketmq_commit_messages_total T2 =2",
		"rocketmq_messages_in_total T1 =1",
		"rocketmq_messages_in_total T2 =2",
		"rocketmq_messages_out_total T2 G1=1",
		"rocketmq_rollback_messages_total T2 =2",
		"rocketmq_send_to_dlq_messages_total T2 G1=1",
	}
	var filtered []string
	for _, line := range got {
		if strings.HasPrefix(line, "rocketmq_throughput_") || strings.HasPrefix(line, "mqstore_") {
			continue
		}
		filtered = append(filtered, line)
	}
	if strings.Join(filtered, "\n") != strings.Join(want, "\n") {
		t.Errorf("after Forget:\n%s\nwant:\n%s", strings.Join(filtered, "\n"), strings.Join(want, "\n"))
	}
}

// TestSnapshotPanic checks that a panicking snapshot function fails the
// gauges of one scrape, not the process nor the counters.
func TestSnapshotPanic(t *testing.T) {
	m, srv := newTestMetrics(t, Options{Cluster: "c1", NodeID: "broker-x", NoRuntimeMetrics: true})
	m.MessagesIn("TopicA", 1, 1, MessageNormal)
	m.SetSnapshot(func() Snapshot { panic("boom") })
	if _, err := m.Registry().Gather(); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("Gather: %v, want the panic as an error", err)
	}
	families := scrape(t, srv) // ContinueOnError: the rest is served
	if _, err := find(families, "rocketmq_messages_in_total",
		map[string]string{"topic": "TopicA", "message_type": "normal", "is_system": "false"}); err != nil {
		t.Error(err)
	}
}

// TestInvalidUTF8 checks that label values from the network cannot make a
// scrape fail.
func TestInvalidUTF8(t *testing.T) {
	m := New(Options{NoRuntimeMetrics: true})
	m.MessagesIn("bad\xff", 1, 1, MessageNormal)
	m.MessagesIn("bad\xfe", 1, 1, MessageNormal) // same label value after repair
	m.MessagesOut("bad\xff", "g\xff", 1, 1)
	m.SetSnapshot(func() Snapshot {
		return Snapshot{
			HalfMessages: map[string]int64{"x\xff": 1, "x\xfe": 2},
			ConsumerLag:  []ConsumerLag{{Topic: "t\xff", Group: "g", Messages: 1}, {Topic: "t\xfe", Group: "g", Messages: 2}},
		}
	})
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	for _, f := range families {
		switch f.GetName() {
		case "rocketmq_messages_in_total":
			if len(f.GetMetric()) != 1 || value(f.GetMetric()[0]) != 2 {
				t.Errorf("%s: %v", f.GetName(), f.GetMetric())
			}
		case "rocketmq_half_messages":
			if len(f.GetMetric()) != 1 || value(f.GetMetric()[0]) != 3 {
				t.Errorf("%s: %v", f.GetName(), f.GetMetric())
			}
		case "rocketmq_consumer_lag_messages":
			if len(f.GetMetric()) != 1 || value(f.GetMetric()[0]) != 3 {
				t.Errorf("%s: %v", f.GetName(), f.GetMetric())
			}
		}
	}
}

// TestConcurrent counts from many goroutines (run it with -race).
func TestConcurrent(t *testing.T) {
	m := New(Options{Cluster: "c1", NodeID: "broker-x", NoRuntimeMetrics: true})
	const workers, rounds = 8, 500
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			topic := fmt.Sprintf("T%d", w%3)
			for range rounds {
				m.MessagesIn(topic, 2, 10, MessageNormal)
				m.MessagesOut(topic, "G", 1, 5)
				m.RPC(10, 0, time.Millisecond)
				if w == 0 {
					_, _ = m.Registry().Gather()
					m.Forget("other")
				}
			}
		}()
	}
	wg.Wait()
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	totals := map[string]float64{}
	for _, f := range families {
		for _, series := range f.GetMetric() {
			totals[f.GetName()] += value(series)
		}
	}
	want := map[string]float64{
		"rocketmq_messages_in_total":    workers * rounds * 2,
		"rocketmq_throughput_in_total":  workers * rounds * 10,
		"rocketmq_messages_out_total":   workers * rounds,
		"rocketmq_throughput_out_total": workers * rounds * 5,
		"rocketmq_rpc_latency":          workers * rounds,
	}
	for name, w := range want {
		if totals[name] != w {
			t.Errorf("%s = %v, want %v", name, totals[name], w)
		}
	}
}

// TestHotPathAllocs checks that the counters allocate nothing once their
// label set has been seen.
func TestHotPathAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	m := New(Options{NoRuntimeMetrics: true})
	topic := strings.Repeat("T", 12) // not a constant
	tests := []struct {
		name string
		fn   func()
	}{
		{"MessagesIn", func() { m.MessagesIn(topic, 1, 100, MessageNormal) }},
		{"MessagesOut", func() { m.MessagesOut(topic, "G", 1, 100) }},
		{"SentToDLQ", func() { m.SentToDLQ(topic, "G") }},
		{"TxnCommitted", func() { m.TxnCommitted(topic) }},
		{"TxnRolledBack", func() { m.TxnRolledBack(topic) }},
		{"RPC", func() { m.RPC(10, 0, time.Millisecond) }},
		{"RPCDetailed", func() { m.RPCDetailed(11, 0, true, RPCSuccess, time.Millisecond) }},
		{"CheckAnswered", func() { m.CheckAnswered(CheckCommit) }},
		{"PutLatency", func() { m.PutLatency(time.Millisecond) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn() // first call creates the series
			if allocs := testing.AllocsPerRun(1000, tt.fn); allocs != 0 {
				t.Errorf("%v allocs per call, want 0", allocs)
			}
		})
	}
}

func TestMessageTypeAndResultNames(t *testing.T) {
	tests := []struct{ got, want string }{
		{MessageNormal.String(), "normal"},
		{MessageFIFO.String(), "fifo"},
		{MessageDelay.String(), "delay"},
		{MessageTransaction.String(), "transaction"},
		{MessageType(7).String(), "normal"},
		{RPCSuccess.String(), "success"},
		{RPCOneway.String(), "oneway"},
		{RPCCancelled.String(), "cancelled"},
		{RPCProcessFailed.String(), "process_request_failed"},
		{RPCWriteFailed.String(), "write_channel_failed"},
		{RPCResult(9).String(), "success"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}
