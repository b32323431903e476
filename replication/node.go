package replication

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/mqstore/mqstore/message"
)

// NodeConfig describes one replica of a replicated broker group in RocketMQ's DLedger words.
type NodeConfig struct {
	// Group is dLegerGroup, the group's name (RocketMQ sets it to the brokerName).
	Group string
	// Peers is dLegerPeers: "n0-host:port;n1-host:port;n2-host:port", every replica's id and
	// replication address, the same string on every replica.
	Peers string
	// SelfID is dLegerSelfId: this replica's id in Peers ("n1").
	SelfID string
	// Dir holds this replica's log, consume queues and checkpoints.
	Dir string
	// Log configures the commitlog (SegmentSize must be the same on every replica).
	Log LogOptions
	// Dispatch configures the consume queues and metadata callbacks.
	Dispatch DispatcherOptions
	// TickInterval and ElectionTicks: see Options (100 ms and 10: elections after 1-2 s).
	TickInterval  time.Duration
	ElectionTicks int
	// Logger receives role changes and errors. Default slog.Default().
	Logger *slog.Logger
}

// Peer is one entry of dLegerPeers.
type Peer struct {
	Name string // "n0"
	Addr string // "host:port", the replication address
	ID   uint64 // the Raft id: position in dLegerPeers + 1
}

// ErrConfig: a NodeConfig is invalid.
var ErrConfig = errors.New("replication: invalid config")

// ParsePeers parses dLegerPeers. Raft ids follow the order of the list, so every replica must
// be given the same string.
func ParsePeers(s string) ([]Peer, error) {
	var peers []Peer
	seen := map[string]bool{}
	for part := range strings.SplitSeq(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, addr, ok := strings.Cut(part, "-")
		if !ok || name == "" || addr == "" || !strings.Contains(addr, ":") {
			return nil, fmt.Errorf("%w: dLegerPeers entry %q is not id-host:port", ErrConfig, part)
		}
		if seen[name] {
			return nil, fmt.Errorf("%w: dLegerPeers names %s twice", ErrConfig, name)
		}
		seen[name] = true
		peers = append(peers, Peer{Name: name, Addr: addr, ID: uint64(len(peers) + 1)})
	}
	if len(peers) == 0 {
		return nil, fmt.Errorf("%w: dLegerPeers is empty", ErrConfig)
	}
	return peers, nil
}

// Node is a running replica: its Log, Dispatcher, replication port and Group.
type Node struct {
	cfg   NodeConfig
	self  Peer
	peers []Peer
	log   *Log
	disp  *Dispatcher
	tr    *TCPTransport
	group *Group
}

// OpenNode opens the replica's files under cfg.Dir, binds its replication address and starts
// it. A new replica bootstraps the group with every peer of dLegerPeers.
func OpenNode(cfg NodeConfig) (*Node, error) {
	peers, err := ParsePeers(cfg.Peers)
	if err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, peers: peers}
	for _, p := range peers {
		if p.Name == cfg.SelfID {
			n.self = p
		}
	}
	if n.self.ID == 0 {
		return nil, fmt.Errorf("%w: dLegerSelfId %q is not in dLegerPeers", ErrConfig, cfg.SelfID)
	}
	if cfg.Dir == "" {
		return nil, fmt.Errorf("%w: no directory", ErrConfig)
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	logger = logger.With("group", cfg.Group, "self", cfg.SelfID)
	if n.log, err = OpenLog(filepath.Join(cfg.Dir, "raft"), cfg.Log); err != nil {
		return nil, err
	}
	if n.disp, err = OpenDispatcher(filepath.Join(cfg.Dir, "raft"), cfg.Dispatch); err != nil {
		n.log.Close()
		return nil, err
	}
	if n.tr, err = ListenTCP(n.self.ID, n.self.Addr, TCPOptions{Logger: logger}); err != nil {
		n.disp.Close()
		n.log.Close()
		return nil, err
	}
	ids := make([]uint64, len(peers))
	addrs := map[uint64]string{}
	for i, p := range peers {
		ids[i] = p.ID
		addrs[p.ID] = p.Addr
	}
	n.log.SetSnapshotExtra(n.disp.SnapshotExtra)
	n.group, err = Start(Options{ID: n.self.ID, Peers: ids, Storage: n.log, Transport: n.tr,
		Apply: n.disp.Apply, Applied: n.disp.Applied(), Restore: n.disp.Restore,
		TickInterval: cfg.TickInterval, ElectionTicks: cfg.ElectionTicks, Logger: logger})
	if err != nil {
		n.tr.Close()
		n.disp.Close()
		n.log.Close()
		return nil, err
	}
	n.tr.Start(addrs, n.group.Receive)
	return n, nil
}

// Self is this replica's entry of dLegerPeers.
func (n *Node) Self() Peer { return n.self }

// Peers is dLegerPeers, parsed.
func (n *Node) Peers() []Peer { return n.peers }

// Log is the replicated commitlog.
func (n *Node) Log() *Log { return n.log }

// Dispatcher holds the consume queues and the metadata table.
func (n *Node) Dispatcher() *Dispatcher { return n.disp }

// Group is the Raft replica (Role, RoleChanged, WaitReady).
func (n *Node) Group() *Group { return n.group }

// Stored is where a record of an appended entry went, as every replica stores it.
type Stored struct {
	PhysicalOffset int64
	Size           int32
	QueueOffset    int64
}

// Append replicates data (a run of encoded records, stamped by this leader with store host and
// time) and returns, once a quorum has stored it and this replica dispatched it, where each
// record went: a SEND is answered from these (msgId from the physical offset, the queue
// offset). Errors for the broker to map: ErrNotLeader and ErrNotReady (SERVICE_NOT_AVAILABLE,
// retried by the client; a follower can instead forward to the leader), ErrBadEntry
// (MESSAGE_ILLEGAL), raft.ErrProposalDropped (SYSTEM_BUSY); ErrSuperseded means it was not
// stored; the context's error means the outcome is unknown (SYSTEM_ERROR: a retry may
// duplicate, which dedupe by UNIQ_KEY must absorb).
func (n *Node) Append(ctx context.Context, data []byte) ([]Stored, error) {
	p, err := n.group.Propose(ctx, data)
	if err != nil {
		return nil, err
	}
	if err := n.group.Wait(ctx, p); err != nil {
		return nil, err
	}
	var out []Stored
	var decodeErr error
	err = n.log.EntryRecords(p.Index, func(_ int64, records []byte) {
		var rec message.Record
		for pos := 0; pos < len(records); {
			size, err := message.DecodeRecord(records[pos:], &rec, false)
			if err != nil {
				decodeErr = err
				return
			}
			out = append(out, Stored{PhysicalOffset: rec.PhysicalOffset, Size: rec.TotalSize, QueueOffset: rec.QueueOffset})
			pos += size
		}
	})
	if err == nil {
		err = decodeErr
	}
	return out, err
}

// Close stops the replica (Group first, so nothing is applied after), then its port, then
// checkpoints the dispatcher and closes the log. Later calls return ErrClosed.
func (n *Node) Close() error {
	err := n.group.Close()
	if errors.Is(err, ErrClosed) {
		return ErrClosed
	}
	if e := n.tr.Close(); err == nil && !errors.Is(e, ErrClosed) {
		err = e
	}
	if e := n.disp.Close(); err == nil {
		err = e
	}
	if e := n.log.Close(); err == nil {
		err = e
	}
	return err
}
