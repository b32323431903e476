package client

// Header (extFields) names of the requests the client sends and the
// responses it reads (../shared/spec/rocketmq.md §7.6-7.8), defined once.
// Values on the wire are always strings.
const (
	// SEND_MESSAGE_V2 (310) and SEND_BATCH_MESSAGE (320) request
	// (SendMessageRequestHeaderV2).
	fieldV2ProducerGroup         = "a"
	fieldV2Topic                 = "b"
	fieldV2DefaultTopic          = "c"
	fieldV2DefaultTopicQueueNums = "d"
	fieldV2QueueID               = "e"
	fieldV2SysFlag               = "f"
	fieldV2BornTimestamp         = "g"
	fieldV2Flag                  = "h"
	fieldV2Properties            = "i"
	fieldV2ReconsumeTimes        = "j"
	fieldV2MaxReconsumeTimes     = "l"
	fieldV2Batch                 = "m"

	// SEND responses.
	fieldMsgID         = "msgId"
	fieldQueueID       = "queueId"
	fieldQueueOffset   = "queueOffset"
	fieldTransactionID = "transactionId"
	fieldMsgRegion     = "MSG_REGION"

	// END_TRANSACTION (37) request, and CHECK_TRANSACTION_STATE (39).
	fieldProducerGroup        = "producerGroup"
	fieldTranStateTableOffset = "tranStateTableOffset"
	fieldCommitLogOffset      = "commitLogOffset"
	fieldCommitOrRollback     = "commitOrRollback"
	fieldFromTransactionCheck = "fromTransactionCheck"
	fieldMsgIDEnd             = "msgId"
	fieldOffsetMsgID          = "offsetMsgId"

	// PULL_MESSAGE (11) request and response.
	fieldConsumerGroup        = "consumerGroup"
	fieldTopic                = "topic"
	fieldQueueOffsetPull      = "queueOffset"
	fieldMaxMsgNums           = "maxMsgNums"
	fieldSysFlag              = "sysFlag"
	fieldCommitOffset         = "commitOffset"
	fieldSuspendTimeoutMillis = "suspendTimeoutMillis"
	fieldSubscription         = "subscription"
	fieldSubVersion           = "subVersion"
	fieldExpressionType       = "expressionType"
	fieldNextBeginOffset      = "nextBeginOffset"
	fieldMinOffset            = "minOffset"
	fieldMaxOffset            = "maxOffset"
	fieldSuggestWhichBrokerID = "suggestWhichBrokerId"

	// Offsets, queries and topics (12, 14, 15, 17, 30, 31, 33).
	fieldOffset          = "offset"
	fieldKey             = "key"
	fieldMaxNum          = "maxNum"
	fieldBeginTimestamp  = "beginTimestamp"
	fieldEndTimestamp    = "endTimestamp"
	fieldDefaultTopic    = "defaultTopic"
	fieldReadQueueNums   = "readQueueNums"
	fieldWriteQueueNums  = "writeQueueNums"
	fieldPerm            = "perm"
	fieldTopicFilterType = "topicFilterType"
	fieldTopicSysFlag    = "topicSysFlag"
	fieldOrder           = "order"
)

// Pull request sysFlag bits (PullSysFlag).
const (
	pullFlagCommitOffset = 0x1
	pullFlagSuspend      = 0x2
	pullFlagSubscription = 0x4
)
