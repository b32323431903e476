// Package broker is mqstore's RocketMQ-compatible broker: the request handlers that serve
// producers, consumers and admin tools over the remoting protocol on top of a store, so
// unmodified RocketMQ clients (github.com/apache/rocketmq-client-go/v2 first) work against it.
//
// # Use
//
//	cfg := broker.DefaultConfig()
//	_ = cfg.Set("storePathRootDir", "/var/lib/mqstore") // broker.conf keys (Keys lists them)
//	b, err := broker.New(cfg, broker.Options{Registrar: reg})
//	err = b.ListenAndServe() // or b.Start(listener)
//	defer b.Close()
//
// Options.Registrar publishes the broker's topics to a name server (an embedded registry, or a
// remote name server); the broker registers at Start, every registerNameServerPeriod, and after
// topic changes.
//
// # Handlers
//
// One file per request code (send.go, send_v2.go, send_batch.go, pull.go, heartbeat.go, ...);
// each file's comment says what the request carries and what the broker answers. Codes with no
// handler are answered REQUEST_CODE_NOT_SUPPORTED by the remoting server. Header field names are
// defined once in headers.go; errors map to response codes in errorResponse (send.go).
//
// # State
//
//   - topics (topics.go): topic configs, created by UPDATE_AND_CREATE_TOPIC, by sends to a new
//     topic (auto-create from TBW102) and by consumer heartbeats (%RETRY%<group>);
//   - consumer groups (groups.go) and their committed offsets (offsets.go);
//   - live clients (clients.go): (group, clientID) → connection, from heartbeats, dropped on
//     disconnect or after channelExpiredTimeout of silence; consumers are told to rebalance
//     (NOTIFY_CONSUMER_IDS_CHANGED) when their group's membership changes;
//   - parked pulls (longpoll.go), woken by the store's dispatcher;
//   - orderly consumers' queue locks (locks.go);
//   - the senders of open half messages, so checks go back to them (transaction.go);
//   - the delay levels' delivery positions (schedule.go).
//
// # Transactions, retries, delays
//
// A send with TRAN_MSG=true becomes a half message of the store's txn.Service (transaction.go);
// END_TRANSACTION ends it (end_transaction.go), idempotently; the broker implements txn.Checker
// with CHECK_TRANSACTION_STATE to the client that sent the half message, else to the group's
// producers in turn, and does not count a check no producer could receive;
// RESUME_CHECK_HALF_MESSAGE puts a discarded one back. Transactional messages with a delay level
// are refused (RocketMQ loops them, apache/rocketmq#1540). CONSUMER_SEND_MSG_BACK
// (consumer_send_msg_back.go) sends a failed message to %RETRY%<group> through the delay levels,
// or to %DLQ%<group> after maxReconsumeTimes. Messages with DELAY wait in SCHEDULE_TOPIC_XXXX
// until due (schedule.go).
//
// Topics, groups, offsets and delay progress persist under <storePathRootDir>/config in
// RocketMQ's file formats (configfile.go), written atomically every flushConsumerOffsetInterval
// and on Close.
package broker
