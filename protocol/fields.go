package protocol

// Header (extFields) names of RocketMQ requests and responses, defined once for the broker that
// reads them and the client that writes them (../shared/spec/rocketmq.md §7.6-7.8, clientgo.md
// §3-4). Values on the wire are always strings. Where two request headers use the same name
// for the same thing, one constant serves both.
const (
	// SEND_MESSAGE (10) request (SendMessageRequestHeader).
	FieldProducerGroup         = "producerGroup"
	FieldTopic                 = "topic"
	FieldDefaultTopic          = "defaultTopic"
	FieldDefaultTopicQueueNums = "defaultTopicQueueNums"
	FieldQueueID               = "queueId"
	FieldSysFlag               = "sysFlag"
	FieldBornTimestamp         = "bornTimestamp"
	FieldFlag                  = "flag"
	FieldProperties            = "properties"
	FieldReconsumeTimes        = "reconsumeTimes"
	FieldUnitMode              = "unitMode"
	FieldMaxReconsumeTimes     = "maxReconsumeTimes"
	FieldBatch                 = "batch"

	// SEND_MESSAGE_V2 (310) and SEND_BATCH_MESSAGE (320) request (SendMessageRequestHeaderV2):
	// the fields of SEND_MESSAGE, in order, named a..m.
	FieldV2ProducerGroup         = "a"
	FieldV2Topic                 = "b"
	FieldV2DefaultTopic          = "c"
	FieldV2DefaultTopicQueueNums = "d"
	FieldV2QueueID               = "e"
	FieldV2SysFlag               = "f"
	FieldV2BornTimestamp         = "g"
	FieldV2Flag                  = "h"
	FieldV2Properties            = "i"
	FieldV2ReconsumeTimes        = "j"
	FieldV2UnitMode              = "k"
	FieldV2MaxReconsumeTimes     = "l"
	FieldV2Batch                 = "m"

	// SEND responses (FieldQueueID too). FieldMsgID is also END_TRANSACTION's and
	// CHECK_TRANSACTION_STATE's client message id.
	FieldMsgID         = "msgId"
	FieldQueueOffset   = "queueOffset" // also PULL_MESSAGE's start offset
	FieldTransactionID = "transactionId"
	FieldMsgRegion     = "MSG_REGION"
	FieldTraceOn       = "TRACE_ON"

	// PULL_MESSAGE (11) request and response.
	FieldConsumerGroup        = "consumerGroup"
	FieldMaxMsgNums           = "maxMsgNums"
	FieldCommitOffset         = "commitOffset"
	FieldSuspendTimeoutMillis = "suspendTimeoutMillis"
	FieldSubscription         = "subscription"
	FieldSubVersion           = "subVersion"
	FieldExpressionType       = "expressionType"
	FieldNextBeginOffset      = "nextBeginOffset"
	FieldMinOffset            = "minOffset"
	FieldMaxOffset            = "maxOffset"
	FieldSuggestWhichBrokerID = "suggestWhichBrokerId"

	// Offsets and lookups (12, 14, 15, 29-33).
	FieldOffset                   = "offset"
	FieldTimestamp                = "timestamp"
	FieldKey                      = "key"
	FieldMaxNum                   = "maxNum"
	FieldBeginTimestamp           = "beginTimestamp"
	FieldEndTimestamp             = "endTimestamp"
	FieldIndexLastUpdateTimestamp = "indexLastUpdateTimestamp"
	FieldIndexLastUpdatePhyoffset = "indexLastUpdatePhyoffset"

	// END_TRANSACTION (37) request and CHECK_TRANSACTION_STATE (39, broker→producer).
	FieldTranStateTableOffset = "tranStateTableOffset"
	FieldCommitLogOffset      = "commitLogOffset"
	FieldCommitOrRollback     = "commitOrRollback"
	FieldFromTransactionCheck = "fromTransactionCheck"
	FieldOffsetMsgID          = "offsetMsgId"
	FieldBrokerName           = "bname"

	// CONSUMER_SEND_MSG_BACK (36) request (FieldOffset, FieldMaxReconsumeTimes, FieldUnitMode),
	// and RESET_OFFSET (222, 220) (FieldTopic, FieldTimestamp).
	FieldGroup       = "group"
	FieldDelayLevel  = "delayLevel"
	FieldOriginMsgID = "originMsgId"
	FieldOriginTopic = "originTopic"

	// UNREGISTER_CLIENT (35) and topics (17).
	FieldClientID        = "clientID"
	FieldReadQueueNums   = "readQueueNums"
	FieldWriteQueueNums  = "writeQueueNums"
	FieldPerm            = "perm"
	FieldTopicFilterType = "topicFilterType"
	FieldTopicSysFlag    = "topicSysFlag"
	FieldOrder           = "order"
	FieldAttributes      = "attributes" // RocketMQ 5 topic attributes, "+key=value,-key"

	// mqstore's MQSTORE_COMMIT_HALF_MESSAGE / MQSTORE_ROLLBACK_HALF_MESSAGE (9001, 9002) response:
	// whether the operator's commit or rollback changed anything ("true"/"false").
	FieldChanged = "changed"

	// DELETE_SUBSCRIPTIONGROUP (207) request, and mqstore's addition to its response: whether
	// the group existed ("true"/"false").
	FieldGroupName    = "groupName"
	FieldRemoveOffset = "removeOffset"
	FieldExisted      = "existed"

	// INVOKE_BROKER_TO_RESET_OFFSET (222) request (FieldTopic, FieldGroup, FieldTimestamp), and
	// mqstore's addition to its response: how many live consumers were told.
	FieldIsForce  = "isForce"
	FieldNotified = "notified"

	// GET_CONSUMER_RUNNING_INFO (307) request (FieldConsumerGroup). Note the spelling: "clientId"
	// here, "clientID" in UNREGISTER_CLIENT.
	FieldRunningClientID = "clientId"
	FieldJstackEnable    = "jstackEnable"
)

// PULL_MESSAGE (11) request sysFlag bits (RocketMQ's PullSysFlag).
const (
	PullFlagCommitOffset = 0x1  // the request carries commitOffset: commit it
	PullFlagSuspend      = 0x2  // hold the pull until a message arrives or suspendTimeoutMillis
	PullFlagSubscription = 0x4  // the request carries its subscription expression
	PullFlagClassFilter  = 0x8  // class filter (not supported)
	PullFlagLitePull     = 0x10 // a lite pull consumer
)
