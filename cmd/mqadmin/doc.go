// Command mqadmin administers mqstore (and, for the RocketMQ request codes, RocketMQ) brokers
// through their name server: topics, messages, consumer progress, brokers, and the open
// transactions mqstore lets an operator resolve by hand.
//
// Usage:
//
//	mqadmin <command> [-n namesrv] [-json] [-timeout 5s] [flags]
//
// Commands are named like RocketMQ's mqadmin: updateTopic, topicList, topicRoute, topicStatus,
// queryMsgById, queryMsgByKey, queryMsgByOffset, consumerProgress, clusterList, brokerStatus;
// and mqstore's own: txnList, txnCommit, txnRollback, txnResume. Output is an aligned table (or
// key: value lines) for people and JSON with -json for scripts. A failure exits 1 with a
// one-line reason on stderr; a usage error exits 2.
package main
