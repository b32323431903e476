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
//   - orderly consumers' queue locks (locks.go).
//
// Topics, groups and offsets persist under <storePathRootDir>/config in RocketMQ's file formats
// (configfile.go), written atomically every flushConsumerOffsetInterval and on Close.
package broker
