package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/raft/v3"
	raftpb "go.etcd.io/raft/v3/raftpb"

	"github.com/mqstore/mqstore/commitlog"
	"github.com/mqstore/mqstore/internal/mapped"
	"github.com/mqstore/mqstore/replication"
	"github.com/mqstore/mqstore/store"
)

// A replicated group (enableDLegerCommitLog=true): the broker is one replica of a Raft group
// (package replication) and its store runs in replicated mode (store.Replicator).
//
// Files under storePathRootDir:
//
//	raft/      the Raft log (a RocketMQ commitlog, raftidx, hardstate, raftmeta): the durable
//	           truth, and the store's commitlog (store.LogOwner): each record is stored once
//	replica/   the rest of the store (consume queues, index, checkpoint, timers, transactions),
//	           derived from the committed entries and kept across restarts
//	config/    the broker's config files (topics, groups, consumer offsets): a per-replica cache
//	           of what the log's metadata entries say (replicated_config.go), plus changes made
//	           on this replica while it did not lead; written before every store checkpoint
//
// The store reads raft/commitlog through a view that ends at the last applied entry: dispatch
// to consume queues and the index, reads and MaxPhysicalOffset never see an uncommitted tail.
// Applying a committed entry moves that bound (its records are in place, patched by the log);
// nothing is copied. A restart resumes applying after the last entry the store's checkpoint
// covers (resumeIndex): the config files were written before that checkpoint, the dedupe table
// is rebuilt from the entries before it (rebuildDedupe), open transactions come from the
// store's half and op queues. Retention compacts the log (replicated_retention.go); a replica
// behind a leader's first entry installs a snapshot and its store restarts at its offset.
//
// Writes: a SEND is proposed as one entry and answered SUCCESS only once a quorum stored it
// (fsynced: Log.Append syncs before it acknowledges) and this replica applied it; the msgId and
// queue offset come from that apply, which every replica performs identically.
//
// Entries are runs of RocketMQ records (replication/config.go draws the envelope): sends,
// transaction commits (restored message + op marker), op markers, timer copies, and metadata
// (topics, groups, consumer offsets). Every replica applies them (its store dispatches them)
// and derives its metadata tables, dedupe table and open transactions from them
// (replicated_state.go).
//
// Roles: the replica registers as brokerId 0 only while it passes the leader barrier
// (Role.Ready) and its leader services (the transaction service, rebuilt) run, and otherwise under its own id (its position in dLegerPeers + 1), re-registering
// at every role change. A replica that is not a ready leader answers SEND with
// SERVICE_NOT_AVAILABLE (14), which rocketmq-client-go retries.
type replicaGroup struct {
	log   *slog.Logger
	self  replication.Peer
	rlog  *replication.Log
	tr    *replication.TCPTransport
	group *replication.Group
	st    *store.Store
	peers int // replicas in dLegerPeers
	b     *Broker
	host  netip.AddrPort // stamps the entries this replica proposes
	state *replicaState  // replicated metadata, dedupe, transactions (replicated_state.go)

	fwd    atomic.Pointer[forwarder] // follower write-forwarding (forward.go), set in New after the role watcher started
	stable *stableListener           // dLegerLeaderAddr (stable_addr.go); nil without it

	// mu guards results: the apply results of recent entries by Raft index, for the proposer
	// waiting on them; order lists their indexes oldest first for pruning.
	mu      sync.Mutex
	results map[uint64][]commitlog.AppendResult
	order   []uint64

	broker       atomic.Pointer[Broker] // b, for BeforeCheckpoint (the store's checkpoint goroutine)
	startApplied uint64                 // the index this start resumed applying after
	applied      atomic.Uint64          // the last entry applied (retention compacts no further)
	started      atomic.Bool            // start has set group and peerIDs
	peerIDs      []uint64               // every replica's id
	matches      matchTracker           // what the followers acknowledged (replicated_retention.go)

	// emptyQueues: the last installed snapshot's empty queues (BaseQueues, replicated_retention.go).
	emptyQueues atomic.Pointer[map[string]bool]

	batchOnce sync.Once
	batcher   *proposalBatcher // coalesces concurrent Replicate calls (replicated_batch.go)

	quit   chan struct{}
	failed chan struct{} // closed when the replica stopped on its own with an error (ReplicaFailed)
	done   chan struct{}
}

// keptResults bounds how many entries' apply results wait for their proposer.
const keptResults = 1 << 14

var _ store.Replicator = (*replicaGroup)(nil)

// replicaStoreDir is where a replica's store keeps its files (its commitlog is the Raft log's).
func replicaStoreDir(root string) string { return filepath.Join(root, "replica") }

// newReplicaGroup prepares the replica (nothing runs until start); the store opens in between,
// with the group as its Replicator.
func newReplicaGroup(cfg *Config, logger *slog.Logger) (*replicaGroup, error) {
	peers, err := replication.ParsePeers(cfg.DLegerPeers)
	if err != nil {
		return nil, fmt.Errorf("%w: dLegerPeers: %w", ErrBadConfig, err)
	}
	rg := &replicaGroup{results: map[uint64][]commitlog.AppendResult{}, quit: make(chan struct{}), failed: make(chan struct{}), done: make(chan struct{})}
	for _, p := range peers {
		if p.Name == cfg.DLegerSelfID {
			rg.self = p
		}
	}
	if rg.self.ID == 0 {
		return nil, fmt.Errorf("%w: dLegerSelfId %q is not in dLegerPeers", ErrBadConfig, cfg.DLegerSelfID)
	}
	group := cfg.DLegerGroup
	if group == "" {
		group = cfg.BrokerName
	}
	rg.log = logger.With("group", group, "self", rg.self.Name)
	rg.peers = len(peers)
	if cfg.DLegerLeaderAddr != "" {
		rg.stable = &stableListener{addr: cfg.DLegerLeaderAddr}
	}
	// A store of an earlier version kept a second copy of the records (replica/commitlog) and
	// was rebuilt at every start: rebuild it once more, over the log's own segments.
	if _, err := os.Stat(filepath.Join(replicaStoreDir(cfg.StorePathRootDir), "commitlog")); err == nil {
		if err := os.RemoveAll(replicaStoreDir(cfg.StorePathRootDir)); err != nil {
			return nil, fmt.Errorf("broker: reset the replica store of an earlier version: %w", err)
		}
	}
	// The log opens first: the store reads its segments as its commitlog (store.LogOwner).
	if rg.rlog, err = replication.OpenLog(filepath.Join(cfg.StorePathRootDir, "raft"), replication.LogOptions{SegmentSize: cfg.MappedFileSizeCommitLog,
		RowsPerFile: raftidxRows(cfg.MappedFileSizeCommitLog), OneFlush: cfg.RaftOneFlush}); err != nil {
		return nil, fmt.Errorf("broker: replicated log: %w", err)
	}
	return rg, nil
}

// raftidxRows is the raftidx file size (in 32-byte rows) of a new log: a file per 64 bytes of
// segment (about a row per record of a few hundred bytes), between 1 Ki and 1 Mi rows, so
// retention deletes raftidx files at about the pace it deletes segments. A log keeps the size it
// was created with.
func raftidxRows(segmentSize int64) int64 { return min(max(segmentSize/64, 1<<10), 1<<20) }

// CommitLogSegments implements store.LogOwner: the store's commitlog is the Raft log's.
func (rg *replicaGroup) CommitLogSegments() *mapped.Queue { return rg.rlog.Segments() }

// CommitLogBounds implements store.LogOwner.
func (rg *replicaGroup) CommitLogBounds() (floor, committedEnd int64) {
	return rg.rlog.Base(), rg.rlog.CommittedEnd()
}

// BeforeCheckpoint implements store.LogOwner: the config files (the tables the applied entries
// built) are written before the store records how far it dispatched, so a restart that resumes
// applying after that point finds every earlier change in them.
func (rg *replicaGroup) BeforeCheckpoint() error {
	if b := rg.broker.Load(); b != nil {
		return b.persist(false)
	}
	return nil
}

// resumeIndex is the index a restarted replica resumes applying after: the last entry whose
// records the store had durably dispatched (its checkpoint) before this start. The entries
// after it are applied again: the store's part is idempotent, and the replicated state
// (config tables, dedupe table) sees them again.
func (rg *replicaGroup) resumeIndex(st *store.Store) uint64 {
	return rg.rlog.IndexAt(st.Recovery().DispatchedFrom)
}

// rebuildDedupe refills the dedupe table from the entries before the resume point (at most
// dedupeWindow of them), which this start does not apply again.
func (rg *replicaGroup) rebuildDedupe(applied uint64) error {
	first, _ := rg.rlog.FirstIndex()
	from := first
	if applied >= first+dedupeWindow {
		from = applied - dedupeWindow + 1
	}
	for i := from; i <= applied; i++ {
		var err error
		if e := rg.rlog.EntryRecords(i, func(_ int64, records []byte) {
			if len(records) == 0 {
				return
			}
			var res []commitlog.AppendResult
			if res, err = commitlog.ResultsOf(records); err == nil {
				rg.state.remember(records, res)
			}
		}); e != nil {
			return e
		}
		if err != nil {
			return fmt.Errorf("entry %d: %w", i, err)
		}
	}
	return nil
}

// start opens the Raft log, binds the replication port and starts the replica, which applies
// the committed log into st.
func (rg *replicaGroup) start(b *Broker, cfg *Config, st *store.Store) error {
	peers, _ := replication.ParsePeers(cfg.DLegerPeers)
	rg.st = st
	rg.b = b
	rg.host = b.storeHost()
	rg.state = newReplicaState(rg, b)
	rg.broker.Store(b)
	var err error
	applied := rg.resumeIndex(st)
	rg.startApplied = applied
	rg.applied.Store(applied)
	rg.rlog.SetSnapshotExtra(rg.snapshotExtra)
	if err := rg.resumeSnapshot(applied); err != nil {
		rg.rlog.Close()
		return fmt.Errorf("broker: finish the snapshot install: %w", err)
	}
	if err := rg.rebuildDedupe(applied); err != nil {
		rg.rlog.Close()
		return fmt.Errorf("broker: rebuild the dedupe table: %w", err)
	}
	if rg.tr, err = replication.ListenTCP(rg.self.ID, rg.self.Addr, replication.TCPOptions{Logger: rg.log}); err != nil {
		rg.rlog.Close()
		return fmt.Errorf("broker: replication port: %w", err)
	}
	ids := make([]uint64, len(peers))
	addrs := map[uint64]string{}
	for i, p := range peers {
		ids[i] = p.ID
		addrs[p.ID] = p.Addr
	}
	rg.peerIDs = ids
	rg.group, err = replication.Start(replication.Options{ID: rg.self.ID, Peers: ids, Storage: rg.rlog,
		Transport: rg.tr, Apply: rg.apply, Applied: applied, Restore: rg.restore, Logger: rg.log})
	if err != nil {
		rg.tr.Close()
		rg.rlog.Close()
		return fmt.Errorf("broker: replica: %w", err)
	}
	rg.started.Store(true)
	rg.tr.Start(addrs, func(m *raftpb.Message) {
		rg.matches.observe(m)
		rg.group.Receive(m)
	})
	rg.state.start()
	rg.log.Info("broker: replica started", "resumeAfter", applied, "dispatchedFrom", st.Recovery().DispatchedFrom,
		"visibleEnd", st.MaxPhysicalOffset())
	return nil
}

// apply applies a committed entry (on the replica's goroutine) and keeps the results for a
// proposer.
//
// The records are in the store's commitlog already (the Raft log stored and patched them): the
// replicated state takes them first, then the store makes them visible to dispatch, so the
// store's checkpoint never counts a record the config files written before it do not cover.
func (rg *replicaGroup) apply(index uint64, data []byte) error {
	res, err := commitlog.ResultsOf(data)
	if err != nil {
		return fmt.Errorf("broker: apply entry %d: %w", index, err)
	}
	rg.state.applied(data, res)
	if err := rg.st.ApplyStored(res); err != nil {
		return err
	}
	rg.applied.Store(index)
	rg.mu.Lock()
	rg.results[index] = res
	rg.order = append(rg.order, index)
	if len(rg.order) > keptResults {
		for _, i := range rg.order[:len(rg.order)-keptResults] {
			delete(rg.results, i)
		}
		rg.order = append(rg.order[:0], rg.order[len(rg.order)-keptResults:]...)
	}
	rg.mu.Unlock()
	return nil
}

// Replicate proposes records (in one entry, possibly with other callers' records:
// replicated_batch.go) and waits for its commit and apply, unless the dedupe table knows them
// already (a retried send: replicated_state.go), when it answers the first copy's results.
func (rg *replicaGroup) Replicate(ctx context.Context, records []byte) ([]commitlog.AppendResult, error) {
	// The store opens before the replica starts (newReplicaGroup, then start), and its parts may
	// write while it opens: the transaction service's recovery queues the op markers of commits
	// it finds without one (an entry whose restored message was dispatched before a crash and
	// whose op marker was not), and its op writer appends them at once. Until start has made the
	// group, nothing can be proposed: the writer retries, and the leader's own transaction
	// service (ReopenTransactions) rebuilds the open table from the log.
	if !rg.started.Load() {
		return nil, fmt.Errorf("%w: replica %s is starting", store.ErrServiceNotAvailable, rg.self.Name)
	}
	// The entry's keys, decoded once: for the dedupe table and the batch class (classify).
	keys, same, whole, keyed := entryKeys(records)
	if keyed {
		res, pending, ok, err := rg.state.dedupeKeys(ctx, keys, same)
		if ok || err != nil {
			return res, err
		}
		keys = pending
	} else {
		keys = nil
	}
	rg.batchOnce.Do(func() {
		rg.batcher = newProposalBatcher(rg.b.cfg.MappedFileSizeCommitLog)
		rg.group.SetPull(rg.pullBatch)
	})
	res, err := rg.replicateBatched(ctx, records, whole, keyed)
	rg.state.proposed(keys)
	return res, err
}

// propose proposes data as one entry on the ready leader and returns, once the leader stored
// it, the channel that receives its outcome (replication.Group.ProposeNotify). Errors wrap
// store.ErrServiceNotAvailable when the entry was not stored (a retry is safe),
// store.ErrMessageIllegal for data the log refuses; any other error leaves the outcome unknown.
func (rg *replicaGroup) propose(ctx context.Context, data []byte) (replication.Proposal, <-chan error, error) {
	if r := rg.group.Role(); !r.Ready {
		return replication.Proposal{}, nil, fmt.Errorf("%w: replica %d is not the ready leader (leader %d, term %d)", store.ErrServiceNotAvailable, r.ID, r.Leader, r.Term)
	}
	p, applied, err := rg.group.ProposeNotify(ctx, data)
	if err != nil {
		return p, nil, proposeError(err)
	}
	return p, applied, nil
}

// proposeError maps a proposal's error (propose).
func proposeError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, replication.ErrNotLeader), errors.Is(err, replication.ErrNotReady),
		errors.Is(err, replication.ErrSuperseded), errors.Is(err, raft.ErrProposalDropped):
		return fmt.Errorf("%w: %w", store.ErrServiceNotAvailable, err)
	case errors.Is(err, replication.ErrBadEntry):
		return fmt.Errorf("%w: %w", store.ErrMessageIllegal, err)
	}
	return err
}

// proposeWait proposes data as one entry (propose) and waits until this replica applied it.
// Errors: propose's, and for a stored entry one wrapping store.ErrServiceNotAvailable when
// another entry took its index (it never commits: a retry is safe); any other error leaves the
// outcome unknown.
func (rg *replicaGroup) proposeWait(ctx context.Context, data []byte) (replication.Proposal, error) {
	p, applied, err := rg.propose(ctx, data)
	if err != nil {
		return p, err
	}
	select {
	case err := <-applied:
		if err != nil {
			return p, waitError(err)
		}
		return p, nil
	case <-ctx.Done():
		return p, ctx.Err()
	case <-rg.group.Done():
		return p, rg.groupStopped()
	}
}

// takeResults returns and forgets the apply results of entry index.
func (rg *replicaGroup) takeResults(index uint64) ([]commitlog.AppendResult, bool) {
	rg.mu.Lock()
	defer rg.mu.Unlock()
	res, ok := rg.results[index]
	delete(rg.results, index)
	return res, ok
}

// brokerID is what the replica registers as: 0 while it is the ready leader with its leader
// services running (replicated_state.go) and, with a stable leader address, once it holds that
// address or has given up waiting for it; else its own id.
func (rg *replicaGroup) brokerID() int64 {
	if rg.group.Role().Ready && rg.state.servicesReady.Load() && (rg.stable == nil || rg.stable.bound.Load() || rg.stable.fallback.Load()) {
		return 0
	}
	return int64(rg.self.ID)
}

// registerAddr is the address the replica registers under: the stable leader address while it
// holds it, else its own.
func (rg *replicaGroup) registerAddr(own string) string {
	if rg.stable != nil && rg.stable.bound.Load() && rg.group.Role().Ready {
		return rg.stable.addr
	}
	return own
}

// stableRetry is how often a new leader retries binding the stable leader address while another
// process still holds it (a deposed leader that has not noticed yet).
const stableRetry = 50 * time.Millisecond

// stableGrace is how long a ready leader waits for the stable leader address before it registers
// its own address as brokerId 0 (and goes on trying to bind). A deposed leader that is alive
// releases the address within its election timeout of losing the quorum (CheckQuorum), before a
// new leader can be elected; one that is frozen (SIGSTOP, a VM pause) keeps it bound, and
// accepting into its backlog, until it runs again: clients then reach the new leader through
// its own address at their next route poll, as without a stable address.
const stableGrace = 3 * time.Second

// watchRoles follows the replica's role until quit: at every change it first releases the
// stable leader address if the replica is no longer the ready leader (synchronously), then
// re-registers with the name servers and has the forwarder look the leader's address up; a
// ready leader binds the stable address (retrying while it is held elsewhere) and registers it.
func (rg *replicaGroup) watchRoles(b *Broker) {
	defer close(rg.done)
	var last replication.Role
	var retry <-chan time.Time
	var bindWarned uint64     // the term whose failed bind was logged
	var bindFailing time.Time // since when a ready leader fails to bind (zero: it does not)
	for {
		ch := rg.group.RoleChanged()
		r := rg.group.Role()
		changed := r != last
		if changed {
			rg.log.Info("broker: replica role changed", "state", r.State.String(), "leader", r.Leader, "term", r.Term, "ready", r.Ready)
			last = r
		}
		retry = nil
		if rg.stable != nil {
			if !r.Ready {
				bindFailing = time.Time{}
				rg.stable.fallback.Store(false)
			}
			if srv := b.serving(); srv != nil && !r.Ready {
				if rg.stable.unbind(srv) {
					rg.log.Info("broker: released the stable leader address", "addr", rg.stable.addr)
				}
			} else if srv != nil && !rg.stable.bound.Load() {
				if err := rg.stable.bind(srv, rg.log); err != nil {
					retry = time.After(stableRetry)
					if bindFailing.IsZero() {
						bindFailing = time.Now()
					}
					if bindWarned != r.Term {
						rg.log.Warn("broker: the ready leader cannot bind the stable leader address yet; retrying", "addr", rg.stable.addr, "term", r.Term, "err", err)
						bindWarned = r.Term
					}
					if time.Since(bindFailing) >= stableGrace && !rg.stable.fallback.Swap(true) {
						rg.log.Warn("broker: registering the leader's own address as brokerId 0 until the stable leader address is free",
							"addr", rg.stable.addr, "own", b.Addr(), "waited", time.Since(bindFailing).Round(time.Millisecond))
						changed = true
					}
				} else {
					rg.log.Info("broker: serving the stable leader address", "addr", rg.stable.addr, "term", r.Term)
					bindFailing = time.Time{}
					rg.stable.fallback.Store(false)
					changed = true
				}
			} else if srv == nil && r.Ready {
				retry = time.After(stableRetry) // bind once the broker serves
			}
		}
		if changed {
			b.triggerRegister()
			if f := rg.fwd.Load(); f != nil {
				f.refreshSoon()
			}
		}
		select {
		case <-ch:
		case <-retry:
		case <-rg.group.Done():
			if err := rg.group.Err(); err != nil {
				rg.log.Error("broker: the replica stopped; this broker cannot serve its group any more and should be restarted (its log is checked at start)", "err", err)
				close(rg.failed)
			}
			if rg.stable != nil && b.server != nil {
				rg.stable.unbind(b.server)
			}
			return
		case <-rg.quit:
			// The broker is closing (its server, which serves the listener too, may be closed
			// already): release the address and join the listener's Serve.
			if rg.stable != nil && b.server != nil {
				rg.stable.unbind(b.server)
			}
			return
		}
	}
}

// close stops the replica (nothing is applied after it returns), then its port and log.
func (rg *replicaGroup) close() error {
	if rg.state != nil {
		rg.state.stop() // proposes through the group: before it stops
	}
	close(rg.quit)
	var err error
	if rg.group != nil {
		err = rg.group.Close()
		<-rg.done
	}
	if f := rg.fwd.Load(); f != nil {
		err = errors.Join(err, f.close())
	}
	if rg.tr != nil {
		if e := rg.tr.Close(); !errors.Is(e, replication.ErrClosed) {
			err = errors.Join(err, e)
		}
	}
	if rg.rlog != nil {
		if rg.st != nil {
			// The store reads the log's segments: let it dispatch what was applied before they
			// close (its own Close, which follows, then finds nothing left to do).
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if e := rg.st.Sync(ctx); e != nil {
				rg.log.Warn("broker: the store did not dispatch every applied entry before the log closed; the next start re-applies them", "err", e)
			}
			cancel()
		}
		err = errors.Join(err, rg.rlog.Close())
	}
	return err
}

// ReplicaFailed is closed when this broker's replica of a replicated group stopped on its own
// with an error (a damaged log found on a read, a storage failure), never in single-node mode.
// The broker then serves nothing it could apply or lead; its process should stop, so recovery
// judges the log at the next start (mqstore exits non-zero). ReplicaErr says why.
func (b *Broker) ReplicaFailed() <-chan struct{} {
	if b.replica == nil || b.replica.group == nil {
		return nil
	}
	return b.replica.failed
}

// ReplicaErr is the failure that stopped the replica (nil while it runs or after Close).
func (b *Broker) ReplicaErr() error {
	if b.replica == nil || b.replica.group == nil {
		return nil
	}
	return b.replica.group.Err()
}
