package broker

import (
	"errors"
	"fmt"
	"strings"

	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/metrics"
	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
	"github.com/mqstore/mqstore/store"
)

// SEND_BATCH_MESSAGE (320): store several messages of one topic, all in one queue, with one
// append (store.PutBatch: all or none). The header is SendMessageRequestHeaderV2 (a..m); the
// body is the batch encoding (message.DecodeBatch: per message its flag, body and properties).
// The answer's msgId is the comma-joined offset ids, queueOffset the first message's offset.

// maxBatchMessages caps the number of messages in one batch.
const maxBatchMessages = 4096

func (b *Broker) handleSendBatchMessage(c *remoting.Conn, req *remoting.Command) *remoting.Command {
	h, err := parseSendHeader(req, &sendFieldsV2)
	if err != nil {
		return errorResponse(req, err)
	}
	if strings.HasPrefix(h.topic, RetryTopicPrefix) {
		return remoting.NewResponse(req, remoting.ResponseMessageIllegal, "batch request does not support retry group "+h.topic)
	}
	if message.TransactionType(h.sysFlag) != message.TransactionNotType {
		return remoting.NewResponse(req, remoting.ResponseMessageIllegal, "batch request does not support transaction messages")
	}
	queueID, err := b.prepareSend(c, &h)
	if err != nil {
		return errorResponse(req, err)
	}
	born, storeHost := bornHost(c), b.storeHost()
	var msgs []*message.Message
	err = message.DecodeBatch(req.Body, func(flag int32, body []byte, props message.Properties) error {
		if len(msgs) == maxBatchMessages {
			return fmt.Errorf("%w: more than %d messages in a batch", store.ErrMessageIllegal, maxBatchMessages)
		}
		msgs = append(msgs, &message.Message{
			Topic:          h.topic,
			QueueID:        queueID,
			Flag:           flag,
			Body:           body,
			SysFlag:        h.sysFlag,
			BornTimestamp:  h.bornTimestamp,
			BornHost:       born,
			StoreHost:      storeHost,
			ReconsumeTimes: h.reconsumeTimes,
			Properties:     props,
		})
		return nil
	})
	if errors.Is(err, message.ErrBadBatch) {
		return remoting.NewResponse(req, remoting.ResponseMessageIllegal, err.Error())
	}
	if err != nil {
		return errorResponse(req, err)
	}
	if len(msgs) == 0 {
		return remoting.NewResponse(req, remoting.ResponseMessageIllegal, "empty batch")
	}
	results, err := b.store.PutBatch(msgs)
	var resp *remoting.Command
	switch {
	case err == nil:
		resp = remoting.NewResponse(req, remoting.ResponseSuccess, "")
	case errors.Is(err, store.ErrFlushTimeout):
		resp = remoting.NewResponse(req, remoting.ResponseFlushDiskTimeout, err.Error())
	default:
		return errorResponse(req, err)
	}
	b.stats.putMessages.Add(int64(len(results)))
	if mt := b.opts.Metrics; mt != nil && len(msgs) > 0 {
		bytes := 0
		for _, m := range msgs {
			bytes += len(m.Body)
		}
		mt.MessagesIn(msgs[0].Topic, len(msgs), bytes, metrics.MessageNormal)
	}
	var ids strings.Builder
	ids.Grow(len(results) * (message.OffsetMsgIDLenV4 + 1))
	for i, r := range results {
		if i > 0 {
			ids.WriteByte(',')
		}
		ids.WriteString(r.MsgID)
	}
	resp.SetExt(protocol.FieldMsgID, ids.String())
	resp.SetExt(protocol.FieldQueueID, itoa32(queueID))
	resp.SetExtInt64(protocol.FieldQueueOffset, results[0].QueueOffset)
	b.setSendExt(resp)
	return resp
}
