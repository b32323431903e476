// Package chaos is a Jepsen-style harness for a replicated broker group, run as tests: a name
// server and three mqstore replicas as separate processes on the loopback aliases
// 127.0.0.11-13, their replication links through fault proxies (internal/faultproxy), the
// unmodified rocketmq-client-go producing (sync, async, transactional) and consuming (push)
// while a nemesis kills, pauses, partitions (nftables on lo), slows and corrupts replicas, and a
// checker that, after heal and quiesce, reads every queue on every replica and compares it with
// the history of operations and the replicas' Raft logs with each other.
//
// TestChaosShort runs in `make test` (about ten faults); TestChaosLong (MQSTORE_CHAOS=1, `make
// chaos`) injects at least a hundred. docs/CHAOS.md describes the faults, the checks and the
// latest results.
package chaos
