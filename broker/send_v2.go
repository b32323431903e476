package broker

import "github.com/mqstore/mqstore/remoting"

// SEND_MESSAGE_V2 (310): SEND_MESSAGE with the header's fields named a..m
// (SendMessageRequestHeaderV2, sendFieldsV2); served by the same send path (send.go).
func (b *Broker) handleSendMessageV2(c *remoting.Conn, req *remoting.Command) *remoting.Command {
	return b.sendMessage(c, req, &sendFieldsV2)
}
