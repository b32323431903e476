package broker

import (
	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
)

// QUERY_CONSUMER_OFFSET (14): a group's committed offset of a queue (ext consumerGroup, topic,
// queueId → offset). With none committed, a queue that still starts at offset 0 answers 0, as
// RocketMQ does for queues whose first message is in memory (so a new group reads from the
// start even with CONSUME_FROM_LAST_OFFSET, clientgo.md §11.9); otherwise QUERY_NOT_FOUND, and
// the client applies its consumeFromWhere.
func (b *Broker) handleQueryConsumerOffset(_ *remoting.Conn, req *remoting.Command) *remoting.Command {
	group, err := req.GetString(protocol.FieldConsumerGroup)
	if err != nil {
		return errorResponse(req, badField(protocol.FieldConsumerGroup, err))
	}
	topic, queueID, err := queueArgs(req)
	if err != nil {
		return errorResponse(req, err)
	}
	if off, ok := b.offsets.query(group, topic, queueID); ok {
		return offsetResponse(req, off)
	}
	if b.store.MinOffset(topic, queueID) <= 0 {
		return offsetResponse(req, 0)
	}
	return remoting.NewResponse(req, remoting.ResponseQueryNotFound, "Not found, maybe this group consumer boot first")
}
