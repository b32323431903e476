package broker

import "github.com/mqstore/mqstore/remoting"

// registerOpsHandlers registers the handlers operators' tools use beyond what RocketMQ clients
// send: topic and consumer statistics, subscription groups, connection lists, offset resets,
// consumer running info and mqstore's private transaction codes (docs/PROTOCOL.md).
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
		{remoting.RequestPendingTimers, b.handlePendingTimers},
		{remoting.RequestUpdateAndCreateSubscriptionGroup, b.handleUpdateAndCreateSubscriptionGroup},
		{remoting.RequestDeleteSubscriptionGroup, b.handleDeleteSubscriptionGroup},
		{remoting.RequestGetConsumerConnectionList, b.handleGetConsumerConnectionList},
		{remoting.RequestGetProducerConnectionList, b.handleGetProducerConnectionList},
		{remoting.RequestInvokeBrokerToResetOffset, b.handleInvokeBrokerToResetOffset},
		{remoting.RequestGetConsumerRunningInfo, b.handleGetConsumerRunningInfo},
	} {
		b.server.Handle(h.code, remoting.KindAdmin, b.timed(h.code, h.handler))
	}
}
