package broker

// Header (extFields) names of the requests and responses the broker serves, defined once
// (../shared/spec/rocketmq.md §7.6-7.8). Values on the wire are always strings.
const (
	// SEND_MESSAGE (10) request; SEND_MESSAGE_V2 (310) and SEND_BATCH_MESSAGE (320) use the
	// one-letter names of sendFieldsV2 for the same fields.
	fieldProducerGroup         = "producerGroup"
	fieldTopic                 = "topic"
	fieldDefaultTopic          = "defaultTopic"
	fieldDefaultTopicQueueNums = "defaultTopicQueueNums"
	fieldQueueID               = "queueId"
	fieldSysFlag               = "sysFlag"
	fieldBornTimestamp         = "bornTimestamp"
	fieldFlag                  = "flag"
	fieldProperties            = "properties"
	fieldReconsumeTimes        = "reconsumeTimes"
	fieldUnitMode              = "unitMode"
	fieldMaxReconsumeTimes     = "maxReconsumeTimes"
	fieldBatch                 = "batch"

	// SEND responses.
	fieldMsgID         = "msgId"
	fieldQueueOffset   = "queueOffset"
	fieldTransactionID = "transactionId"
	fieldMsgRegion     = "MSG_REGION"
	fieldTraceOn       = "TRACE_ON"

	// PULL_MESSAGE (11) request and response.
	fieldConsumerGroup        = "consumerGroup"
	fieldMaxMsgNums           = "maxMsgNums"
	fieldCommitOffset         = "commitOffset"
	fieldSuspendTimeoutMillis = "suspendTimeoutMillis"
	fieldSubscription         = "subscription"
	fieldSubVersion           = "subVersion"
	fieldExpressionType       = "expressionType"
	fieldNextBeginOffset      = "nextBeginOffset"
	fieldMinOffset            = "minOffset"
	fieldMaxOffset            = "maxOffset"
	fieldSuggestWhichBrokerID = "suggestWhichBrokerId"

	// Offsets and lookups (12, 14, 15, 29-33).
	fieldOffset                   = "offset"
	fieldTimestamp                = "timestamp"
	fieldKey                      = "key"
	fieldMaxNum                   = "maxNum"
	fieldBeginTimestamp           = "beginTimestamp"
	fieldEndTimestamp             = "endTimestamp"
	fieldIndexLastUpdateTimestamp = "indexLastUpdateTimestamp"
	fieldIndexLastUpdatePhyoffset = "indexLastUpdatePhyoffset"

	// END_TRANSACTION (37) request and CHECK_TRANSACTION_STATE (39, broker→producer) header.
	fieldTranStateTableOffset = "tranStateTableOffset"
	fieldCommitLogOffset      = "commitLogOffset"
	fieldCommitOrRollback     = "commitOrRollback"
	fieldFromTransactionCheck = "fromTransactionCheck"
	fieldOffsetMsgID          = "offsetMsgId"
	fieldBrokerName           = "bname"

	// CONSUMER_SEND_MSG_BACK (36) request (fieldOffset, fieldMaxReconsumeTimes, fieldUnitMode).
	fieldGroup       = "group"
	fieldDelayLevel  = "delayLevel"
	fieldOriginMsgID = "originMsgId"
	fieldOriginTopic = "originTopic"

	// Clients (35) and topics (17).
	fieldClientID        = "clientID"
	fieldReadQueueNums   = "readQueueNums"
	fieldWriteQueueNums  = "writeQueueNums"
	fieldPerm            = "perm"
	fieldTopicFilterType = "topicFilterType"
	fieldTopicSysFlag    = "topicSysFlag"
	fieldOrder           = "order"
)

// sendFields names the fields of a send request header in one of its two spellings.
type sendFields struct {
	producerGroup, topic, defaultTopic, defaultTopicQueueNums, queueID, sysFlag,
	bornTimestamp, flag, properties, reconsumeTimes, unitMode, maxReconsumeTimes, batch string
}

// sendFieldsV1 is SendMessageRequestHeader (SEND_MESSAGE).
var sendFieldsV1 = sendFields{
	producerGroup:         fieldProducerGroup,
	topic:                 fieldTopic,
	defaultTopic:          fieldDefaultTopic,
	defaultTopicQueueNums: fieldDefaultTopicQueueNums,
	queueID:               fieldQueueID,
	sysFlag:               fieldSysFlag,
	bornTimestamp:         fieldBornTimestamp,
	flag:                  fieldFlag,
	properties:            fieldProperties,
	reconsumeTimes:        fieldReconsumeTimes,
	unitMode:              fieldUnitMode,
	maxReconsumeTimes:     fieldMaxReconsumeTimes,
	batch:                 fieldBatch,
}

// sendFieldsV2 is SendMessageRequestHeaderV2 (SEND_MESSAGE_V2, SEND_BATCH_MESSAGE): the same
// fields named a..m.
var sendFieldsV2 = sendFields{
	producerGroup:         "a",
	topic:                 "b",
	defaultTopic:          "c",
	defaultTopicQueueNums: "d",
	queueID:               "e",
	sysFlag:               "f",
	bornTimestamp:         "g",
	flag:                  "h",
	properties:            "i",
	reconsumeTimes:        "j",
	unitMode:              "k",
	maxReconsumeTimes:     "l",
	batch:                 "m",
}

// Pull request sysFlag bits (PullSysFlag).
const (
	pullFlagCommitOffset = 0x1
	pullFlagSuspend      = 0x2
	pullFlagSubscription = 0x4
	pullFlagClassFilter  = 0x8
	pullFlagLitePull     = 0x10
)
