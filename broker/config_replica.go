package broker

import (
	"fmt"
	"net/netip"
)

// ReplicaConfig holds mqstore's own keys of a replicated group (RocketMQ has no equivalent).
type ReplicaConfig struct {
	// DLegerLeaderAddr (dLegerLeaderAddr) is the group's optional stable leader address,
	// "ip:port": the replica that passes the leader barrier binds it and serves the whole remoting
	// protocol on it beside listenPort, and registers it as the group's brokerId 0; it closes it
	// (listener and the connections accepted on it) before it re-registers as a follower. Clients
	// then find the new leader at the same address once it is elected, without waiting for their
	// 30 s route poll. Every replica of the group is given the same value. On one machine it is a
	// loopback alias (127.0.0.10:10911); across machines it must be an address that can move to
	// the leader's host (a floating IP), or left empty. Empty: none, brokerId 0 is the leader's
	// own address.
	DLegerLeaderAddr string
	// RaftOneFlush (raftOneFlush) makes each append of the replicated log cost one device cache
	// flush instead of two: the raftidx rows are written out (sync_file_range) before the
	// commitlog's msync, whose flush covers them (replication.LogOptions.OneFlush, docs/FORMAT.md).
	// Off by default: on the shared test machine it halved the sync calls and shortened a single
	// send's round but did not raise throughput (docs/BENCHMARKS.md, Session 5). Only on ext4 or
	// XFS, whose every fsync flushes the device cache.
	RaftOneFlush bool
}

func init() {
	configKeys["dLegerLeaderAddr"] = stringKey(func(c *Config) *string { return &c.DLegerLeaderAddr })
	configKeys["raftOneFlush"] = boolKey(func(c *Config) *bool { return &c.RaftOneFlush })
}

// validateReplica checks the replicated group's mqstore keys.
func (c *Config) validateReplica() error {
	if c.DLegerLeaderAddr == "" {
		return nil
	}
	ap, err := netip.ParseAddrPort(c.DLegerLeaderAddr)
	if err != nil || ap.Port() == 0 {
		return fmt.Errorf("%w: dLegerLeaderAddr=%q: want ip:port with a port other than 0", ErrBadConfig, c.DLegerLeaderAddr)
	}
	if !c.EnableDLegerCommitLog {
		return fmt.Errorf("%w: dLegerLeaderAddr=%q: only a replica of a replicated group (enableDLegerCommitLog=true) has a leader address", ErrBadConfig, c.DLegerLeaderAddr)
	}
	return nil
}
