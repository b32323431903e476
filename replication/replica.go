// Package replication is the Raft glue of a replicated broker group: one Raft group per broker
// name, on go.etcd.io/raft/v3 (the library owns the consensus algorithm; this package owns the
// Ready loop, durability order, message delivery and applying committed entries).
//
// The group runs etcd raft's RawNode with CheckQuorum (a leader that cannot hear a quorum
// within an election timeout steps down, so a partitioned minority leader stops serving),
// PreVote (a rejoining node with a stale log cannot disrupt a healthy leader) and ReadOnlySafe
// (reads are confirmed by a quorum round, never by a clock lease).
//
// Two layers:
//
//   - replica is the state machine driver without goroutines: Tick, Step, Propose and
//     handleReady, which persists entries and the HardState to Storage before it sends
//     responses (appends and heartbeats leave while it persists), then applies
//     CommittedEntries and Advances. Tests drive replicas directly
//     over a simulated network, deterministically (no timers, no goroutines).
//   - Group owns one replica with one goroutine: the only code that touches the RawNode.
//     Proposals, incoming messages and status requests reach it through channels; a ticker
//     drives its clock. A second goroutine, the append goroutine, persists each Ready's
//     entries and HardState (one Ready at a time, in order), while the first keeps stepping
//     messages: a leader counts its followers' acknowledgements, commits and applies (applyEarly)
//     while its own next append syncs. Close joins both.
//
// The log of a replica is a RocketMQ commitlog (Log: records patched identically on every
// replica, raftidx rows, HardState file); TCPTransport carries messages on the replication port;
// Dispatcher turns committed entries, and only those, into consume-queue units. A leader
// serves (accepts proposals) only after a barrier: an entry of its term committed and every
// committed entry applied (so its consume queues and its log-tail queue table are final).
//
// Metadata (topic configs, groups, consumer offsets) replicates as records of ConfigTopic,
// applied by the Dispatcher into a table every replica holds. Log.Compact is retention; a
// replica behind it installs a metadata snapshot and continues byte-identical from its offset.
// Node runs a replica from RocketMQ's DLedger keys (dLegerGroup, dLegerPeers, dLegerSelfId).
//
// The broker wires a group in broker/replicated.go: SENDs are proposed through a Group and each
// replica applies committed entries into its store (store.Options.Replicator); the ready leader
// registers as brokerId 0. Entries are durable before any response that acknowledges them
// leaves: the library's synchronous-storage contract (a Ready is Advanced after it is
// persisted), with the persistence on the append goroutine; the RawNode steps messages between
// a Ready and its Advance, as the library's own node does.
package replication

import (
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"time"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// Errors.
var (
	// ErrClosed: the Group is closed (or stopped after a storage error, which Close returns).
	ErrClosed = errors.New("replication: closed")
	// ErrStorage wraps a Storage failure; the replica stops at the first one, because
	// continuing after a failed append or HardState write could acknowledge what is not durable.
	ErrStorage = errors.New("replication: storage")
	// ErrCorruptEntry: a committed configuration-change entry does not decode.
	ErrCorruptEntry = errors.New("replication: corrupt entry")
	// ErrNotLeader: a proposal reached a replica that is not the leader. Proposals are not
	// forwarded inside Raft (the proposer must learn its entry's index to answer its client);
	// the broker forwards the request to the leader instead.
	ErrNotLeader = errors.New("replication: not the leader")
	// ErrNotReady: this replica leads but has not passed the leader barrier yet (an entry of
	// its term committed, every committed entry applied). The caller retries shortly.
	ErrNotReady = errors.New("replication: leader not ready")
	// ErrSuperseded: a proposal's index was committed with another entry (its leader lost
	// the term before the proposal committed). It never committed.
	ErrSuperseded = errors.New("replication: proposal superseded")
)

// Storage is the replica's log and HardState: raft.Storage (read by the library) plus the
// writes the Ready loop makes. raft.MemoryStorage implements it; the commitlog-backed storage
// is the next slice.
type Storage interface {
	raft.Storage
	// Append stores entries durably; entries at or after the first one's index that were
	// stored before are replaced (a follower's conflicting suffix is truncated).
	Append(entries []*pb.Entry) error
	// SetHardState stores term, vote and commit index durably.
	SetHardState(st *pb.HardState) error
	// ApplySnapshot replaces the log with a snapshot.
	ApplySnapshot(snap *pb.Snapshot) error
}

var _ Storage = (*raft.MemoryStorage)(nil)

// Transport sends messages to the other replicas. Send must not block on the network (queue
// and drop: Raft retransmits) and must not keep msgs beyond the call.
type Transport interface {
	Send(msgs []*pb.Message)
}

// Options configure a replica or Group. Zero values take the documented defaults.
type Options struct {
	// ID is this replica's id (non-zero), Peers every voter's id including ID. With empty
	// Storage the group is bootstrapped with Peers; otherwise Storage's state is used.
	ID    uint64
	Peers []uint64
	// Storage holds the log and HardState (required).
	Storage Storage
	// Transport delivers this replica's messages (required).
	Transport Transport
	// Apply receives every committed normal entry with data, in log order, exactly once per
	// start (from Options.Applied on), as Storage stores it (for the commitlog Log: the patched
	// records, straight from the mapping: data is valid only during the call). It runs on the
	// goroutine that owns the replica; an error stops the replica (sticky, as a storage error).
	Apply func(index uint64, data []byte) error
	// Applied is the last index already applied before this start (0 for a new replica).
	Applied uint64
	// Restore, when set, is called after Storage installed a snapshot (index, its Data), before
	// any entry after it is applied: the application replaces its state (Dispatcher.Restore).
	Restore func(index uint64, data []byte) error
	// ElectionTicks (10) and HeartbeatTicks (1) are in ticks; TickInterval (100 ms) is a tick
	// of a Group's clock, so the election timeout is 1-2 s by default: generous, so CPU
	// starvation on a small machine does not fake failures.
	ElectionTicks  int
	HeartbeatTicks int
	TickInterval   time.Duration
	// MaxSizePerMsg caps the entries of one append message (1 MiB); MaxInflightMsgs (256)
	// bounds the pipeline per follower; MaxUncommittedEntriesSize (64 MiB) refuses proposals
	// beyond it (backpressure: the broker answers SYSTEM_BUSY).
	MaxSizePerMsg             uint64
	MaxInflightMsgs           int
	MaxUncommittedEntriesSize uint64
	// Logger receives role changes. Default slog.Default().
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.ElectionTicks == 0 {
		o.ElectionTicks = 10
	}
	if o.HeartbeatTicks == 0 {
		o.HeartbeatTicks = 1
	}
	if o.TickInterval == 0 {
		o.TickInterval = 100 * time.Millisecond
	}
	if o.MaxSizePerMsg == 0 {
		o.MaxSizePerMsg = 1 << 20
	}
	if o.MaxInflightMsgs == 0 {
		o.MaxInflightMsgs = 256
	}
	if o.MaxUncommittedEntriesSize == 0 {
		o.MaxUncommittedEntriesSize = 64 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Validate reports an invalid option.
func (o *Options) Validate() error {
	switch {
	case o.ID == 0:
		return errors.New("replication: ID must be non-zero")
	case o.Storage == nil:
		return errors.New("replication: Storage is required")
	case o.Transport == nil:
		return errors.New("replication: Transport is required")
	case o.ElectionTicks < 0 || o.HeartbeatTicks < 0 || o.TickInterval < 0:
		return errors.New("replication: negative ticks")
	case o.ElectionTicks != 0 && o.ElectionTicks <= max(o.HeartbeatTicks, 1):
		return errors.New("replication: ElectionTicks must exceed HeartbeatTicks")
	}
	for _, p := range o.Peers {
		if p == 0 {
			return errors.New("replication: peer id 0")
		}
	}
	return nil
}

// quietRaftLogger drops the library's own logging; role changes are logged by the replica.
var quietRaftLogger = &raft.DefaultLogger{Logger: log.New(io.Discard, "", 0)}

// replica drives one RawNode. It is not safe for concurrent use: one goroutine (a Group's, or
// a test's) calls all its methods.
type replica struct {
	opts Options
	// onApplied, when set, hears of every applied entry (index and term), data or not.
	onApplied func(index, term uint64)
	// pending are the proposals not yet stored, oldest first (see propose).
	pending []pendingProposal
	rn      *raft.RawNode
	applied uint64
	// readyTerm is the term in which this replica, leading, passed the barrier (0: none).
	readyTerm uint64
	// inflight is the Ready taken and not yet Advanced (nil: none).
	inflight *readyInFlight
	// stable is the last index of the entries the finished persistences stored (durably).
	stable uint64
	state  raft.StateType
	lead   uint64
	err    error // sticky: the first storage or apply failure
}

func newReplica(opts Options) (*replica, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	cfg := &raft.Config{
		ID:                        opts.ID,
		ElectionTick:              opts.ElectionTicks,
		HeartbeatTick:             opts.HeartbeatTicks,
		Storage:                   opts.Storage,
		Applied:                   opts.Applied,
		MaxSizePerMsg:             opts.MaxSizePerMsg,
		MaxInflightMsgs:           opts.MaxInflightMsgs,
		MaxUncommittedEntriesSize: opts.MaxUncommittedEntriesSize,
		DisableProposalForwarding: true,
		CheckQuorum:               true,
		PreVote:                   true,
		ReadOnlyOption:            raft.ReadOnlySafe,
		Logger:                    quietRaftLogger,
	}
	last, err := opts.Storage.LastIndex()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStorage, err)
	}
	hs, _, err := opts.Storage.InitialState()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStorage, err)
	}
	if opts.Applied > hs.GetCommit() {
		// A commit index written without fsync (raft.MustSync) can be older than what the
		// application applied before a machine crash; re-applying from it is the app's to
		// tolerate (dispatch is idempotent), an applied index above it the library refuses.
		opts.Applied = hs.GetCommit()
	}
	cfg.Applied = opts.Applied
	rn, err := raft.NewRawNode(cfg)
	if err != nil {
		return nil, fmt.Errorf("replication: %w", err)
	}
	if last == 0 && raft.IsEmptyHardState(hs) {
		if len(opts.Peers) == 0 {
			return nil, errors.New("replication: empty storage and no Peers to bootstrap with")
		}
		peers := make([]raft.Peer, len(opts.Peers))
		for i, id := range opts.Peers {
			peers[i] = raft.Peer{ID: id}
		}
		if err := rn.Bootstrap(peers); err != nil {
			return nil, fmt.Errorf("replication: bootstrap: %w", err)
		}
	}
	return &replica{opts: opts, rn: rn, applied: opts.Applied, stable: last}, nil
}

// tick advances the replica's logical clock by one tick.
func (r *replica) tick() { r.rn.Tick() }

// step hands the replica a message from a peer. Messages from unknown peers or stale terms
// are the library's to ignore; an error here is not fatal.
func (r *replica) step(m *pb.Message) error { return r.rn.Step(m) }

// propose appends data to the log if this replica leads. The entry's index is known once the
// Ready loop stores it: done is called then, from handleReady, with the index and term, or with
// ErrSuperseded if the entry was dropped from the log before it was stored (the replica lost
// its leadership first: the entry was never sent anywhere, so it never commits). propose returns
// ErrNotLeader on any other replica, and raft.ErrProposalDropped when the uncommitted log is
// full (or a leadership transfer is under way); done is not called then.
//
// Matching stored entries to proposals: proposals are not forwarded, so every entry of term T
// with data was proposed on T's leader, in order; the pending proposals of this process are
// matched first-in first-out with the data entries of their term as they are stored. A Ready
// holds every unstable entry, so a proposal made before a Ready was taken whose entry it does
// not hold was dropped (finishReady).
func (r *replica) propose(data []byte, done func(Proposal, error)) error {
	st := r.rn.BasicStatus()
	if st.RaftState != raft.StateLeader {
		return fmt.Errorf("%w: replica %d, leader %d", ErrNotLeader, r.opts.ID, st.Lead)
	}
	if !r.barrierPassed() {
		return fmt.Errorf("%w: replica %d, term %d", ErrNotReady, r.opts.ID, st.GetTerm())
	}
	if c, ok := r.opts.Storage.(entryChecker); ok && len(data) > 0 {
		if err := c.CheckEntry(data); err != nil {
			return err
		}
	}
	if err := r.rn.Propose(data); err != nil {
		return err
	}
	r.pending = append(r.pending, pendingProposal{term: st.GetTerm(), done: done})
	return nil
}

// entryChecker is a Storage that can refuse data it could not store.
type entryChecker interface {
	CheckEntry(data []byte) error
}

// barrierPassed reports whether this replica leads and may serve: the entry at its commit
// index is of its own term (so every entry before it, the previous leaders' tail included, is
// committed) and every committed entry is applied (dispatched). Its log-tail queue table needs
// no rebuild: Log keeps it exact through appends and truncations.
//
// Once passed, it stays passed for the rest of the term: stepping a follower's append response
// moves the commit index before the next Ready applies the entries, and a proposal between the
// two must not be refused (the barrier is about the previous terms' entries, all applied).
func (r *replica) barrierPassed() bool {
	st := r.rn.BasicStatus()
	if st.RaftState != raft.StateLeader {
		return false
	}
	if r.readyTerm == st.GetTerm() {
		return true
	}
	if r.applied < st.GetCommit() {
		return false
	}
	term, err := r.opts.Storage.Term(st.GetCommit())
	if err != nil || term != st.GetTerm() {
		return false
	}
	r.readyTerm = term
	return true
}

type pendingProposal struct {
	term uint64
	done func(Proposal, error)
}

// matchProposals resolves the pending proposals whose entries were just stored, among the
// first limit ones (those proposed before the Ready was taken), and returns how many it
// resolved.
func (r *replica) matchProposals(stored []*pb.Entry, limit int) int {
	n := 0
	for _, e := range stored {
		if n == limit || len(r.pending) == 0 {
			break
		}
		if e.GetType() != pb.EntryType_EntryNormal || len(e.Data) == 0 || e.GetTerm() != r.pending[0].term {
			continue
		}
		r.pending[0].done(Proposal{Index: e.GetIndex(), Term: e.GetTerm()}, nil)
		r.pending[0] = pendingProposal{}
		r.pending = r.pending[1:]
		n++
	}
	return n
}

// dropProposals fails the proposals whose entries left the log unstored.
func (r *replica) dropProposals(err error) { r.dropFirst(len(r.pending), err) }

// dropFirst fails the n oldest pending proposals.
func (r *replica) dropFirst(n int, err error) {
	for _, p := range r.pending[:n] {
		p.done(Proposal{}, err)
	}
	clear(r.pending[:n])
	r.pending = r.pending[n:]
}

// handleReady processes every pending Ready synchronously: persist entries and HardState (and a
// snapshot), then send messages, then apply committed entries, then Advance (a leader applies
// the committed entries that earlier Readies stored before it persists: they are durable
// already). It stops at the first storage failure and returns it (sticky). Tests drive replicas
// with it; a Group runs the same steps with the persistence on its append goroutine
// (startReady, persistLog, finishReady), stepping messages meanwhile.
func (r *replica) handleReady() error {
	for r.err == nil && r.startReady() {
		err := r.persist(r.inflight.rd)
		r.finishReady(err)
	}
	if r.err == nil && len(r.pending) > 0 {
		r.dropProposals(fmt.Errorf("%w: dropped from the log before it was stored", ErrSuperseded))
	}
	return r.err
}

// readyInFlight is a Ready taken from the RawNode whose persistence has not finished: the
// RawNode gets no other Ready until finishReady Advances it, but steps messages, proposals and
// ticks meanwhile (as etcd raft's own node does).
type readyInFlight struct {
	rd        raft.Ready
	late      []*pb.Message // responses that wait for the persistence
	committed []*pb.Entry   // committed entries to apply after it
	proposals int           // pending proposals when the Ready was taken: their entries are in it
}

// startReady takes the next Ready if there is one (and none is in flight): it sends the messages
// that need no persistence and, on a leader, applies the committed entries earlier Readies
// stored. The caller persists r.inflight.rd (persist, or persistLog when it has no snapshot) and
// calls finishReady. It reports false when there is nothing to do (or the replica failed).
func (r *replica) startReady() bool {
	if r.err != nil || r.inflight != nil || !r.rn.HasReady() {
		return false
	}
	rd := r.rn.Ready()
	if rd.SoftState != nil && (rd.SoftState.RaftState != r.state || rd.SoftState.Lead != r.lead) {
		r.state, r.lead = rd.SoftState.RaftState, rd.SoftState.Lead
		r.opts.Logger.Info("replication: role", "id", r.opts.ID, "state", r.state.String(), "leader", r.lead,
			"term", r.rn.BasicStatus().GetTerm())
	}
	// Messages that promise durability (append and vote responses: the library's
	// msgsAfterAppend) wait until the Ready is persisted; the others (appends, heartbeats,
	// vote requests) leave at once, so a leader's followers write in parallel with it
	// (Raft thesis §10.2.1): its own entries count toward a quorum only when its own
	// append response, stepped by Advance, says they are stored.
	early, late := splitMessages(rd.Messages)
	if len(early) > 0 {
		r.opts.Transport.Send(early)
		r.reportSnapshots(early)
	}
	committed := rd.CommittedEntries
	if r.state == raft.StateLeader && raft.IsEmptySnap(rd.Snapshot) {
		// A leader applies the committed entries that earlier Readies stored before it
		// persists this one's, so their proposers are answered without waiting for another
		// sync. A follower persists first: its acknowledgement is what the leader waits for.
		stable := len(committed)
		if len(rd.Entries) > 0 {
			for first := rd.Entries[0].GetIndex(); stable > 0 && committed[stable-1].GetIndex() >= first; {
				stable--
			}
		}
		if err := r.apply(committed[:stable]); err != nil {
			r.err = err // the replica stops: nothing of this Ready is persisted, sent or Advanced
			return false
		}
		committed = committed[stable:]
	}
	r.inflight = &readyInFlight{rd: rd, late: late, committed: committed, proposals: len(r.pending)}
	return true
}

// finishReady completes the Ready in flight once its persistence returned err: it resolves the
// proposals stored by it, raises the acknowledged watermark, sends the responses, applies the
// committed entries and Advances.
func (r *replica) finishReady(err error) {
	f := r.inflight
	r.inflight = nil
	if err != nil {
		r.err = err
		r.dropProposals(err)
		return
	}
	rd := f.rd
	matched := r.matchProposals(rd.Entries, f.proposals)
	if rest := f.proposals - matched; rest > 0 {
		// Proposed before this Ready was taken, yet not in it: their entries left the log
		// unstored (the replica lost its leadership first).
		r.dropFirst(rest, fmt.Errorf("%w: dropped from the log before it was stored", ErrSuperseded))
	}
	if rd.Snapshot != nil && !raft.IsEmptySnap(rd.Snapshot) {
		r.stable = rd.Snapshot.GetMetadata().GetIndex()
	}
	if n := len(rd.Entries); n > 0 {
		r.stable = rd.Entries[n-1].GetIndex()
	}
	if err := r.recordAck(rd, f.late); err != nil {
		r.err = err
		return
	}
	if len(f.late) > 0 {
		r.opts.Transport.Send(f.late)
	}
	if err := r.apply(f.committed); err != nil {
		r.err = err
		return
	}
	r.rn.Advance(rd)
}

// applyEarly applies, on a leader, the committed entries of its own term that its storage
// holds durably, without waiting for the Ready that will list them: the leader's quorum may be
// its two followers' acknowledgements, stepped while its own next append is still syncing on
// the append goroutine, and their proposers are answered at once. Only normal entries of the
// current term (appended by this leader, so its storage holds exactly the entries its Raft log
// has at those indexes) up to the last index a finished persistence stored; it stops at the
// first other entry (an earlier term's, a configuration change), which the Ready path applies,
// in order. Entries it applied are skipped when a Ready lists them (apply).
func (r *replica) applyEarly() error {
	if r.err != nil {
		return r.err
	}
	st := r.rn.BasicStatus()
	if st.RaftState != raft.StateLeader || r.applied >= st.GetCommit() {
		return nil
	}
	info, ok := r.opts.Storage.(entryInfoer)
	if !ok {
		return nil
	}
	for i := r.applied + 1; i <= min(st.GetCommit(), r.stable); i++ {
		term, typ, err := info.EntryInfo(i)
		if err != nil || term != st.GetTerm() || typ != pb.EntryType_EntryNormal {
			return nil
		}
		if r.opts.Apply != nil {
			var applyErr error
			if err := info.EntryRecords(i, func(_ int64, records []byte) {
				if len(records) > 0 { // an empty entry (a new leader's first) applies nothing
					applyErr = r.opts.Apply(i, records)
				}
			}); err != nil {
				applyErr = fmt.Errorf("%w: %w", ErrStorage, err)
			}
			if applyErr != nil {
				r.err = fmt.Errorf("replication: apply %d: %w", i, applyErr)
				return r.err
			}
		}
		r.applied = i
		if r.onApplied != nil {
			r.onApplied(i, term)
		}
	}
	return nil
}

// entryInfoer is a Storage that reports an entry's term and type without reading its data
// (the commitlog Log does); applyEarly needs it.
type entryInfoer interface {
	storedEntries
	EntryInfo(i uint64) (term uint64, typ pb.EntryType, err error)
}

// ackRecorder is a Storage that keeps the acknowledged watermark (the commitlog Log does), so
// that a replica whose log lost acknowledged entries refuses to start instead of being told by
// the leader to commit what it lacks.
type ackRecorder interface {
	SetAcked(index, term uint64) error
}

// recordAck raises the watermark over what this Ready acknowledges, before the responses leave:
// the indexes of its successful append responses, and for a leader its whole log (the library
// counts a leader's own log toward the quorum).
func (r *replica) recordAck(rd raft.Ready, late []*pb.Message) error {
	s, ok := r.opts.Storage.(ackRecorder)
	if !ok {
		return nil
	}
	var index, term uint64
	for _, m := range late {
		if m.GetType() == pb.MessageType_MsgAppResp && !m.GetReject() && m.GetIndex() > index {
			index, term = m.GetIndex(), m.GetTerm()
		}
	}
	if n := len(rd.Entries); n > 0 && r.state == raft.StateLeader {
		if last := rd.Entries[n-1].GetIndex(); last > index {
			index, term = last, r.rn.BasicStatus().GetTerm()
		}
	}
	if index == 0 {
		return nil
	}
	if err := s.SetAcked(index, term); err != nil {
		return fmt.Errorf("%w: acknowledged watermark: %w", ErrStorage, err)
	}
	return nil
}

// reportSnapshots tells the library that snapshots were handed to the transport, so the
// follower's progress leaves the snapshot state: if the snapshot was lost, the next append is
// rejected, the leader probes down below its first index and sends a snapshot again.
func (r *replica) reportSnapshots(msgs []*pb.Message) {
	for _, m := range msgs {
		if m.GetType() == pb.MessageType_MsgSnap {
			r.rn.ReportSnapshot(m.GetTo(), raft.SnapshotFinish)
		}
	}
}

// splitMessages separates the messages that may leave before the Ready is persisted from the
// responses that must wait for it.
func splitMessages(msgs []*pb.Message) (early, late []*pb.Message) {
	for i, m := range msgs {
		switch m.GetType() {
		case pb.MessageType_MsgAppResp, pb.MessageType_MsgVoteResp, pb.MessageType_MsgPreVoteResp:
			if late == nil {
				early = append(early, msgs[:i]...)
			}
			late = append(late, m)
		default:
			if late != nil {
				early = append(early, m)
			}
		}
	}
	if late == nil {
		return msgs, nil
	}
	return early, late
}

// persist makes the Ready's snapshot, entries and HardState durable, in that order.
func (r *replica) persist(rd raft.Ready) error {
	if err := r.persistSnapshot(rd); err != nil {
		return err
	}
	return r.persistLog(rd)
}

// persistSnapshot installs the Ready's snapshot, if it has one (on the replica's goroutine).
func (r *replica) persistSnapshot(rd raft.Ready) error {
	if rd.Snapshot != nil && !raft.IsEmptySnap(rd.Snapshot) {
		if err := r.opts.Storage.ApplySnapshot(rd.Snapshot); err != nil {
			return fmt.Errorf("%w: apply snapshot: %w", ErrStorage, err)
		}
		if r.opts.Restore != nil {
			if err := r.opts.Restore(rd.Snapshot.GetMetadata().GetIndex(), rd.Snapshot.GetData()); err != nil {
				return fmt.Errorf("replication: restore snapshot: %w", err)
			}
		}
		r.applied = rd.Snapshot.GetMetadata().GetIndex()
	}
	return nil
}

// persistLog makes the Ready's entries and HardState durable. It touches only the Storage, so
// a Group runs it on its append goroutine while the replica's goroutine steps messages.
func (r *replica) persistLog(rd raft.Ready) error {
	if len(rd.Entries) > 0 {
		if err := r.opts.Storage.Append(rd.Entries); err != nil {
			return fmt.Errorf("%w: append %d entries at %d: %w", ErrStorage, len(rd.Entries), rd.Entries[0].GetIndex(), err)
		}
	}
	if rd.HardState != nil && !raft.IsEmptyHardState(rd.HardState) {
		if err := r.opts.Storage.SetHardState(rd.HardState); err != nil {
			return fmt.Errorf("%w: hard state: %w", ErrStorage, err)
		}
	}
	return nil
}

// apply hands committed entries to Options.Apply and configuration changes to the library.
func (r *replica) apply(entries []*pb.Entry) error {
	for _, e := range entries {
		if e.GetIndex() <= r.applied {
			continue
		}
		switch e.GetType() {
		case pb.EntryType_EntryNormal:
			if len(e.Data) > 0 && r.opts.Apply != nil {
				if err := r.applyNormal(e); err != nil {
					return fmt.Errorf("replication: apply %d: %w", e.GetIndex(), err)
				}
			}
		case pb.EntryType_EntryConfChange:
			var cc pb.ConfChange
			if err := proto.Unmarshal(e.Data, &cc); err != nil {
				return fmt.Errorf("%w: conf change at %d: %w", ErrCorruptEntry, e.GetIndex(), err)
			}
			if err := r.saveConfState(r.rn.ApplyConfChange(&cc)); err != nil {
				return err
			}
		case pb.EntryType_EntryConfChangeV2:
			var cc pb.ConfChangeV2
			if err := proto.Unmarshal(e.Data, &cc); err != nil {
				return fmt.Errorf("%w: conf change at %d: %w", ErrCorruptEntry, e.GetIndex(), err)
			}
			if err := r.saveConfState(r.rn.ApplyConfChange(&cc)); err != nil {
				return err
			}
		}
		r.applied = e.GetIndex()
		if r.onApplied != nil {
			r.onApplied(e.GetIndex(), e.GetTerm())
		}
	}
	return nil
}

// storedEntries is a Storage whose stored bytes differ from the proposed ones (the commitlog
// Log patches offsets into records), so Apply must be given what is stored.
type storedEntries interface {
	EntryRecords(index uint64, fn func(phys int64, records []byte)) error
}

// applyNormal hands a committed entry to Options.Apply. With synchronous storage writes the
// library may hand committed entries over from its in-memory log in the same Ready that stores
// them, with the bytes as proposed; a storedEntries Storage is therefore read back, so Apply
// always sees the entry as stored.
func (r *replica) applyNormal(e *pb.Entry) error {
	s, ok := r.opts.Storage.(storedEntries)
	if !ok {
		return r.opts.Apply(e.GetIndex(), e.Data)
	}
	var applyErr error
	if err := s.EntryRecords(e.GetIndex(), func(_ int64, records []byte) {
		applyErr = r.opts.Apply(e.GetIndex(), records)
	}); err != nil {
		return fmt.Errorf("%w: %w", ErrStorage, err)
	}
	return applyErr
}

// confStateSaver is a Storage that keeps the ConfState itself (the commitlog Log does; with
// raft.MemoryStorage the ConfState lives in snapshots).
type confStateSaver interface {
	SetConfState(cs *pb.ConfState) error
}

func (r *replica) saveConfState(cs *pb.ConfState) error {
	if s, ok := r.opts.Storage.(confStateSaver); ok {
		if err := s.SetConfState(cs); err != nil {
			return fmt.Errorf("%w: conf state: %w", ErrStorage, err)
		}
	}
	return nil
}

// status is the replica's basic status (term, vote, commit, leader, role, applied).
func (r *replica) status() raft.BasicStatus { return r.rn.BasicStatus() }
