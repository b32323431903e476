package store

import (
	"context"
	"fmt"
	"time"
	"unsafe"

	"github.com/mqstore/mqstore/consumequeue"
	"github.com/mqstore/mqstore/message"
)

// dispatchPoll bounds how long an appended record waits for dispatch if a wake-up is missed.
const dispatchPoll = 10 * time.Millisecond

// dispatchLoop is RocketMQ's reput service: it turns every appended record into its consume-queue
// unit and index entries, in commitlog order, on one goroutine.
func (s *Store) dispatchLoop() {
	defer s.wg.Done()
	tick := time.NewTicker(dispatchPoll)
	defer tick.Stop()
	for {
		select {
		case <-s.quit:
			return
		case <-s.commitLog.Notify():
		case <-tick.C:
		}
		if err := s.dispatchAvailable(); err != nil && s.dispatchErr.CompareAndSwap(nil, &err) {
			s.backgroundError(err)
		}
	}
}

// dispatchAvailable dispatches every published record after the dispatched offset. Only the
// dispatch goroutine (or Open/Close, when it is not running) calls it.
func (s *Store) dispatchAvailable() error {
	s.dispatchRunMu.Lock()
	defer s.dispatchRunMu.Unlock()
	from := s.dispatched.Load()
	var dispatchErr error
	end, err := s.commitLog.Scan(from, false, func(offset int64, _ []byte, r *message.Record) bool {
		if dispatchErr = s.dispatchRecord(offset, r); dispatchErr != nil {
			return false
		}
		s.dispatched.Store(offset + int64(r.TotalSize))
		return true
	})
	if end > s.dispatched.Load() && dispatchErr == nil && err == nil {
		// Blank records at segment ends are skipped without a callback.
		s.dispatched.Store(end)
	}
	if end != from || dispatchErr != nil || err != nil {
		// Wake WaitDispatched on progress and on failure (it then returns the error).
		s.dispatchMu.Lock()
		close(s.dispatchRound)
		s.dispatchRound = make(chan struct{})
		s.dispatchMu.Unlock()
	}
	if dispatchErr != nil {
		return dispatchErr
	}
	if err != nil {
		return fmt.Errorf("store: dispatch: %w", err)
	}
	return nil
}

// bytesString views b as a string without copying, for lookups that do not keep the string.
func bytesString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// dispatchRecord writes the queue unit and the index entries of one record.
func (s *Store) dispatchRecord(offset int64, r *message.Record) error {
	t := message.TransactionType(r.SysFlag)
	if t == message.TransactionNotType || t == message.TransactionCommitType {
		q := s.queues.Get(bytesString(r.Topic), r.QueueID)
		if q == nil {
			var err error
			if q, err = s.queues.GetOrCreate(string(r.Topic), r.QueueID); err != nil {
				return fmt.Errorf("store: dispatch record at %d: %w", offset, err)
			}
		}
		tagsCode := s.tagsCode(r)
		unit := consumequeue.Unit{CommitLogOffset: offset, Size: r.TotalSize, TagsCode: tagsCode}
		if err := q.Put(r.QueueOffset, unit); err != nil {
			return fmt.Errorf("store: dispatch record at %d to %s/%d offset %d: %w", offset, q.Topic(), q.QueueID(), r.QueueOffset, err)
		}
		if s.opts.OnArrival != nil {
			s.opts.OnArrival(q.Topic(), q.QueueID(), q.MaxOffset(), tagsCode)
		}
	}
	if s.index != nil && t != message.TransactionRollbackType {
		uniq, _ := r.Properties.Lookup(message.PropertyUniqKey)
		keys, _ := r.Properties.Lookup(message.PropertyKeys)
		if len(uniq) > 0 || len(keys) > 0 {
			if err := s.index.PutMessage(bytesString(r.Topic), bytesString(uniq), bytesString(keys), r.SysFlag, offset, r.StoreTimestamp); err != nil {
				return fmt.Errorf("store: index record at %d: %w", offset, err)
			}
		}
	}
	s.lastDispatchedTimestamp.Store(r.StoreTimestamp)
	return nil
}

// tagsCode is the value stored in a unit's tags field: the Java hash of TAGS, or for the delay
// topic the time the message is due (RocketMQ's schedule queues).
func (s *Store) tagsCode(r *message.Record) int64 {
	switch bytesString(r.Topic) {
	case ScheduleTopic:
		return s.deliverTime(r)
	case TimerTopic:
		return timerDeliverTime(r)
	}
	return r.TagsCode()
}

// DispatchedOffset is the commitlog offset up to which records are visible through queues.
func (s *Store) DispatchedOffset() int64 { return s.dispatched.Load() }

// MaxPhysicalOffset is the end of the commitlog.
func (s *Store) MaxPhysicalOffset() int64 { return s.commitLog.MaxOffset() }

// MinPhysicalOffset is the oldest commitlog offset still stored.
func (s *Store) MinPhysicalOffset() int64 { return s.commitLog.MinOffset() }

// DispatchBehind is how many commitlog bytes are not dispatched yet.
func (s *Store) DispatchBehind() int64 { return s.commitLog.MaxOffset() - s.dispatched.Load() }

// WaitDispatched waits until everything up to offset is dispatched (visible to GetMessages).
func (s *Store) WaitDispatched(ctx context.Context, offset int64) error {
	for {
		s.dispatchMu.Lock()
		round := s.dispatchRound
		s.dispatchMu.Unlock()
		if s.dispatched.Load() >= offset {
			return nil
		}
		if errp := s.dispatchErr.Load(); errp != nil {
			return *errp
		}
		select {
		case <-round:
		case <-ctx.Done():
			return ctx.Err()
		case <-s.quit:
			if s.dispatched.Load() >= offset {
				return nil
			}
			return ErrClosed
		}
	}
}

// Sync waits until every message put so far is dispatched.
func (s *Store) Sync(ctx context.Context) error {
	return s.WaitDispatched(ctx, s.commitLog.MaxOffset())
}

// checkpointLoop periodically flushes queue units and index entries and records the checkpoint.
func (s *Store) checkpointLoop() {
	defer s.wg.Done()
	tick := time.NewTicker(s.opts.CheckpointInterval)
	defer tick.Stop()
	for {
		select {
		case <-s.quit:
			return
		case <-tick.C:
			if err := s.writeCheckpoint(); err != nil {
				s.backgroundError(err)
			}
		}
	}
}

// writeCheckpoint makes the dispatched state durable and records it. Order matters: the commitlog
// is flushed up to the dispatched offset before the queues and the index, and those before the
// checkpoint, so the checkpoint never promises more than the disk holds.
func (s *Store) writeCheckpoint() error {
	s.checkpointMu.Lock()
	defer s.checkpointMu.Unlock()
	if err := s.Err(); err != nil {
		// Sticky: after a failed msync nothing later proves the data reached the disk.
		return err
	}
	dispatched := s.dispatched.Load()
	ts := s.lastDispatchedTimestamp.Load()
	if owner, ok := s.opts.Replicator.(LogOwner); ok {
		if err := owner.BeforeCheckpoint(); err != nil {
			return fmt.Errorf("store: checkpoint: %w", err)
		}
	}
	if err := s.commitLog.WaitFlushed(dispatched); err != nil {
		return fmt.Errorf("store: checkpoint: %w", err)
	}
	if err := s.queues.Flush(); err != nil {
		return s.flushFailed(fmt.Errorf("consume queues: %w", err))
	}
	if s.index != nil {
		if err := s.index.Flush(); err != nil {
			return s.flushFailed(fmt.Errorf("index: %w", err))
		}
	}
	indexTs := ts
	if s.index != nil {
		indexTs = s.index.FlushedTimestamp()
	}
	if err := writeCheckpointFile(s.opts.FS, s.checkpointPath(), checkpoint{
		physicMsgTimestamp: ts,
		logicsMsgTimestamp: ts,
		indexMsgTimestamp:  indexTs,
		commitlogFlushed:   s.commitLog.FlushedOffset(),
		dispatchedFlushed:  dispatched,
	}); err != nil {
		return err
	}
	s.checkpointed.Store(dispatched)
	return nil
}

// flushFailed records the first failed flush of the queues or the index (sticky, see Err) and
// returns it.
func (s *Store) flushFailed(cause error) error {
	err := fmt.Errorf("%w: %w", ErrFlushFailed, cause)
	if s.flushErr.CompareAndSwap(nil, &err) {
		return err
	}
	return *s.flushErr.Load()
}
