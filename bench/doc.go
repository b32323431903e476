// Package bench is mqbench's logic: it drives mqstore in-process (the store
// library) or over the wire (the client against an embedded or running
// broker), or NATS JetStream as a peer, and reports throughput and latency
// with the machine's ceilings measured in the same run.
//
// Modes:
//   - store: Put (or PutBatch, or with -txn Prepare+Commit) straight into a
//     store, no network;
//   - produce: producers send (pipelined with -window in flight each, or
//     batched with -batch) and count acknowledgements;
//   - consume: the topic is filled first, then consumers pull it all;
//   - txn: transactional producers (half message, local transaction with
//     -commit/-rollback percentages, the rest unknown, END_TRANSACTION;
//     check-backs answered with -check), then the topic is consumed: the
//     count received must equal the count committed;
//   - e2e: producers and consumers at once, latency from the send to the
//     receipt (a timestamp in the body), optionally paced with -rate;
//   - peer: the produce workload against NATS JetStream (file storage),
//     run as a subprocess from the nested module bench/peer;
//   - ceilings: memcpy into a mapped file and a loopback TCP echo.
//
// Each mode reads only its own flags (usage.go lists them; Usage and
// ModeUsage print the help). Wire modes against a running server (-addr)
// use fresh topic names and delete those topics at the end unless -keep.
//
// Every mode checks its counts at the end (sent, stored, consumed) and
// reports them with the measurements (package report). Run is the entry
// point; cmd/mqbench parses flags with ParseArgs and calls it.
package bench
