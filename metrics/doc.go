// Package metrics exposes mqstore's Prometheus metrics, health and readiness
// endpoints, under the names RocketMQ 5 brokers use, so that dashboards and
// alerts built for RocketMQ keep working (../shared/spec/security-and-ops.md
// §4; the full list is in docs/METRICS.md).
//
// The package depends on neither the broker nor the store. The broker calls
// the counter methods on its request paths (MessagesIn, MessagesOut, RPC,
// TxnCommitted, ...); everything that is a level rather than an event (lag,
// half messages, flush and dispatch backlog, disk usage, connections) is
// read at scrape time from the Snapshot function installed with SetSnapshot.
//
//	m := metrics.New(metrics.Options{Cluster: "DefaultCluster", NodeID: "broker-a"})
//	m.SetSnapshot(func() metrics.Snapshot { ... })
//	srv, err := m.Serve(metrics.HTTPOptions{Addr: "127.0.0.1:5557", Ready: ready})
//	...
//	m.MessagesIn("TopicTest", 1, 128, metrics.MessageNormal)
//	...
//	err = srv.Close()
//
// # Names, labels and units
//
// Every series carries the constant labels cluster, node_type="broker" and
// node_id (the broker name), as RocketMQ 5 does. Where RocketMQ 5 has a
// metric, mqstore uses its exact name, labels and unit, and does not append
// a unit suffix: rocketmq_rpc_latency and rocketmq_consumer_lag_latency are
// in milliseconds, as their HELP text says, like the names RocketMQ's
// documentation lists (the OpenTelemetry exporter may add _milliseconds;
// mqstore does not). What RocketMQ has no name for is named mqstore_... in
// Prometheus conventions: base units (seconds, bytes, ratios) with the unit
// as suffix, _total on counters.
//
// # Cost and cardinality
//
// The counter methods do not allocate once a label set has been seen: the
// labelled children are cached per topic, group or request code in
// sync.Maps, and the counters are atomic adds. Labels are bounded: per topic
// and consumer group, never per message or client. Each family holds at
// most Options.MaxSeries label sets; the label sets beyond it are counted
// under topic or consumer_group "__overflow__". Forget and ForgetGroup drop
// the series of a deleted topic or group.
package metrics
