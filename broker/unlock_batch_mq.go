package broker

import (
	"encoding/json"
	"fmt"

	"github.com/mqstore/mqstore/remoting"
)

// UNLOCK_BATCH_MQ (42): an orderly consumer releases queues (same body as LOCK_BATCH_MQ);
// only locks the client holds are released.
func (b *Broker) handleUnlockBatchMQ(_ *remoting.Conn, req *remoting.Command) *remoting.Command {
	var body lockBody
	if err := json.Unmarshal(req.Body, &body); err != nil {
		return remoting.NewResponse(req, remoting.ResponseSystemError, fmt.Sprintf("bad unlock body: %v", err))
	}
	b.locks.unlock(body.ConsumerGroup, body.ClientID, body.MQSet)
	return remoting.NewResponse(req, remoting.ResponseSuccess, "")
}
