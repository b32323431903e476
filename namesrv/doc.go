// Package namesrv is mqstore's name server: the registry of brokers and the topics they serve,
// and the routes clients ask for (RocketMQ's NameServer), served over the remoting protocol.
// It runs embedded in the mqstore process by default, where the broker registers itself
// directly, or alone (mqstore namesrv), where brokers register with REGISTER_BROKER.
package namesrv
