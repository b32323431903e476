package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/mqstore/mqstore/commitlog"
	"github.com/mqstore/mqstore/consumequeue"
	"github.com/mqstore/mqstore/internal/mapped"
	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/txn"
)

// Replicator is the consensus group behind a store in replicated mode (Options.Replicator).
//
// The seam: a put validates its messages as in single-node mode, encodes them into one run of
// records stamped with this leader's store host and time, and calls Replicate. The Replicator
// proposes the run as one entry; once a quorum stored it, every replica (this one included)
// hands the committed entry to its store's ApplyEncoded, which appends the records to the
// store's own commitlog (offsets assigned there, deterministically: every replica applies the
// same entries in the same order, so msgIds and queue offsets agree across replicas) or, with a
// LogOwner, makes them visible where the Raft log itself stored them. From
// there on everything is single-node code: dispatch to consume queues and the index, timers,
// transactions, reads. Replicate returns the records' results from that apply.
//
// A Replicator that cannot take the proposal because this replica does not lead (or has not
// passed its leader barrier) returns an error wrapping ErrServiceNotAvailable (the broker
// answers SERVICE_NOT_AVAILABLE, which clients retry elsewhere); any other error means the
// outcome is unknown (PutUnknownError, SYSTEM_ERROR: retried by clients, may duplicate).
type Replicator interface {
	Replicate(ctx context.Context, records []byte) ([]commitlog.AppendResult, error)
}

// LogOwner is a Replicator whose Raft log keeps its records in RocketMQ commitlog segments
// that the store reads as its own commitlog (replication.Log): each record is stored once per
// replica. The store opens a read-only view over those segments (commitlog.OpenView) that shows
// only committed, applied entries: ApplyEncoded moves its bound instead of appending.
type LogOwner interface {
	Replicator
	// CommitLogSegments is the Raft log's segment queue. The owner appends to it and truncates
	// its uncommitted tail; it keeps the same object for the store's life (also across a
	// snapshot install, which empties it).
	CommitLogSegments() *mapped.Queue
	// CommitLogBounds is where the log's records start (its base) and where its committed
	// entries end, at Open.
	CommitLogBounds() (floor, committedEnd int64)
	// ReleaseSegments deletes the log's segments below offset (a segment boundary) as far as
	// the owner may: it compacts its log up to the last entry ending at or before offset that
	// is applied and, unless force (the disk is above DiskMaxUsedRatio), held by every replica
	// (a replica behind it is brought up by a snapshot).
	ReleaseSegments(below int64, force bool) error
	// BeforeCheckpoint runs before the store records a dispatch checkpoint, after it read the
	// dispatched offset: the owner makes durable the state it derived from the entries applied
	// so far (a restarted replica resumes applying from that checkpoint, not from entry 1).
	BeforeCheckpoint() error
	// BaseQueues is the next queue offset of every topic queue at the log's base (the queue
	// table of the snapshot it restarted from, carried over what it compacted since): where the
	// store's queues start when they restart at the base (RestartAt, or an Open that finds its
	// checkpoint below the base).
	BaseQueues() []QueueStart
}

// QueueStart is where a topic queue starts: the queue offset of its next record.
type QueueStart struct {
	Topic   string
	QueueID int32
	Next    int64
}

// DefaultReplicateTimeout is Options.ReplicateTimeout's default.
const DefaultReplicateTimeout = 5 * time.Second

// Replicated reports whether the store runs in replicated mode.
func (s *Store) Replicated() bool { return s.opts.Replicator != nil }

// ApplyEncoded appends a committed entry's records (encoded and stamped by the leader) to the
// commitlog, in replicated mode: the Replicator's apply callback. Entries must be applied in
// log order, each once.
//
// With a LogOwner the records are already in the commitlog, where the Raft log stored and
// patched them (records is that stored copy): the store makes them visible (to dispatch, reads
// and MaxPhysicalOffset) and describes them; applying an entry again (a restart that resumes
// before entries the store had dispatched) is harmless.
func (s *Store) ApplyEncoded(records []byte) ([]commitlog.AppendResult, error) {
	if s.commitLog.IsView() {
		res, err := commitlog.ResultsOf(records)
		if err != nil {
			return nil, fmt.Errorf("store: apply: %w", err)
		}
		if err := s.ApplyStored(res); err != nil {
			return nil, err
		}
		return res, nil
	}
	res, err := s.commitLog.AppendEncoded(records)
	if err != nil {
		return nil, fmt.Errorf("store: apply: %w", err)
	}
	return res, nil
}

// ApplyStored makes the records res describes (commitlog.ResultsOf of an entry the LogOwner
// stored) visible, as ApplyEncoded does: for an owner that derives its own state from the
// entry first, so a checkpoint never counts a record dispatched before that state has it.
// It fails once the store is closed: the replica must stop, not apply past its store.
func (s *Store) ApplyStored(res []commitlog.AppendResult) error {
	if s.closed.Load() {
		return fmt.Errorf("store: apply: %w", ErrClosed)
	}
	if len(res) > 0 {
		s.commitLog.Advance(res[len(res)-1].End())
	}
	return nil
}

// RestartAt empties the store for a log that restarts at offset (a replica that installed a
// snapshot: its commitlog now holds nothing below offset): every consume queue and the index
// entries below offset are deleted, nothing is visible or dispatched before offset, and the
// state is checkpointed. The queues of the owner's BaseQueues (the snapshot's queue table)
// start at once at their next offset, MinOffset = MaxOffset = that offset (blank units below
// it, as after retention), so a consumer or an admin asking before the queue's next record sees
// where the queue is, and consumers below get the usual correction. The timer wheel is rebuilt
// from what the store then holds (timerService.restart: the timers of records below offset are
// dropped, counted as skipped). The owner calls it on its
// applying goroutine, after its log restarted at offset and before it applies any entry after.
func (s *Store) RestartAt(offset int64) error {
	owner, ok := s.opts.Replicator.(LogOwner)
	if !ok || !s.commitLog.IsView() {
		return fmt.Errorf("store: restart at %d: the commitlog is the store's own", offset)
	}
	s.dispatchRunMu.Lock()
	err := s.restartQueues(owner.BaseQueues())
	if err == nil && s.index != nil {
		_, err = s.index.DeleteBelow(offset)
	}
	s.commitLog.SetBounds(offset, offset)
	s.dispatched.Store(offset)
	s.restartTimers(offset)
	s.dispatchMu.Lock()
	close(s.dispatchRound)
	s.dispatchRound = make(chan struct{})
	s.dispatchMu.Unlock()
	s.dispatchRunMu.Unlock()
	if err != nil {
		return fmt.Errorf("store: restart at %d: %w", offset, err)
	}
	return s.writeCheckpoint()
}

// restartQueues deletes every consume queue (their units point below a log that restarted)
// and starts the queues of table at their next offsets.
func (s *Store) restartQueues(table []QueueStart) error {
	var topics []string
	s.queues.Range(func(q *consumequeue.ConsumeQueue) bool {
		if !slices.Contains(topics, q.Topic()) {
			topics = append(topics, q.Topic())
		}
		return true
	})
	for _, topic := range topics {
		if err := s.DeleteTopic(topic); err != nil {
			return err
		}
	}
	for _, qs := range table {
		if qs.Next <= 0 {
			continue
		}
		q, err := s.queues.GetOrCreate(qs.Topic, qs.QueueID)
		if err != nil {
			return err
		}
		if err := q.StartAt(qs.Next); err != nil {
			return err
		}
		s.commitLog.SetQueueOffset(qs.Topic, qs.QueueID, qs.Next)
	}
	return nil
}

// putReplicated stores msgs (already checked) through the Replicator, as one entry.
func (s *Store) putReplicated(msgs []*message.Message, queueIDs []int32) ([]PutResult, error) {
	now := s.opts.Now().UnixMilli()
	var recs []byte
	for _, m := range msgs {
		start := len(recs)
		var err error
		if recs, err = message.AppendRecord(recs, m); err != nil {
			out, perr := s.putResult(0, commitlog.AppendResult{}, err)
			return []PutResult{out}, perr
		}
		message.PatchRecord(recs[start:], 0, 0, now)
	}
	results, err := s.opts.Replicator.Replicate(s.replicateContext(), recs)
	switch {
	case err == nil && len(results) != len(msgs):
		return []PutResult{{Status: PutUnknownError}}, fmt.Errorf("store: replicated %d records, got %d results", len(msgs), len(results))
	case errors.Is(err, ErrServiceNotAvailable):
		return []PutResult{{Status: PutServiceNotAvailable}}, err
	case err != nil:
		return []PutResult{{Status: PutUnknownError}}, fmt.Errorf("store: replicate (outcome unknown): %w", err)
	}
	out := make([]PutResult, len(results))
	for i, r := range results {
		out[i], _ = s.putResult(queueIDs[i], r, nil)
	}
	return out, nil
}

// deadlineSlot is a deadline shared by the replicated puts that start before until.
type deadlineSlot struct {
	ctx    context.Context
	cancel context.CancelFunc // never called: the context ends at its deadline
	until  time.Time
}

// replicateSlots is how many slots a replicate timeout is cut into (replicateContext).
const replicateSlots = 32

// replicateContext is the context that bounds a replicated put's wait: it ends
// ReplicateTimeout after the put starts, or up to ReplicateTimeout/replicateSlots later. The
// puts that start within one slot of that length share one context, so a SEND costs no
// context and timer of its own (one per slot instead: 32 per timeout, not one per message).
func (s *Store) replicateContext() context.Context {
	now := time.Now()
	if d := s.replicateSlot.Load(); d != nil && now.Before(d.until) {
		return d.ctx
	}
	timeout := s.opts.ReplicateTimeout
	if timeout <= 0 {
		timeout = DefaultReplicateTimeout
	}
	d := &deadlineSlot{until: now.Add(max(timeout/replicateSlots, time.Nanosecond))}
	d.ctx, d.cancel = context.WithDeadline(context.Background(), d.until.Add(timeout))
	// Concurrent puts at a slot's end may each start a slot; the last stored serves the
	// next ones, the others' contexts end at their deadlines all the same.
	s.replicateSlot.Store(d)
	return d.ctx
}

// putAsyncReplicated runs putReplicated on its own goroutine (joined by Close) and calls done.
func (s *Store) putAsyncReplicated(m *message.Message, queueID int32, done func(PutResult, error)) {
	s.replicating.Add(1)
	go func() {
		defer s.replicating.Done()
		out, err := s.putReplicated([]*message.Message{m}, []int32{queueID})
		var res PutResult
		if len(out) > 0 {
			res = out[0]
		}
		done(res, err)
	}()
}

// ReopenTransactions replaces the transaction service with a new one rebuilt from this store's
// half and op queues (txn.New), once every record the store holds is dispatched. A replicated
// group's new leader calls it after its barrier: the service it replaces knew only the half
// messages prepared through this replica, the new one knows every one the group's log holds.
// The old service is closed first (its check loop joined; calls that still reach it fail with
// txn.ErrClosed; op markers it could not write are the log's loss only if it no longer leads,
// and then the next leader checks those transactions back). The new service keeps its files in
// a directory of its own, so its recovery starts from the first half-queue offset rather than
// from a progress the old one saved. Its check service is not started: the caller does that.
func (s *Store) ReopenTransactions(ctx context.Context) (*txn.Service, error) {
	if err := s.Sync(ctx); err != nil {
		return nil, fmt.Errorf("store: reopen transactions: %w", err)
	}
	if old := s.txn.Load(); old != nil {
		if err := old.Close(); err != nil && !errors.Is(err, txn.ErrClosed) {
			s.backgroundError(fmt.Errorf("store: close the replaced transaction service: %w", err))
		}
	}
	opts := s.txnOpts
	s.txnGen++
	opts.Dir = fmt.Sprintf("%s.%d", s.txnOpts.Dir, s.txnGen)
	if err := os.RemoveAll(opts.Dir); err != nil {
		return nil, fmt.Errorf("store: reopen transactions: %w", err)
	}
	tx, err := txn.New(txnBackend{s}, opts)
	if err != nil {
		return nil, fmt.Errorf("store: reopen transactions: %w", err)
	}
	s.txn.Store(tx)
	return tx, nil
}

// CloseTransactions closes the transaction service (a replicated replica that does not lead:
// its calls then fail with txn.ErrClosed until ReopenTransactions).
func (s *Store) CloseTransactions() error {
	if err := s.txn.Load().Close(); err != nil && !errors.Is(err, txn.ErrClosed) {
		return err
	}
	return nil
}
