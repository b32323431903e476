package broker

import (
	"errors"

	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
	"github.com/mqstore/mqstore/store"
)

// GET_EARLIEST_MSG_STORETIME (32): the store time (ms) of a queue's oldest message (ext topic,
// queueId → timestamp; -1 when the queue is empty or does not exist, as RocketMQ answers).
func (b *Broker) handleGetEarliestMsgStoreTime(_ *remoting.Conn, req *remoting.Command) *remoting.Command {
	topic, queueID, err := queueArgs(req)
	if err != nil {
		return errorResponse(req, err)
	}
	ts, err := b.store.EarliestStoreTime(topic, queueID)
	if errors.Is(err, store.ErrNotFound) {
		ts, err = -1, nil
	}
	if err != nil {
		return errorResponse(req, err)
	}
	resp := remoting.NewResponse(req, remoting.ResponseSuccess, "")
	resp.SetExtInt64(protocol.FieldTimestamp, ts)
	return resp
}
