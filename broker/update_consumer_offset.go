package broker

import (
	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
)

// UPDATE_CONSUMER_OFFSET (15): commit a group's offset of a queue (ext consumerGroup, topic,
// queueId, commitOffset). Negative offsets ("none", sent by the Go client) are ignored. Offsets
// reach config/consumerOffset.json at the next persist (flushConsumerOffsetInterval) and on Close.
func (b *Broker) handleUpdateConsumerOffset(_ *remoting.Conn, req *remoting.Command) *remoting.Command {
	group, err := req.GetString(protocol.FieldConsumerGroup)
	if err != nil {
		return errorResponse(req, badField(protocol.FieldConsumerGroup, err))
	}
	topic, queueID, err := queueArgs(req)
	if err != nil {
		return errorResponse(req, err)
	}
	off, err := req.GetInt64(protocol.FieldCommitOffset)
	if err != nil {
		return errorResponse(req, badField(protocol.FieldCommitOffset, err))
	}
	b.offsets.commit(group, topic, queueID, off)
	return remoting.NewResponse(req, remoting.ResponseSuccess, "")
}
