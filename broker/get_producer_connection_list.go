package broker

import (
	"encoding/json"
	"fmt"

	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
)

// GET_PRODUCER_CONNECTION_LIST (204): a producer group's live clients (ext producerGroup → body
// ProducerConnection {"connectionSet":[...]}, protocol/connections.go), sorted by client id. A
// group with no live client is answered SYSTEM_ERROR "the producer group[X] not exist", as
// RocketMQ does. A producer is known from its heartbeats (and, before its first one, from the
// half messages it sent: such a client is listed by "@" and its address).
func (b *Broker) handleGetProducerConnectionList(_ *remoting.Conn, req *remoting.Command) *remoting.Command {
	group, err := req.GetString(protocol.FieldProducerGroup)
	if err != nil {
		return errorResponse(req, badField(protocol.FieldProducerGroup, err))
	}
	pc, ok := b.clients.producerConnection(group)
	if !ok {
		return remoting.NewResponse(req, remoting.ResponseSystemError, fmt.Sprintf("the producer group[%s] not exist", group))
	}
	body, err := json.Marshal(pc)
	if err != nil {
		return errorResponse(req, err)
	}
	resp := remoting.NewResponse(req, remoting.ResponseSuccess, "")
	resp.Body = body
	return resp
}

// producerConnection describes a producer group's live members; false when it has none.
func (t *clientTable) producerConnection(group string) (protocol.ProducerConnection, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := t.producers[group]
	if len(m) == 0 {
		return protocol.ProducerConnection{}, false
	}
	pc := protocol.ProducerConnection{ConnectionSet: make([]protocol.Connection, 0, len(m))}
	for id, ch := range m {
		pc.ConnectionSet = append(pc.ConnectionSet, connection(id, ch))
	}
	sortConnections(pc.ConnectionSet)
	return pc, true
}
