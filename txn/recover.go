package txn

import (
	"math"

	"github.com/mqstore/mqstore/message"
)

// scanChunk is how many consume-queue units recovery collects per ScanQueue
// call before reading their records (records are never read inside the
// ScanQueue callback).
const scanChunk = 4096

// recover rebuilds the service's tables from the store (New). See
// docs/TRANSACTIONS.md "Recovery" for the argument.
func (s *Service) recover() error {
	st := s.store
	var prog progress
	var haveProgress bool
	if s.opts.Dir != "" {
		var err error
		if prog, haveProgress, err = readProgress(s.opts.FS, s.opts.Dir); err != nil {
			return err
		}
	}
	halfMin, halfMax := st.MinQueueOffset(HalfTopic, 0), st.MaxQueueOffset(HalfTopic, 0)
	opMin, opMax := st.MinQueueOffset(OpTopic, 0), st.MaxQueueOffset(OpTopic, 0)
	halfFrom, opFrom, horizon := halfMin, opMin, int64(0)
	if haveProgress {
		// Clamp to the queues: a store that lost its tail must not leave
		// a watermark above offsets it will hand out again.
		halfFrom = min(max(prog.halfWatermark, halfMin), halfMax)
		opFrom = min(max(prog.opWatermark, opMin), opMax)
		horizon = prog.horizon
	}
	s.ops = newOpWriter(st, s.opts.Now, &s.lastSeen, opMax)
	s.states.base = halfFrom
	s.halfNext = max(halfMax, halfFrom)

	// 1. Op markers from the op watermark on: the outcome of every half
	// message they close; the last one for an offset wins.
	err := scanUnits(st, OpTopic, 0, opFrom, opMax, func(_, physicalOffset int64) bool {
		msg, _, err := st.Read(physicalOffset)
		if err != nil || msg.Tags() != OpTag {
			return true
		}
		end, _ := msg.Property(PropertyEnd)
		o := outcomeOf(end)
		_ = parseOpBody(msg.Body, func(q int64) {
			if q < s.halfNext {
				s.states.set(q, o)
			}
		})
		if v, ok := msg.Properties.Lookup(PropertyHorizon); ok {
			if h, ok := parseDecimal(v); ok {
				horizon = max(horizon, h)
			}
		}
		return true
	})
	if err != nil {
		return err
	}

	// 2. Half messages from the half watermark on that no op closes.
	type unit struct{ q, p int64 }
	var candidates, closed []unit
	err = scanUnits(st, HalfTopic, 0, halfFrom, halfMax, func(q, p int64) bool {
		if o, _ := s.states.get(q); o == stateNone {
			candidates = append(candidates, unit{q, p})
		} else {
			closed = append(closed, unit{q, p})
		}
		return true
	})
	if err != nil {
		return err
	}
	// A resumed copy that already ended still resumed its origin: Resume writes the origin's
	// EndResume marker after appending the copy, so a crash can lose the marker while the copy
	// (and its own outcome) survive. Without this the origin would stay discarded and could be
	// resumed a second time — a duplicate delivery.
	for _, u := range closed {
		if msg, rec, err := st.Read(u.p); err == nil && msg.Topic == HalfTopic && rec.QueueOffset == u.q {
			if v, ok := msg.Properties.Lookup(PropertyOrigin); ok {
				if o, ok := parseDecimal(v); ok {
					s.markResumed(o)
				}
			}
		}
	}
	for _, u := range candidates {
		msg, rec, err := st.Read(u.p)
		e, ok := entryOf(msg, rec, err)
		if !ok || rec.QueueOffset != u.q {
			s.states.set(u.q, stateEnded) // unreadable or not a half message
			continue
		}
		e.opBound = opFrom
		s.open[u.q] = e
		s.states.set(u.q, stateOpen)
		if e.resumedFrom >= 0 {
			s.markResumed(e.resumedFrom)
		}
	}

	// 3. Commits whose op marker was lost: restored messages at or above
	// the horizon in the real queues of the open transactions.
	if err := s.recoverLostCommits(horizon); err != nil {
		return err
	}

	// 4. Check counts.
	if s.opts.Dir != "" {
		cf, err := openCheckFile(s.opts.FS, s.opts.Dir, func(r checkRecord) {
			if e := s.open[r.queueOffset]; e != nil && e.halfOffset == r.halfOffset {
				e.checks, e.lastCheck, e.lastResult = r.count, r.checkTime, r.result
			}
		})
		if err != nil {
			return err
		}
		s.checks = cf
	}
	s.captured = s.captureLocked()
	return nil
}

// entryOf builds the open-transaction entry of a half record read back.
func entryOf(msg *message.Message, rec message.Record, err error) (*entry, bool) {
	if err != nil || msg == nil || msg.Topic != HalfTopic {
		return nil, false
	}
	group, _ := msg.Property(message.PropertyProducerGroup)
	topic, _ := msg.Property(message.PropertyRealTopic)
	qs, _ := msg.Properties.Lookup(message.PropertyRealQueueID)
	qid, ok := parseDecimal(qs)
	if group == "" || topic == "" || !ok || qid > math.MaxInt32 {
		return nil, false
	}
	e := &entry{
		queueOffset:    rec.QueueOffset,
		halfOffset:     rec.PhysicalOffset,
		storeTimestamp: rec.StoreTimestamp,
		group:          group,
		topic:          topic,
		queueID:        int32(qid),
		transactionID:  msg.UniqKey(),
		immunity:       immunityOf(msg.Properties),
		resumedFrom:    -1,
	}
	if e.storeTimestamp <= 0 {
		// A record whose store fields were never patched (see the report of
		// commitlog's copy-then-patch): age it from the producer's clock
		// rather than discard it as 55 years old.
		e.storeTimestamp = rec.BornTimestamp
	}
	// A half message re-put by RocketMQ's check loop carries its count.
	if v, ok := msg.Properties.Lookup(message.PropertyTransactionCheckTimes); ok {
		if n, ok := parseDecimal(v); ok && n <= maxCheckCount {
			e.checks = int(n)
		}
	}
	if v, ok := msg.Properties.Lookup(PropertyOrigin); ok {
		if o, ok := parseDecimal(v); ok {
			e.resumedFrom = o
		}
	}
	return e, true
}

// markResumed records that the half message at commitlog offset origin was
// resumed (its resumed copy is open), writing the op marker again in case
// the crash lost it.
func (s *Service) markResumed(origin int64) {
	msg, rec, err := s.store.Read(origin)
	if err != nil || msg.Topic != HalfTopic {
		return
	}
	q := rec.QueueOffset
	if o, in := s.states.get(q); in {
		if o == stateDiscarded {
			s.states.set(q, stateResumed)
			s.ops.add(q, EndResume, math.MaxInt64)
		}
		return
	}
	// Below the window the op queue has the last word: write the marker
	// again (a duplicate is harmless; the newest op for an offset wins).
	s.resumed[q] = struct{}{}
	s.ops.add(q, EndResume, math.MaxInt64)
}

// recoverLostCommits finds, for the open transactions, committed messages
// (transaction type COMMIT, PreparedTransactionOffset = the half offset) at
// or above the horizon in their real queues, closes those transactions and
// queues their op markers again.
func (s *Service) recoverLostCommits(horizon int64) error {
	type queueKey struct {
		topic string
		id    int32
	}
	groups := make(map[queueKey]map[int64]*entry)
	for _, e := range s.open {
		k := queueKey{e.topic, e.queueID}
		if groups[k] == nil {
			groups[k] = make(map[int64]*entry)
		}
		groups[k][e.halfOffset] = e
	}
	for k, byHalf := range groups {
		start := int64(math.MaxInt64)
		for h := range byHalf {
			start = min(start, h)
		}
		start = max(start, horizon) // a restored message follows its half message
		from := s.firstUnitAtOrAfter(k.topic, k.id, start)
		err := scanUnits(s.store, k.topic, k.id, from, s.store.MaxQueueOffset(k.topic, k.id), func(_, p int64) bool {
			if p < start {
				return true
			}
			_, rec, err := s.store.Read(p)
			if err != nil || message.TransactionType(rec.SysFlag) != message.TransactionCommitType {
				return true
			}
			e := byHalf[rec.PreparedTransactionOffset]
			if e == nil {
				return true
			}
			delete(byHalf, rec.PreparedTransactionOffset)
			delete(s.open, e.queueOffset)
			s.states.set(e.queueOffset, stateCommitted)
			s.ops.add(e.queueOffset, EndCommit, p)
			return len(byHalf) > 0
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// firstUnitAtOrAfter returns the smallest queue offset of topic/id whose
// unit points at commitlog offset physicalOffset or later (binary search;
// the queue's max offset when none does).
func (s *Service) firstUnitAtOrAfter(topic string, id int32, physicalOffset int64) int64 {
	lo, hi := s.store.MinQueueOffset(topic, id), s.store.MaxQueueOffset(topic, id)
	for lo < hi {
		mid := lo + (hi-lo)/2
		p := int64(-1)
		_ = s.store.ScanQueue(topic, id, mid, func(_, physical int64, _ int32) bool {
			p = physical
			return false
		})
		if p >= 0 && p < physicalOffset {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

// scanUnits calls fn for the units of topic/id with queue offsets in
// [from, to), in order, while fn returns true. Units are gathered
// scanChunk at a time, so fn may read the store.
func scanUnits(st Store, topic string, id int32, from, to int64, fn func(queueOffset, physicalOffset int64) bool) error {
	type unit struct{ q, p int64 }
	buf := make([]unit, 0, min(scanChunk, max(to-from, 0)))
	for from < to {
		buf = buf[:0]
		err := st.ScanQueue(topic, id, from, func(q, p int64, _ int32) bool {
			if q >= to {
				return false
			}
			buf = append(buf, unit{q, p})
			return len(buf) < scanChunk
		})
		if err != nil {
			return &scanError{topic: topic, err: err}
		}
		if len(buf) == 0 {
			return nil
		}
		for _, u := range buf {
			if !fn(u.q, u.p) {
				return nil
			}
		}
		from = buf[len(buf)-1].q + 1
	}
	return nil
}

type scanError struct {
	topic string
	err   error
}

func (e *scanError) Error() string { return "txn: scan queue " + e.topic + ": " + e.err.Error() }
func (e *scanError) Unwrap() error { return e.err }

// lookupOutcome finds the outcome of a half-queue offset below the window
// in the op queue, newest op message first (stateEnded when none names it:
// below the window every offset is closed).
func (s *Service) lookupOutcome(q int64) outcome {
	lo, hi := s.store.MinQueueOffset(OpTopic, 0), s.store.MaxQueueOffset(OpTopic, 0)
	const step = 256
	for hi > lo {
		from := max(lo, hi-step)
		var phys []int64
		_ = scanUnits(s.store, OpTopic, 0, from, hi, func(_, p int64) bool {
			phys = append(phys, p)
			return true
		})
		for i := len(phys) - 1; i >= 0; i-- {
			msg, _, err := s.store.Read(phys[i])
			if err != nil || msg.Tags() != OpTag {
				continue
			}
			found := false
			_ = parseOpBody(msg.Body, func(v int64) { found = found || v == q })
			if found {
				end, _ := msg.Property(PropertyEnd)
				return outcomeOf(end)
			}
		}
		hi = from
	}
	return stateEnded
}
