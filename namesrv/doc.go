// Package namesrv is mqstore's name server: the registry of brokers and the topics they serve,
// and the routes clients ask for (RocketMQ's NameServer), served over the remoting protocol.
// It runs embedded in the mqstore process by default, where the broker registers itself
// directly, or alone (mqstore namesrv), where brokers register with REGISTER_BROKER.
//
// Registry holds the state (RocketMQ's RouteInfoManager). A broker registers every 30 s;
// one silent for Options.BrokerExpiry (120 s) is removed by ExpireBrokers, which the
// Server's scanner calls, and one that registered over a connection is removed when that
// connection closes. An embedded broker calling RegisterBroker directly must therefore
// repeat it within the expiry too.
//
// Server attaches the request handlers to a remoting.Server. The bodies it writes and reads
// are documented where they are encoded: route_json.go (TopicRouteData, with its legacy
// form of bare integer keys for clients older than V4_9_4), cluster_json.go (ClusterInfo,
// TopicList) and register_body.go (RegisterBrokerBody). RegisterRemote and UnregisterRemote
// are the broker's side of registration with a name server in another process.
package namesrv
