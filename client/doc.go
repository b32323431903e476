// Package client is mqstore's lean Go client for RocketMQ brokers (mqstore's
// or Apache RocketMQ's), built on package remoting.
//
// It has four parts, each made by a constructor taking functional options
// (WithNameServer, WithGroup, ...):
//   - Producer (NewProducer): Send (synchronous, retried on another queue),
//     SendAsync (pipelined, with a bounded window of sends in flight per
//     producer), SendBatch (SEND_BATCH_MESSAGE) and SendOneway;
//   - TransactionProducer (NewTransactionProducer): half message, local
//     transaction, END_TRANSACTION, and answers to the broker's
//     CHECK_TRANSACTION_STATE (spec §6.2);
//   - PullConsumer (NewPullConsumer): Pull with long polling, CommitOffset,
//     QueryOffset;
//   - Admin (NewAdmin): CreateTopic, TopicRoute, offsets, QueryMessageByKey,
//     QueryMessageByID, ClusterInfo.
//
// Each discovers routes through the name server (GET_ROUTEINFO_BY_TOPIC),
// caches them and refreshes them every 30 s, and the producers and consumers
// heartbeat every broker they know every 30 s (and at once when they learn a
// new one), so a broker knows the producer channel to send check-backs to.
//
// # What goes on the wire
//
// The requests are those of rocketmq-client-go (see ../shared/spec/clientgo.md),
// trimmed to what a broker needs: sends use SEND_MESSAGE_V2 (310) with the
// one-letter header of SendMessageRequestHeaderV2 and its fields a..j, l and
// m (k, unitMode, is left out); the properties carry UNIQ_KEY (not on batched
// messages, as in the Go client), TRAN_MSG and PGROUP on half messages.
// Pulls set the SUBSCRIPTION flag and carry their expression, so a broker
// need not have seen the consumer's heartbeat. Send does not modify the
// message it is given: the UNIQ_KEY it adds is returned in SendResult.MsgID.
//
// # Ownership
//
// Message bodies are not copied: the caller must not modify a body until the
// send returned (Send) or its callback ran (SendAsync). Messages returned by
// Pull alias the response body they were decoded from; they stay valid as long
// as the caller keeps them.
//
// Every type is safe for concurrent use. Close joins the background
// goroutines and closes the connections; later calls fail with ErrClosed.
package client
