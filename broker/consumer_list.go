package broker

import (
	"encoding/json"

	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
)

// GET_CONSUMER_LIST_BY_GROUP (38): the client ids of a consumer group's live members (ext
// consumerGroup → body {"consumerIdList":[...]}, sorted), which consumers split the queues by.
// A group with no members is answered SYSTEM_ERROR, as RocketMQ does.
func (b *Broker) handleGetConsumerListByGroup(_ *remoting.Conn, req *remoting.Command) *remoting.Command {
	group, err := req.GetString(protocol.FieldConsumerGroup)
	if err != nil {
		return errorResponse(req, badField(protocol.FieldConsumerGroup, err))
	}
	ids := b.clients.consumerIDs(group)
	if len(ids) == 0 {
		return remoting.NewResponse(req, remoting.ResponseSystemError, "no consumer for this group, "+group)
	}
	body, err := json.Marshal(struct {
		ConsumerIDList []string `json:"consumerIdList"`
	}{ids})
	if err != nil {
		return errorResponse(req, err)
	}
	resp := remoting.NewResponse(req, remoting.ResponseSuccess, "")
	resp.Body = body
	return resp
}
