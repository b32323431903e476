package broker

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
)

// consumerCallTimeout bounds a request the broker relays to a client (307).
const consumerCallTimeout = 5 * time.Second

// GET_CONSUMER_RUNNING_INFO (307): an operator asks one consumer client for its running info
// (header consumerGroup, clientId, jstackEnable). The broker relays the request over the
// client's connection (the client connected to the broker; tools cannot reach it) and answers
// with the client's reply as it is: code, remark and body (ConsumerRunningInfo JSON:
// properties, subscriptionSet, mqTable, statusTable, jstack). A client that is not a live
// member of the group is answered SYSTEM_ERROR "The Consumer <group> <clientId> not online", as
// RocketMQ does; a client that does not answer within 5 s, SYSTEM_ERROR with the cause.
func (b *Broker) handleGetConsumerRunningInfo(_ *remoting.Conn, req *remoting.Command) *remoting.Command {
	group, err := req.GetString(protocol.FieldConsumerGroup)
	if err != nil {
		return errorResponse(req, badField(protocol.FieldConsumerGroup, err))
	}
	clientID, err := req.GetString(protocol.FieldRunningClientID)
	if err != nil {
		return errorResponse(req, badField(protocol.FieldRunningClientID, err))
	}
	conn, ok := b.clients.consumerChannel(group, clientID)
	if !ok {
		return remoting.NewResponse(req, remoting.ResponseSystemError, fmt.Sprintf("The Consumer <%s> <%s> not online", group, clientID))
	}
	relay := remoting.NewRequest(remoting.RequestGetConsumerRunningInfo)
	relay.SetExt(protocol.FieldConsumerGroup, group)
	relay.SetExt(protocol.FieldRunningClientID, clientID)
	relay.SetExt(protocol.FieldJstackEnable, strconv.FormatBool(req.Ext(protocol.FieldJstackEnable) == "true"))
	ctx, cancel := context.WithTimeout(context.Background(), consumerCallTimeout)
	defer cancel()
	answer, err := conn.Invoke(ctx, relay)
	if err != nil {
		return remoting.NewResponse(req, remoting.ResponseSystemError,
			fmt.Sprintf("consumer <%s> <%s> did not answer: %v", group, clientID, err))
	}
	defer answer.Release()
	resp := remoting.NewResponse(req, remoting.ResponseCode(answer.Code), answer.Remark)
	resp.Body = append([]byte(nil), answer.Body...)
	return resp
}
