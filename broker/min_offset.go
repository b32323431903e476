package broker

import "github.com/mqstore/mqstore/remoting"

// GET_MIN_OFFSET (31): a queue's min offset, its oldest retained message (ext topic, queueId →
// offset; 0 for a queue that does not exist).
func (b *Broker) handleGetMinOffset(_ *remoting.Conn, req *remoting.Command) *remoting.Command {
	topic, queueID, err := queueArgs(req)
	if err != nil {
		return errorResponse(req, err)
	}
	return offsetResponse(req, b.store.MinOffset(topic, queueID))
}
