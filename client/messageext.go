package client

import (
	"encoding/binary"
	"fmt"

	"github.com/mqstore/mqstore/message"
)

// MessageExt is a stored message as a consumer or a query sees it: the
// message with the fields the broker assigned. Body and Properties alias the
// response body it was decoded from, except a compressed body (SysFlag has
// SysFlagCompressed), which is inflated into a copy; SysFlag stays as stored.
type MessageExt struct {
	message.Message
	BrokerName      string
	QueueOffset     int64
	CommitLogOffset int64 // PHYSICALOFFSET
	StoreTimestamp  int64 // ms
	StoreSize       int32
}

// MsgID returns the message id a RocketMQ client reports: UNIQ_KEY, or the
// offset message id when the message has none (batched messages).
func (m *MessageExt) MsgID() string {
	if id := m.UniqKey(); id != "" {
		return id
	}
	return m.OffsetMsgID()
}

// OffsetMsgID returns the offset message id: store host + commitlog offset.
func (m *MessageExt) OffsetMsgID() string {
	return message.OffsetMsgID(m.StoreHost, m.CommitLogOffset)
}

// TransactionID returns the id of a transactional message: the
// __transactionId__ property, else UNIQ_KEY.
func (m *MessageExt) TransactionID() string {
	if id, ok := m.Property(message.PropertyTransactionID); ok {
		return id
	}
	return m.UniqKey()
}

// maxRecordsPerBody caps the records decoded from one body, whatever it
// claims (a pull asks for at most 1024 messages in practice).
const maxRecordsPerBody = 1 << 16

// decodeRecords decodes a body of concatenated store records (PULL_MESSAGE,
// QUERY_MESSAGE, VIEW_MESSAGE_BY_ID, CHECK_TRANSACTION_STATE) into dst.
// The messages alias body. topic, when it equals a record's topic, is used
// instead of allocating the record's topic string.
// countRecords returns how many records body holds by their leading total sizes, at most limit:
// the capacity a pull's result needs (a pull at a moderate rate returns a few records, and
// MessageExt is large: sizing by the requested maximum allocated and zeroed ~10 KB per pull).
func countRecords(body []byte, limit int) int {
	n := 0
	for pos := 0; n < limit && len(body)-pos >= 4; n++ {
		size := int(binary.BigEndian.Uint32(body[pos:]))
		if size <= 0 || size > len(body)-pos {
			return n + 1 // decodeRecords reports the bad record
		}
		pos += size
	}
	return n
}

func decodeRecords(dst []MessageExt, body []byte, brokerName, topic string) ([]MessageExt, error) {
	var rec message.Record
	for pos := 0; pos < len(body); {
		n, err := message.DecodeRecord(body[pos:], &rec, false)
		if err != nil {
			return dst, fmt.Errorf("%w: record at %d: %w", ErrBadResponse, pos, err)
		}
		if len(dst) >= maxRecordsPerBody {
			return dst, fmt.Errorf("%w: more than %d records", ErrBadResponse, maxRecordsPerBody)
		}
		pos += n
		body, err := inflateBody(rec.Body, rec.SysFlag)
		if err != nil {
			return dst, fmt.Errorf("record at %d: %w", pos-n, err)
		}
		t := topic
		if string(rec.Topic) != topic {
			t = string(rec.Topic)
		}
		dst = append(dst, MessageExt{
			Message: message.Message{
				Topic:                     t,
				QueueID:                   rec.QueueID,
				Flag:                      rec.Flag,
				Body:                      body,
				SysFlag:                   rec.SysFlag,
				BornTimestamp:             rec.BornTimestamp,
				BornHost:                  rec.BornHost,
				StoreHost:                 rec.StoreHost,
				ReconsumeTimes:            rec.ReconsumeTimes,
				PreparedTransactionOffset: rec.PreparedTransactionOffset,
				Properties:                rec.Properties,
			},
			BrokerName:      brokerName,
			QueueOffset:     rec.QueueOffset,
			CommitLogOffset: rec.PhysicalOffset,
			StoreTimestamp:  rec.StoreTimestamp,
			StoreSize:       rec.TotalSize,
		})
	}
	return dst, nil
}
