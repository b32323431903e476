package broker

import (
	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
)

// SEARCH_OFFSET_BY_TIMESTAMP (29): the first queue offset whose message was stored at or after
// timestamp (ms) (ext topic, queueId, timestamp → offset), by binary search over the queue's
// store times; the max offset when every message is older, 0 for a queue that does not exist.
func (b *Broker) handleSearchOffsetByTimestamp(_ *remoting.Conn, req *remoting.Command) *remoting.Command {
	topic, queueID, err := queueArgs(req)
	if err != nil {
		return errorResponse(req, err)
	}
	ts, err := req.GetInt64(protocol.FieldTimestamp)
	if err != nil {
		return errorResponse(req, badField(protocol.FieldTimestamp, err))
	}
	off, err := b.store.OffsetByTime(topic, queueID, ts)
	if err != nil {
		return errorResponse(req, err)
	}
	return offsetResponse(req, off)
}
