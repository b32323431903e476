package metrics

import (
	"strings"
	"unicode/utf8"

	"github.com/mqstore/mqstore/remoting"
)

// Label names and fixed values, RocketMQ 5's (BrokerMetricsConstant,
// RemotingMetricsConstant, DefaultStoreMetricsConstant).
const (
	labelCluster       = "cluster"
	labelNodeType      = "node_type"
	labelNodeID        = "node_id"
	labelTopic         = "topic"
	labelGroup         = "consumer_group"
	labelMessageType   = "message_type"
	labelIsSystem      = "is_system"
	labelIsRetry       = "is_retry"
	labelProcessor     = "processor"
	labelLanguage      = "language"
	labelVersion       = "version"
	labelConsumeMode   = "consume_mode"
	labelProtocolType  = "protocol_type"
	labelRequestCode   = "request_code"
	labelResponseCode  = "response_code"
	labelIsLongPolling = "is_long_polling"
	labelResult        = "result"
	labelStorageType   = "storage_type"
	labelStorageMedium = "storage_medium"

	nodeTypeBroker        = "broker"
	protocolTypeRemoting  = "remoting"
	storageTypeLocal      = "local"
	storageMediumDisk     = "disk"
	unknownCodeLabel      = "unknown"
	retryTopicPrefix      = "%RETRY%"
	dlqTopicPrefix        = "%DLQ%"
	systemTopicPrefix     = "rmq_sys_"
	systemGroupPrefix     = "cid_rmq_sys_"
	defaultCluster        = "DefaultCluster"
	defaultNodeID         = "broker-a"
	defaultMaxSeries      = 50000
	overflowLabel         = "__overflow__"
	unknownRequestCode    = int32(-1 << 31) // cache key of every code outside remoting's table
	unknownResponseCode   = int32(-1 << 31)
	labelTrue, labelFalse = "true", "false"
)

// OverflowLabel is the topic or consumer_group value under which a family
// counts the label sets beyond Options.MaxSeries.
const OverflowLabel = overflowLabel

// MessageType is the message_type label of rocketmq_messages_in_total and
// rocketmq_throughput_in_total (RocketMQ's TopicMessageType, lower case).
type MessageType uint8

// Message types, as BrokerMetricsManager.getMessageType classifies a send:
// PROPERTY_TRANSACTION_PREPARED=true is transaction, a sharding key is fifo,
// a delay level or timer property is delay, anything else normal.
const (
	MessageNormal MessageType = iota
	MessageFIFO
	MessageDelay
	MessageTransaction
	messageTypeCount
)

var messageTypeNames = [messageTypeCount]string{"normal", "fifo", "delay", "transaction"}

// String returns the label value ("normal", "fifo", "delay", "transaction");
// a value outside the constants is "normal".
func (t MessageType) String() string {
	if t >= messageTypeCount {
		return messageTypeNames[MessageNormal]
	}
	return messageTypeNames[t]
}

// RPCResult is the result label of rocketmq_rpc_latency
// (RemotingMetricsConstant.RESULT_*).
type RPCResult uint8

// RPC results.
const (
	RPCSuccess       RPCResult = iota // response written
	RPCOneway                         // oneway request, no response
	RPCCancelled                      // response write cancelled
	RPCProcessFailed                  // the processor failed
	RPCWriteFailed                    // the response could not be written
	rpcResultCount
)

var rpcResultNames = [rpcResultCount]string{"success", "oneway", "cancelled", "process_request_failed", "write_channel_failed"}

// String returns the label value; a value outside the constants is "success".
func (r RPCResult) String() string {
	if r >= rpcResultCount {
		return rpcResultNames[RPCSuccess]
	}
	return rpcResultNames[r]
}

// Transaction check answers, the result label of
// mqstore_transaction_check_answers_total.
const (
	CheckCommit   = "commit"
	CheckRollback = "rollback"
	CheckUnknown  = "unknown"
)

// systemTopics are the fixed names of TopicValidator.SYSTEM_TOPIC_SET; the
// broker's cluster and broker names are added per Metrics, as
// BrokerController does.
var systemTopics = map[string]bool{
	"TBW102":                      true,
	"SCHEDULE_TOPIC_XXXX":         true,
	"BenchmarkTest":               true,
	"RMQ_SYS_TRANS_HALF_TOPIC":    true,
	"RMQ_SYS_TRACE_TOPIC":         true,
	"RMQ_SYS_TRANS_OP_HALF_TOPIC": true,
	"TRANS_CHECK_MAX_TIME_TOPIC":  true,
	"SELF_TEST_TOPIC":             true,
	"OFFSET_MOVED_EVENT":          true,
}

// isSystemTopic reports whether topic is a RocketMQ system topic
// (TopicValidator.isSystemTopic: the fixed set, the rmq_sys_ prefix, the
// cluster and broker names).
func (m *Metrics) isSystemTopic(topic string) bool {
	if systemTopics[topic] || topic == m.cluster || topic == m.nodeID {
		return true
	}
	return len(topic) >= len(systemTopicPrefix) && strings.EqualFold(topic[:len(systemTopicPrefix)], systemTopicPrefix)
}

// isSystemGroup reports whether group starts with CID_RMQ_SYS_, in any case
// (BrokerMetricsManager.isSystemGroup).
func isSystemGroup(group string) bool {
	return len(group) >= len(systemGroupPrefix) && strings.EqualFold(group[:len(systemGroupPrefix)], systemGroupPrefix)
}

// isRetryOrDLQ reports whether topic is a retry or dead-letter topic, which
// rocketmq_messages_in_total leaves out (BrokerMetricsManager.isRetryOrDlqTopic).
func isRetryOrDLQ(topic string) bool {
	return strings.HasPrefix(topic, retryTopicPrefix) || strings.HasPrefix(topic, dlqTopicPrefix)
}

// labelValue returns v as a valid label value: Prometheus refuses label
// values that are not UTF-8, and topics and groups come from the network.
func labelValue(v string) string {
	if utf8.ValidString(v) {
		return v
	}
	return strings.ToValidUTF8(v, "\uFFFD")
}

func boolLabel(b bool) string {
	if b {
		return labelTrue
	}
	return labelFalse
}

// requestCodeLabel returns RocketMQ's request_code value for code: the
// lower-case Java constant name (RemotingHelper.getRequestCodeDesc). Codes
// outside remoting's table are "unknown" (RocketMQ writes the number, which
// would let a client mint series at will); ok is false for them.
func requestCodeLabel(code int32) (label string, ok bool) {
	name := remoting.RequestCode(code).String()
	if strings.HasPrefix(name, "RequestCode(") {
		return unknownCodeLabel, false
	}
	return strings.ToLower(name), true
}

// responseCodeLabel is requestCodeLabel for response codes
// (RemotingHelper.getResponseCodeDesc).
func responseCodeLabel(code int32) (label string, ok bool) {
	name := remoting.ResponseCode(code).String()
	if strings.HasPrefix(name, "ResponseCode(") {
		return unknownCodeLabel, false
	}
	return strings.ToLower(name), true
}
