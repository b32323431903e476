package broker

import "github.com/mqstore/mqstore/remoting"

// MQSTORE_ROLLBACK_HALF_MESSAGE (9002, private; docs/PROTOCOL.md): an operator rolls an open
// transaction back by hand (mqadmin txnRollback). Header and answers as
// MQSTORE_COMMIT_HALF_MESSAGE (commit_half_message.go), with the roles of commit and rollback
// exchanged; a rollback writes only the op marker, so its answer names no message.

func (b *Broker) handleRollbackHalfMessage(c *remoting.Conn, req *remoting.Command) *remoting.Command {
	return b.resolveHalfMessage(c, req, false)
}
