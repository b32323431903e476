package broker

import (
	"encoding/json"
	"fmt"

	"github.com/mqstore/mqstore/remoting"
)

// LOCK_BATCH_MQ (41): an orderly consumer locks queues for its group (body
// {"consumerGroup","clientId","mqSet":[{topic,brokerName,queueId}]}); the answer lists the
// queues it holds now ({"lockOKMQSet":[...]}). Locks last 60 s unless renewed.
func (b *Broker) handleLockBatchMQ(_ *remoting.Conn, req *remoting.Command) *remoting.Command {
	var body lockBody
	if err := json.Unmarshal(req.Body, &body); err != nil {
		return remoting.NewResponse(req, remoting.ResponseSystemError, fmt.Sprintf("bad lock body: %v", err))
	}
	locked := b.locks.tryLock(body.ConsumerGroup, body.ClientID, body.MQSet, b.now())
	out, err := json.Marshal(struct {
		LockOKMQSet []messageQueue `json:"lockOKMQSet"`
	}{locked})
	if err != nil {
		return errorResponse(req, err)
	}
	resp := remoting.NewResponse(req, remoting.ResponseSuccess, "")
	resp.Body = out
	return resp
}
