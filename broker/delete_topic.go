package broker

import (
	"context"

	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
)

// DELETE_TOPIC_IN_BROKER (215): forget a topic (ext topic): its config, its queues in the store
// (records stay in the commitlog until retention) and the groups' offsets of it.
func (b *Broker) handleDeleteTopicInBroker(_ *remoting.Conn, req *remoting.Command) *remoting.Command {
	topic, err := req.GetString(protocol.FieldTopic)
	if err != nil {
		return errorResponse(req, badField(protocol.FieldTopic, err))
	}
	if b.topics.remove(topic) {
		b.log.Info("broker: topic deleted", "topic", topic)
	}
	b.offsets.removeTopic(topic)
	if err := b.deleteTopicQueues(topic); err != nil {
		return errorResponse(req, err)
	}
	if err := b.topics.commit(); err != nil {
		return errorResponse(req, err)
	}
	if err := b.registerNow(context.Background()); err != nil {
		b.log.Warn("broker: registration after topic delete failed", "topic", topic, "err", err)
	}
	return remoting.NewResponse(req, remoting.ResponseSuccess, "")
}
