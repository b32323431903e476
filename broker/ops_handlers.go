package broker

import "github.com/mqstore/mqstore/remoting"

// registerOpsHandlers registers the handlers operators' tools use beyond what RocketMQ clients
// send: topic and consumer statistics and mqstore's private transaction codes (docs/PROTOCOL.md).
func (b *Broker) registerOpsHandlers() {
	for _, h := range []struct {
		code    remoting.RequestCode
		handler remoting.Handler
	}{
		{remoting.RequestGetTopicStatsInfo, b.handleGetTopicStatsInfo},
		{remoting.RequestGetConsumeStats, b.handleGetConsumeStats},
		{remoting.RequestListOpenTransactions, b.handleListOpenTransactions},
		{remoting.RequestCommitHalfMessage, b.handleCommitHalfMessage},
		{remoting.RequestRollbackHalfMessage, b.handleRollbackHalfMessage},
	} {
		b.server.Handle(h.code, remoting.KindAdmin, b.timed(h.code, h.handler))
	}
}
