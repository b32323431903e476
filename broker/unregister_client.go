package broker

import (
	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
)

// UNREGISTER_CLIENT (35): a client leaves a producer and/or consumer group (ext clientID,
// producerGroup, consumerGroup). The consumer group's remaining members are told to rebalance.
// (The Go client never sends it: it just closes its connection, handled by connClosed.)
func (b *Broker) handleUnregisterClient(c *remoting.Conn, req *remoting.Command) *remoting.Command {
	clientID := req.Ext(protocol.FieldClientID)
	if clientID == "" {
		clientID = c.ClientID()
	}
	group := req.Ext(protocol.FieldConsumerGroup)
	if b.clients.unregister(clientID, req.Ext(protocol.FieldProducerGroup), group) {
		b.log.Info("broker: consumer left", "group", group, "client", clientID)
		b.notifyConsumerIDsChanged(group)
	}
	return remoting.NewResponse(req, remoting.ResponseSuccess, "")
}
