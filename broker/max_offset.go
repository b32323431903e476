package broker

import (
	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
)

// GET_MAX_OFFSET (30): a queue's max offset, one past its last message (ext topic, queueId →
// offset; 0 for a queue that does not exist). The Go client reads offset without checking the
// code, so every answer carries it.
func (b *Broker) handleGetMaxOffset(_ *remoting.Conn, req *remoting.Command) *remoting.Command {
	topic, queueID, err := queueArgs(req)
	if err != nil {
		resp := errorResponse(req, err)
		resp.SetExtInt64(protocol.FieldOffset, 0)
		return resp
	}
	return offsetResponse(req, b.store.MaxOffset(topic, queueID))
}
