package txn

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/mqstore/mqstore/message"
)

// Resolution is a checker's answer (LocalTransactionState).
type Resolution uint8

const (
	// Unknown: no decision yet, or the check was sent and the answer will
	// arrive later through Commit or Rollback (a broker's oneway
	// CHECK_TRANSACTION_STATE). The transaction stays open.
	Unknown Resolution = iota
	// Commit the transaction now.
	Commit
	// Rollback the transaction now.
	Rollback
)

// String returns RocketMQ's name of the state.
func (r Resolution) String() string {
	switch r {
	case Commit:
		return "COMMIT_MESSAGE"
	case Rollback:
		return "ROLLBACK_MESSAGE"
	}
	return "UNKNOW"
}

// CheckResult is the outcome of the last check of an open transaction.
// Stored in the check-count file; frozen values.
type CheckResult uint8

const (
	CheckNone     CheckResult = 0 // never checked
	CheckUnknown  CheckResult = 1 // delivered; unknown or answer pending
	CheckCommit   CheckResult = 2 // answered commit (the commit then failed)
	CheckRollback CheckResult = 3 // answered rollback (the rollback then failed)
	CheckFailed   CheckResult = 4 // not delivered (the checker's error); not counted
)

func (c CheckResult) String() string {
	switch c {
	case CheckNone:
		return "none"
	case CheckUnknown:
		return "unknown"
	case CheckCommit:
		return "commit"
	case CheckRollback:
		return "rollback"
	case CheckFailed:
		return "failed"
	}
	return "CheckResult(" + strconv.Itoa(int(c)) + ")"
}

// Checker asks a producer of the half message's group for the state of its
// local transaction. txn owns the interface; the broker implements it with
// CHECK_TRANSACTION_STATE (send oneway, return Unknown), an embedder may
// answer synchronously. Check must not block for long: rounds call it one
// transaction at a time. An error means the check was not delivered and is
// not counted (return ErrNoProducerOnline when no producer of the group is
// connected). Check may call Commit and Rollback itself.
type Checker interface {
	Check(ctx context.Context, half HalfMessage) (Resolution, error)
}

// CheckerFunc adapts a function to Checker.
type CheckerFunc func(ctx context.Context, half HalfMessage) (Resolution, error)

// Check calls f.
func (f CheckerFunc) Check(ctx context.Context, half HalfMessage) (Resolution, error) {
	return f(ctx, half)
}

// HalfMessage is what a check is about.
type HalfMessage struct {
	OpenTransaction
	// Message is the half message as stored (topic HalfTopic, queue 0,
	// REAL_TOPIC/REAL_QID in its properties) with TRANSACTION_CHECK_TIMES
	// set to the number of this check. The broker swaps topic and queue
	// back before encoding the CHECK_TRANSACTION_STATE body (spec §6.6).
	Message *message.Message
	// Record holds the half record's stored fields (offsets, store
	// timestamp, hosts, sysflag), as Store.Read returned them; its Body,
	// Topic and Properties may be nil (Message has them).
	Record message.Record
}

// RoundStats counts what one check round did.
type RoundStats struct {
	Open       int // open transactions at the start of the round
	Checked    int // checks delivered (counted)
	Failed     int // checks not delivered (checker errors)
	Committed  int // committed on the checker's answer
	RolledBack int // rolled back on the checker's answer
	Discarded  int // discarded (CheckMax or FileReservedTime)
	Duration   time.Duration
}

// Start starts the check service: every CheckInterval, a round checks the
// open transactions through checker. It fails with ErrAlreadyStarted the
// second time.
func (s *Service) Start(checker Checker) error {
	if checker == nil {
		return fmt.Errorf("%w: nil checker", ErrInvalidOptions)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.checker != nil {
		return ErrAlreadyStarted
	}
	s.checker = checker
	go s.loop(checker)
	return nil
}

func (s *Service) loop(checker Checker) {
	defer close(s.done)
	t := time.NewTimer(s.opts.CheckInterval)
	defer t.Stop()
	for {
		select {
		case <-s.quit:
			return
		case <-t.C:
		}
		s.roundMu.Lock()
		stats, err := s.roundLocked(s.ctx, checker)
		s.roundMu.Unlock()
		if s.opts.OnRound != nil {
			s.opts.OnRound(stats)
		}
		if err != nil && !errors.Is(err, context.Canceled) {
			s.errMu.Lock()
			if s.loopErr == nil {
				s.loopErr = err
			}
			s.errMu.Unlock()
		}
		t.Reset(s.opts.CheckInterval)
	}
}

// CheckNow runs a check round now, in the caller's goroutine (rounds never
// overlap), with the checker given to Start.
func (s *Service) CheckNow(ctx context.Context) (RoundStats, error) {
	if err := s.enter(); err != nil {
		return RoundStats{}, err
	}
	defer s.calls.exit()
	s.mu.Lock()
	checker := s.checker
	s.mu.Unlock()
	if checker == nil {
		return RoundStats{}, ErrNotStarted
	}
	s.roundMu.Lock()
	defer s.roundMu.Unlock()
	return s.roundLocked(ctx, checker)
}

// roundLocked runs one check round: O(open transactions), oldest first.
func (s *Service) roundLocked(ctx context.Context, checker Checker) (RoundStats, error) {
	start := time.Now()
	now := s.opts.Now()
	nowMs := now.UnixMilli()
	s.mu.Lock()
	due := make([]*entry, 0, len(s.open))
	for _, e := range s.open {
		due = append(due, e)
	}
	s.mu.Unlock()
	slices.SortFunc(due, func(a, b *entry) int { return cmpInt64(a.queueOffset, b.queueOffset) })
	stats := RoundStats{Open: len(due)}

	var err error
	for _, e := range due {
		if err = ctx.Err(); err != nil {
			break
		}
		s.mu.Lock()
		if s.open[e.queueOffset] != e || e.committing {
			s.mu.Unlock()
			continue
		}
		checks := e.checks
		s.mu.Unlock()
		age := time.Duration(nowMs-e.storeTimestamp) * time.Millisecond
		if age > s.opts.FileReservedTime || checks >= s.opts.CheckMax {
			if s.discard(e) == nil {
				stats.Discarded++
			}
			continue
		}
		wait := s.opts.TransactionTimeout
		if e.immunity > 0 {
			wait = e.immunity
		}
		if age < wait {
			continue
		}
		msg, rec, rerr := s.store.Read(e.halfOffset)
		if rerr != nil {
			// The half message is gone (retention): nothing to check or deliver.
			if s.discard(e) == nil {
				stats.Discarded++
			}
			continue
		}
		msg.SetProperty(message.PropertyTransactionCheckTimes, strconv.Itoa(checks+1))
		s.mu.Lock()
		half := HalfMessage{OpenTransaction: s.describeLocked(e, now), Message: msg, Record: rec}
		s.mu.Unlock()
		res, cerr := checker.Check(ctx, half)
		s.mu.Lock()
		e.lastCheck = nowMs
		if cerr != nil {
			e.lastResult = CheckFailed
			failed := checkRecord{queueOffset: e.queueOffset, halfOffset: e.halfOffset, checkTime: nowMs, count: e.checks, result: CheckFailed}
			s.mu.Unlock()
			stats.Failed++
			if s.checks != nil {
				s.checks.add(failed)
			}
			continue
		}
		e.checks++
		e.lastResult = CheckUnknown
		switch res {
		case Commit:
			e.lastResult = CheckCommit
		case Rollback:
			e.lastResult = CheckRollback
		}
		rec2 := checkRecord{queueOffset: e.queueOffset, halfOffset: e.halfOffset, checkTime: nowMs, count: e.checks, result: e.lastResult}
		s.mu.Unlock()
		stats.Checked++
		if s.checks != nil {
			s.checks.add(rec2)
		}
		switch res {
		case Commit:
			// The checker may have committed already through Commit.
			if _, err := s.commit(msg.Clone(), rec); err == nil {
				stats.Committed++
			}
		case Rollback:
			if err := s.rollback(rec.QueueOffset); err == nil {
				stats.RolledBack++
			}
		}
	}
	if ferr := s.finishRoundLocked(); err == nil {
		err = ferr
	}
	stats.Duration = time.Since(start)
	return stats, err
}

// finishRoundLocked syncs the check counts (compacting them when worth
// it), trims the outcome window, writes the progress captured at the end
// of the previous round and captures the current one.
func (s *Service) finishRoundLocked() error {
	s.mu.Lock()
	s.trimLocked()
	next := s.captureLocked()
	var recs []checkRecord
	compact := s.checks != nil && s.checks.needsCompaction(len(s.open))
	if compact {
		for _, e := range s.open {
			if e.checks > 0 || e.lastResult != CheckNone {
				recs = append(recs, checkRecord{queueOffset: e.queueOffset, halfOffset: e.halfOffset,
					checkTime: e.lastCheck, count: e.checks, result: e.lastResult})
			}
		}
	}
	s.mu.Unlock()
	var err error
	if s.checks != nil {
		if compact {
			err = s.checks.compact(recs)
		} else {
			err = s.checks.sync()
		}
		// The captured watermarks may pass transactions ended in the previous round, whose op
		// markers the op writer appends asynchronously: they must be in the store before the
		// progress file says so, or a crash leaves such a transaction neither open nor ended.
		if ferr := s.ops.flush(); ferr != nil {
			if err == nil {
				err = ferr
			}
		} else if perr := writeProgress(s.opts.FS, s.opts.Dir, s.captured); err == nil {
			err = perr
		}
	}
	s.captured = next
	return err
}

// discard moves an open transaction to DiscardTopic: a copy of the half
// message there first (PropertyOrigin = its offset, TRANSACTION_CHECK_TIMES
// = its count), then the op marker. A crash in between discards it again
// after the restart (a second copy in DiscardTopic, which is never
// delivered).
func (s *Service) discard(e *entry) error {
	s.mu.Lock()
	if s.open[e.queueOffset] != e || e.committing {
		s.mu.Unlock()
		return ErrAlreadyEnded
	}
	delete(s.open, e.queueOffset)
	s.states.set(e.queueOffset, stateDiscarded)
	checks := e.checks
	s.mu.Unlock()

	if msg, _, err := s.store.Read(e.halfOffset); err == nil {
		msg.Topic = DiscardTopic
		msg.QueueID = 0
		msg.SetProperty(message.PropertyTransactionCheckTimes, strconv.Itoa(checks))
		msg.SetProperty(PropertyOrigin, strconv.FormatInt(e.halfOffset, 10))
		app, err := s.store.Append(msg)
		if err != nil {
			s.mu.Lock()
			s.open[e.queueOffset] = e
			s.states.set(e.queueOffset, stateOpen)
			s.mu.Unlock()
			return fmt.Errorf("txn: append discarded message: %w", err)
		}
		s.noteSeen(app.PhysicalOffset)
	}
	s.ops.add(e.queueOffset, EndDiscard, 1<<63-1)
	return nil
}
