package broker

import "github.com/mqstore/mqstore/protocol"

// Header (extFields) names are package protocol's (protocol/fields.go), shared with the client.

// sendFields names the fields of a send request header in one of its two spellings.
type sendFields struct {
	producerGroup, topic, defaultTopic, defaultTopicQueueNums, queueID, sysFlag,
	bornTimestamp, flag, properties, reconsumeTimes, unitMode, maxReconsumeTimes, batch string
}

// sendFieldsV1 is SendMessageRequestHeader (SEND_MESSAGE).
var sendFieldsV1 = sendFields{
	producerGroup:         protocol.FieldProducerGroup,
	topic:                 protocol.FieldTopic,
	defaultTopic:          protocol.FieldDefaultTopic,
	defaultTopicQueueNums: protocol.FieldDefaultTopicQueueNums,
	queueID:               protocol.FieldQueueID,
	sysFlag:               protocol.FieldSysFlag,
	bornTimestamp:         protocol.FieldBornTimestamp,
	flag:                  protocol.FieldFlag,
	properties:            protocol.FieldProperties,
	reconsumeTimes:        protocol.FieldReconsumeTimes,
	unitMode:              protocol.FieldUnitMode,
	maxReconsumeTimes:     protocol.FieldMaxReconsumeTimes,
	batch:                 protocol.FieldBatch,
}

// sendFieldsV2 is SendMessageRequestHeaderV2 (SEND_MESSAGE_V2, SEND_BATCH_MESSAGE): the same
// fields named a..m.
var sendFieldsV2 = sendFields{
	producerGroup:         protocol.FieldV2ProducerGroup,
	topic:                 protocol.FieldV2Topic,
	defaultTopic:          protocol.FieldV2DefaultTopic,
	defaultTopicQueueNums: protocol.FieldV2DefaultTopicQueueNums,
	queueID:               protocol.FieldV2QueueID,
	sysFlag:               protocol.FieldV2SysFlag,
	bornTimestamp:         protocol.FieldV2BornTimestamp,
	flag:                  protocol.FieldV2Flag,
	properties:            protocol.FieldV2Properties,
	reconsumeTimes:        protocol.FieldV2ReconsumeTimes,
	unitMode:              protocol.FieldV2UnitMode,
	maxReconsumeTimes:     protocol.FieldV2MaxReconsumeTimes,
	batch:                 protocol.FieldV2Batch,
}
