package broker

import "github.com/mqstore/mqstore/protocol"

// Header (extFields) names are package protocol's (protocol/fields.go), shared with the client.

// The fields of a send request header (SendMessageRequestHeader), in the order of their V2
// names a..m: the index of a field in sendFields.names.
const (
	sendProducerGroup = iota
	sendTopic
	sendDefaultTopic
	sendDefaultTopicQueueNums
	sendQueueID
	sendSysFlag
	sendBornTimestamp
	sendFlag
	sendProperties
	sendReconsumeTimes
	sendUnitMode
	sendMaxReconsumeTimes
	sendBatch
	sendFieldCount
)

// sendFields names the fields of a send request header in one of its two spellings.
type sendFields struct {
	names [sendFieldCount]string
	// letters: the names are "a", "b", ... in field order, so a key's index is its letter
	// (SendMessageRequestHeaderV2); otherwise byName maps a name to its index.
	letters bool
	byName  map[string]int
}

// index returns the field that key names in this spelling, or -1.
func (f *sendFields) index(key string) int {
	if f.letters {
		if len(key) == 1 && key[0] >= 'a' && key[0] < 'a'+sendFieldCount {
			return int(key[0] - 'a')
		}
		return -1
	}
	if i, ok := f.byName[key]; ok {
		return i
	}
	return -1
}

func newSendFields(names [sendFieldCount]string) sendFields {
	f := sendFields{names: names, letters: true, byName: make(map[string]int, sendFieldCount)}
	for i, name := range names {
		f.byName[name] = i
		if name != string(rune('a'+i)) {
			f.letters = false
		}
	}
	return f
}

// sendFieldsV1 is SendMessageRequestHeader (SEND_MESSAGE).
var sendFieldsV1 = newSendFields([sendFieldCount]string{
	sendProducerGroup:         protocol.FieldProducerGroup,
	sendTopic:                 protocol.FieldTopic,
	sendDefaultTopic:          protocol.FieldDefaultTopic,
	sendDefaultTopicQueueNums: protocol.FieldDefaultTopicQueueNums,
	sendQueueID:               protocol.FieldQueueID,
	sendSysFlag:               protocol.FieldSysFlag,
	sendBornTimestamp:         protocol.FieldBornTimestamp,
	sendFlag:                  protocol.FieldFlag,
	sendProperties:            protocol.FieldProperties,
	sendReconsumeTimes:        protocol.FieldReconsumeTimes,
	sendUnitMode:              protocol.FieldUnitMode,
	sendMaxReconsumeTimes:     protocol.FieldMaxReconsumeTimes,
	sendBatch:                 protocol.FieldBatch,
})

// sendFieldsV2 is SendMessageRequestHeaderV2 (SEND_MESSAGE_V2, SEND_BATCH_MESSAGE): the same
// fields named a..m.
var sendFieldsV2 = newSendFields([sendFieldCount]string{
	sendProducerGroup:         protocol.FieldV2ProducerGroup,
	sendTopic:                 protocol.FieldV2Topic,
	sendDefaultTopic:          protocol.FieldV2DefaultTopic,
	sendDefaultTopicQueueNums: protocol.FieldV2DefaultTopicQueueNums,
	sendQueueID:               protocol.FieldV2QueueID,
	sendSysFlag:               protocol.FieldV2SysFlag,
	sendBornTimestamp:         protocol.FieldV2BornTimestamp,
	sendFlag:                  protocol.FieldV2Flag,
	sendProperties:            protocol.FieldV2Properties,
	sendReconsumeTimes:        protocol.FieldV2ReconsumeTimes,
	sendUnitMode:              protocol.FieldV2UnitMode,
	sendMaxReconsumeTimes:     protocol.FieldV2MaxReconsumeTimes,
	sendBatch:                 protocol.FieldV2Batch,
})
