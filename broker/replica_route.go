package broker

import (
	"net"
	"net/netip"

	"github.com/mqstore/mqstore/replication"
)

// GroupEndpointHost is the host a protocol that routes its clients itself (the gRPC endpoint's
// QueryRoute) should name for this broker, so that they reach the replica that takes writes:
//
//   - single-node mode, or a replica that leads, or while no leader is known: self is true
//     (name this broker's own address);
//   - with a stable leader address (dLegerLeaderAddr): its IP, on every replica (the ready
//     leader serves there: AddStableServer);
//   - else the current Raft leader's host in dLegerPeers (its replication address's host).
//
// The caller keeps its own port: every replica of a group serves that protocol on the same port.
func (b *Broker) GroupEndpointHost() (host string, self bool) {
	rg := b.replica
	if rg == nil || rg.group == nil {
		return "", true
	}
	if rg.stable != nil {
		return rg.stable.ip().String(), false
	}
	r := rg.group.Role()
	if r.Leader == 0 || r.Leader == r.ID {
		return "", true
	}
	peers, err := replication.ParsePeers(b.cfg.DLegerPeers)
	if err != nil {
		return "", true
	}
	for _, p := range peers {
		if p.ID != r.Leader {
			continue
		}
		h, _, err := net.SplitHostPort(p.Addr)
		if err != nil {
			return "", true
		}
		if ip, err := netip.ParseAddr(h); err == nil && ip.IsUnspecified() {
			return "", true
		}
		return h, false
	}
	return "", true
}
