package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mqstore/mqstore/commitlog"
	"github.com/mqstore/mqstore/consumequeue"
	"github.com/mqstore/mqstore/internal/vfs"
	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/timer"
	"github.com/mqstore/mqstore/txn"
)

// Timer messages and delay levels: one mechanism (RocketMQ 5's timing wheel).
//
// Put: a message that asks for a delivery time — TIMER_DELIVER_MS or __STARTDELIVERTIME
// (absolute, ms), TIMER_DELAY_SEC or TIMER_DELAY_MS (relative to the put), or a delay level
// DELAY=n (the n-th of Options.DelayLevels; a level wins over timer properties, as RocketMQ) —
// and is due later than now is stored under TimerTopic, queue 0, with its destination in
// REAL_TOPIC/REAL_QID and its due time in TIMER_OUT_MS. Dispatch writes the due time into the
// unit's tags field, so the wheel never reads the commitlog to schedule. A delivery time more
// than TimerOptions.MaxDelay ahead, an unparsable one, or one on a transactional half message is
// refused with ErrMessageIllegal.
//
// Service: one goroutine moves the units of the timer queue — and of the SCHEDULE_TOPIC_XXXX
// queues that stores written before kept their delay-level messages in — into the timing wheel
// (package timer), fires each tick once the clock reaches it, and delivers the fired messages:
// a copy is appended to REAL_TOPIC/REAL_QID with the timer properties and DELAY removed, in due
// order. A unit whose tick was already fired when it reaches the wheel is delivered at once.
// Progress is the timer checkpoint (timer/checkpoint.json); docs/FORMAT.md, "Timer messages",
// argues why a timer is delivered after a crash, never early, and duplicated only if it fired
// in the last checkpoint interval before the crash.
//
// Roll (RocketMQ 5's timerRollWindowSlot): retention removes a commitlog segment some
// FileReservedTime after its last write, whatever timers its records hold. A timer due more than
// the roll window (TimerOptions.RollWindow, at most FileReservedTime/2) after its record was
// stored enters the wheel at the window's end instead; when that tick fires, its record's
// TIMER_OUT_MS is still ahead, so the service appends the record again under TimerTopic
// (TIMER_ROLL_TIMES + 1, everything else as it was: the consumer sees the message's own msgId
// and properties) instead of delivering it, and the new record enters the wheel in turn. So a
// pending timer's record is never older than the window, and only the pending timers are copied,
// not the segments that hold them. Retention forced by disk usage (DiskMaxUsedRatio) can still
// remove a young record; that timer is skipped when due.

// TimerTopic holds timer messages until they are due (RocketMQ 5's TimerMessageStore.TIMER_TOPIC).
const TimerTopic = "rmq_sys_wheel_timer"

// Bounds of the timer service's work per pass, so a large backlog does not starve the others.
const (
	timerEnqueueBatch = 4096
	timerTicksPerPass = 1024
	timerIdle         = time.Second
	timerRetry        = time.Second
	// delayOffsetFile is the broker's delay-level progress (RocketMQ's delayOffset.json), read
	// once to migrate a store that had no timer checkpoint.
	delayOffsetFile = "delayOffset.json"
)

// TimerStats are the timer service's counters (RocketMQ 5's timer metrics).
type TimerStats struct {
	// Pending is the number of timers in the wheel (rocketmq_timing_messages).
	Pending int64
	// EnqueueLag is the number of timer-queue units not yet moved into the wheel
	// (rocketmq_timer_enqueue_lag).
	EnqueueLag int64
	// DequeueLag is how far behind the clock the wheel fires (rocketmq_timer_dequeue_lag, here
	// in time; 0 when on time).
	DequeueLag time.Duration
	// Enqueued counts units moved into the wheel (rocketmq_timer_enqueue_total).
	Enqueued int64
	// Fired counts delivered timers (rocketmq_timer_dequeue_total; its rate is fired per second).
	Fired int64
	// Skipped counts fired timers that could not be delivered (record gone to retention, no or a
	// bad REAL_TOPIC, refused as illegal).
	Skipped int64
	// Rolled counts timers whose record was appended again because they were due beyond the
	// roll window (mqstore_timer_rolled_total).
	Rolled int64
}

// timerSource is a consume queue whose units are timers (tags = due time in ms).
type timerSource struct {
	topic   string
	queueID int32
}

func (src timerSource) key() string { return src.topic + "/" + strconv.Itoa(int(src.queueID)) }

// timerSnapshot is a checkpoint waiting for the copies it covers to be flushed.
type timerSnapshot struct {
	cp           timer.Checkpoint
	deliveredEnd int64
}

// timerService is the goroutine of the timing wheel. Fields without a comment are owned by that
// goroutine (and by Open/Close while it does not run).
type timerService struct {
	s     *Store
	opts  TimerOptions
	dir   string
	wheel *timer.Wheel
	// current is wheel for readers on other goroutines (TimerStats): restart replaces it.
	current atomic.Pointer[timer.Wheel]
	// restartAt is 1 + the offset a replicated store restarted at (RestartAt), 0 when none is
	// waiting: the goroutine rebuilds the wheel at its next pass (restart).
	restartAt atomic.Int64

	sources     []timerSource
	offsets     map[string]int64 // next unit of each source to move into the wheel
	replayUntil map[string]int64 // units below were moved before the log was lost (rebuild)
	// deliveredEnd bounds the end of every copy appended so far.
	deliveredEnd int64
	written      timer.Checkpoint // the checkpoint on disk
	waiting      *timerSnapshot
	lastCheck    time.Time
	lastRescan   time.Time
	buf          []timer.Entry
	sticky       error // first error of a checkpoint or delivery, reported by Close
	broken       bool  // restart failed: no wheel; the service idles until Close
	rollMs       int64 // the roll window in ms; 0: no roll

	mu            sync.Mutex // guards published
	published     map[string]int64
	enqueued      atomic.Int64
	fired         atomic.Int64
	skipped       atomic.Int64
	rolled        atomic.Int64
	dequeueLagMs  atomic.Int64
	lastOffsetMax atomic.Int64 // sum of source max offsets at the last pass
}

// openTimer opens the timer files and links the pending timers (Open calls it after recovery).
func (s *Store) openTimer() error {
	o := s.opts.Timer
	if o.FS == nil {
		o.FS = s.opts.FS // the store's seam covers the timer files too
	}
	o = o.withDefaults()
	t := &timerService{
		s:           s,
		opts:        o,
		dir:         filepath.Join(s.dir, "timer"),
		replayUntil: map[string]int64{},
		published:   map[string]int64{},
	}
	if roll := min(o.RollWindow, s.opts.FileReservedTime/2); roll >= o.Precision {
		t.rollMs = roll.Milliseconds()
	}
	if err := vfs.MkdirAllSync(o.FS, t.dir, 0o755); err != nil {
		return fmt.Errorf("store: timer: %w", err)
	}
	cp, found, err := timer.ReadCheckpoint(o.FS, t.dir)
	if err != nil {
		return fmt.Errorf("store: %w (remove %s to rebuild it: due timers are then delivered again)", err, t.dir)
	}
	if !found {
		p := o.Precision.Milliseconds()
		cp.FiredMs = o.Now().UnixMilli()/p*p - p
		s.migrateDelayOffsets(cp.Sources)
	}
	t.offsets = cp.Sources
	t.replayUntil = cp.Replay
	if t.replayUntil == nil {
		t.replayUntil = map[string]int64{}
	}
	t.rescanSources()
	for _, src := range t.sources {
		// A crash of the machine can take units the checkpoint counted (their records were not
		// flushed): new units then take those offsets, and must not be skipped.
		if q := s.queues.Get(src.topic, src.queueID); q != nil {
			t.offsets[src.key()] = min(t.offsets[src.key()], q.MaxOffset())
		}
	}
	end, start := s.commitLog.MaxOffset(), s.commitLog.MinOffset()
	keep := func(e timer.Entry) bool {
		return e.CommitLogOffset >= start && e.CommitLogOffset+int64(e.Size) <= end
	}
	wo := o.wheelOptions()
	t.wheel, err = timer.Open(t.dir, wo, cp, keep)
	if errors.Is(err, timer.ErrCorrupt) {
		// The log is derived data: drop it and move every retained unit into the wheel again;
		// units the checkpoint counted whose tick was fired are skipped, not delivered twice.
		// The checkpoint says so first, so a crash during the rebuild rebuilds again.
		for k, off := range t.offsets {
			t.replayUntil[k] = max(t.replayUntil[k], off)
		}
		t.offsets = map[string]int64{}
		cp = timer.Checkpoint{FiredMs: cp.FiredMs, Sources: t.offsets, Replay: maps.Clone(t.replayUntil)}
		if err = timer.RemoveLog(o.FS, t.dir); err == nil {
			if err = timer.WriteCheckpoint(o.FS, t.dir, cp); err == nil {
				t.wheel, err = timer.Open(t.dir, wo, cp, keep)
			}
		}
	}
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	t.written = cp
	t.current.Store(t.wheel)
	t.publish()
	s.timer = t
	return nil
}

// restartTimers has the timer service rebuild its wheel after the store restarted at offset
// (RestartAt); the dispatch round RestartAt closes wakes it.
func (s *Store) restartTimers(offset int64) {
	if s.timer != nil {
		s.timer.restartAt.Store(offset + 1)
	}
}

// restart rebuilds the wheel from what the store holds after it restarted at floor (a replica
// that installed a snapshot, RestartAt): every timer in the wheel came from a record of a
// committed entry before the snapshot, below floor, which the store no longer holds, so the
// wheel starts empty (the timers it held count as skipped, as a fired timer whose record
// retention took), the fired tick stays, and every source is read again from its queue's new
// start (the snapshot's queue offset: the units after it are the records the store holds).
// Without it those timers would stay pending until due and then be skipped (on a follower once
// per retry of their tick), and a reopen would drop them uncounted.
func (t *timerService) restart(floor int64) error {
	dropped := t.wheel.Pending()
	cp := timer.Checkpoint{FiredMs: t.wheel.FiredMs(), Sources: map[string]int64{}}
	if err := t.wheel.Close(); err != nil && !errors.Is(err, timer.ErrClosed) {
		return fmt.Errorf("store: timer: restart at %d: %w", floor, err)
	}
	err := timer.WriteCheckpoint(t.opts.FS, t.dir, cp)
	if err == nil {
		err = timer.RemoveLog(t.opts.FS, t.dir)
	}
	var w *timer.Wheel
	if err == nil {
		w, err = timer.Open(t.dir, t.opts.wheelOptions(), cp, func(timer.Entry) bool { return false })
	}
	if err != nil {
		// The goroutine cannot go on without a wheel: the store reports it (Close) and the
		// timers wait for a restart of the process, which rebuilds the wheel (the checkpoint
		// says LogEnd 0).
		return fmt.Errorf("store: timer: restart at %d: %w", floor, err)
	}
	t.wheel = w
	t.current.Store(w)
	t.offsets = cp.Sources
	clear(t.replayUntil)
	t.written = cp
	t.waiting = nil
	t.deliveredEnd = 0
	t.skipped.Add(dropped)
	t.publish()
	return nil
}

// migrateDelayOffsets starts the schedule-queue sources where the broker's delay-level service
// stopped (config/delayOffset.json, {"offsetTable":{"1":12}}: level → next offset).
func (s *Store) migrateDelayOffsets(sources map[string]int64) {
	data, err := s.opts.Timer.withDefaults().FS.ReadFile(filepath.Join(s.dir, "config", delayOffsetFile))
	if err != nil {
		return
	}
	var f struct {
		OffsetTable map[string]int64 `json:"offsetTable"`
	}
	if json.Unmarshal(data, &f) != nil {
		return
	}
	for k, off := range f.OffsetTable {
		if level, err := strconv.Atoi(k); err == nil && level >= 1 && level <= maxDelayLevels && off > 0 {
			sources[timerSource{ScheduleTopic, int32(level - 1)}.key()] = off
		}
	}
}

// rescanSources lists the timer queue and the schedule queues that exist.
func (t *timerService) rescanSources() {
	t.sources = t.sources[:0]
	t.sources = append(t.sources, timerSource{TimerTopic, 0})
	for q := int32(0); q < maxDelayLevels; q++ {
		if t.s.queues.Get(ScheduleTopic, q) != nil {
			t.sources = append(t.sources, timerSource{ScheduleTopic, q})
		}
	}
}

// run is the service goroutine.
func (t *timerService) run() {
	defer t.s.wg.Done()
	clock := time.NewTimer(0)
	defer clock.Stop()
	for {
		t.s.dispatchMu.Lock()
		round := t.s.dispatchRound
		t.s.dispatchMu.Unlock()
		wait := t.pass()
		if wait > 0 {
			clock.Reset(wait)
			select {
			case <-t.s.quit:
				return
			case <-round:
			case <-clock.C:
			}
			continue
		}
		select {
		case <-t.s.quit:
			return
		default:
		}
	}
}

// pass moves new units into the wheel, fires the due ticks and checkpoints; it returns how long
// to sleep (0: more work is waiting).
func (t *timerService) pass() time.Duration {
	if f := t.restartAt.Swap(0); f > 0 {
		if err := t.restart(f - 1); err != nil {
			t.keep(err)
			t.broken = true
		}
	}
	if t.broken {
		return timerIdle
	}
	now := t.opts.Now()
	if now.Sub(t.lastRescan) >= time.Second {
		t.lastRescan = now
		t.rescanSources()
	}
	more := t.enqueue(now.UnixMilli())
	for k, until := range t.replayUntil {
		if t.offsets[k] >= until {
			delete(t.replayUntil, k)
		}
	}
	nowMs := now.UnixMilli()
	fired := 0
	for tick := t.wheel.NextTick(); tick <= nowMs && fired < timerTicksPerPass; tick = t.wheel.NextTick() {
		if err := t.fire(tick); err != nil {
			t.keep(err)
			return timerRetry
		}
		fired++
	}
	next := t.wheel.NextTick()
	t.dequeueLagMs.Store(max(0, nowMs-next))
	t.checkpoint(now, false)
	t.publish()
	if more || next <= nowMs {
		return 0
	}
	return min(time.Duration(next-nowMs)*time.Millisecond, t.opts.CheckpointInterval, timerIdle)
}

func (t *timerService) keep(err error) {
	if errors.Is(err, ErrServiceNotAvailable) {
		return // a replicated store's replica that does not lead: retried, not a failure
	}
	if t.sticky == nil {
		t.sticky = err
	}
}

// enqueue moves up to a batch of units of each source into the wheel and reports whether units
// are left.
func (t *timerService) enqueue(nowMs int64) (more bool) {
	var maxSum int64
	for _, src := range t.sources {
		q := t.s.queues.Get(src.topic, src.queueID)
		if q == nil {
			continue
		}
		key := src.key()
		from := max(t.offsets[key], q.MinOffset())
		maxSum += q.MaxOffset()
		n := 0
		next := from
		var failed error
		q.Units(from, func(qo int64, u consumequeue.Unit) bool {
			if n >= timerEnqueueBatch {
				more = true
				return false
			}
			if !u.IsBlank() {
				e := timer.Entry{DeliverMs: u.TagsCode, CommitLogOffset: u.CommitLogOffset, Size: u.Size}
				if src.topic == TimerTopic { // its records carry TIMER_OUT_MS, which tells a roll from a delivery
					t.rollAt(&e, nowMs)
				}
				err := t.wheel.Add(e)
				switch {
				case errors.Is(err, timer.ErrFired):
					if qo >= t.replayUntil[key] {
						if err := t.deliver(e); err != nil {
							failed = err
							return false
						}
					}
				case errors.Is(err, timer.ErrTooFar):
					return false // the wheel must turn first; this queue waits (head of line)
				case err != nil:
					failed = err
					return false
				default:
					t.enqueued.Add(1)
				}
			}
			n++
			next = qo + 1
			return true
		})
		t.offsets[key] = next
		if failed != nil {
			t.keep(failed)
		}
	}
	t.lastOffsetMax.Store(maxSum)
	return more
}

// rollAt moves e to the end of the roll window when it is due later than that after its record
// was stored (see the top of the file). Only timers due more than half a window from now have
// their record's store time read: a unit reaches the wheel soon after its record was stored
// (a rebuild that reads a day-old unit is the exception).
func (t *timerService) rollAt(e *timer.Entry, nowMs int64) {
	if t.rollMs == 0 || e.DeliverMs-nowMs <= t.rollMs/2 {
		return
	}
	stored, err := t.s.commitLog.StoreTimestamp(e.CommitLogOffset)
	if err == nil && e.DeliverMs > stored+t.rollMs {
		e.DeliverMs = stored + t.rollMs
	}
}

// fire delivers the timers of a tick in due order and turns the wheel past it.
func (t *timerService) fire(tick int64) error {
	t.buf = t.wheel.Entries(tick, t.buf[:0])
	for _, e := range t.buf {
		if err := t.deliver(e); err != nil {
			return err // the tick is fired again: its delivered timers are duplicated
		}
	}
	t.wheel.Fired(tick)
	return nil
}

// deliver appends the copy of the timer at e to its real topic and queue. Timers that cannot be
// delivered (gone, no destination, illegal) are counted and skipped; other errors are returned.
func (t *timerService) deliver(e timer.Entry) error {
	s := t.s
	m, rec, err := s.commitLog.Message(e.CommitLogOffset)
	if err != nil {
		if errors.Is(err, commitlog.ErrOffset) {
			t.skipped.Add(1)
			return nil
		}
		return fmt.Errorf("store: timer: read %d: %w", e.CommitLogOffset, err)
	}
	if out, _ := m.Property(message.PropertyTimerOutMS); rec.TotalSize == e.Size {
		if due, err := strconv.ParseInt(out, 10, 64); err == nil && due > e.DeliverMs && due > t.opts.Now().UnixMilli() {
			return t.roll(m, e)
		}
	}
	topic, _ := m.Property(message.PropertyRealTopic)
	qs, _ := m.Property(message.PropertyRealQueueID)
	qid, qerr := strconv.ParseInt(qs, 10, 32)
	if rec.TotalSize != e.Size || topic == "" || qerr != nil || qid < 0 || ValidateTopic(topic, s.opts.MaxTopicLength) != nil {
		t.skipped.Add(1)
		return nil
	}
	m.Topic = topic
	m.QueueID = int32(qid)
	m.DeleteProperty(message.PropertyDelayLevel)
	for _, name := range message.TimerRequestProperties { // TIMER_OUT_MS stays: when it was due
		m.DeleteProperty(name)
	}
	if !m.StoreHost.IsValid() {
		m.StoreHost = s.opts.StoreHost
	}
	if s.opts.Replicator != nil {
		// A replicated group's copy is an entry like any put: only the ready leader's commits,
		// so only the leader delivers; elsewhere the tick waits (ErrServiceNotAvailable, not
		// an error) and is tried again, and a copy a previous leader delivered is answered by
		// the group's dedupe of (topic, UNIQ_KEY) instead of being stored twice.
		_, err = s.putReplicated([]*message.Message{m}, []int32{int32(qid)})
	} else {
		err = s.commitLog.AppendAsync(m, func(commitlog.AppendResult, error) {})
	}
	switch {
	case err == nil:
	case errors.Is(err, commitlog.ErrMessageTooLarge), errors.Is(err, message.ErrTopicTooLong),
		errors.Is(err, message.ErrRecordTooLarge), errors.Is(err, message.ErrPropertiesTooLong),
		errors.Is(err, ErrMessageIllegal):
		t.skipped.Add(1)
		return nil
	default:
		return fmt.Errorf("store: timer: deliver %d to %s/%d: %w", e.CommitLogOffset, topic, qid, err)
	}
	t.deliveredEnd = s.commitLog.MaxOffset()
	t.fired.Add(1)
	return nil
}

// roll appends the timer record m (read at e, fired at the end of its roll window, due later)
// again: a new record in its own queue, TIMER_ROLL_TIMES + 1, that the wheel schedules anew.
// In a replicated group only the ready leader's put commits (as for a delivery); the group
// keys a roll by its UNIQ_KEY and roll count, so a new leader's roll of the same record is not
// stored twice.
func (t *timerService) roll(m *message.Message, e timer.Entry) error {
	s := t.s
	times, _ := m.Property(message.PropertyTimerRollTimes)
	n, _ := strconv.Atoi(times)
	m.SetProperty(message.PropertyTimerRollTimes, strconv.Itoa(n+1))
	if !m.StoreHost.IsValid() {
		m.StoreHost = s.opts.StoreHost
	}
	var err error
	if s.opts.Replicator != nil {
		_, err = s.putReplicated([]*message.Message{m}, []int32{m.QueueID})
	} else {
		err = s.commitLog.AppendAsync(m, func(commitlog.AppendResult, error) {})
	}
	switch {
	case err == nil:
	case errors.Is(err, commitlog.ErrMessageTooLarge), errors.Is(err, message.ErrRecordTooLarge),
		errors.Is(err, message.ErrPropertiesTooLong), errors.Is(err, ErrMessageIllegal):
		t.skipped.Add(1)
		return nil
	default:
		return fmt.Errorf("store: timer: roll %d: %w", e.CommitLogOffset, err)
	}
	t.deliveredEnd = s.commitLog.MaxOffset()
	t.rolled.Add(1)
	return nil
}

// checkpoint writes the timer checkpoint every CheckpointInterval: the state of the previous
// round once the copies it covers are flushed (so a crash never forgets a fired timer whose copy
// it lost). With force (Close) it waits for the flush and writes the current state.
func (t *timerService) checkpoint(now time.Time, force bool) {
	if !force && now.Sub(t.lastCheck) < t.opts.CheckpointInterval {
		return
	}
	t.lastCheck = now
	cur := timerSnapshot{
		cp: timer.Checkpoint{
			FiredMs: t.wheel.FiredMs(),
			LogEnd:  t.wheel.LogEnd(),
			Sources: maps.Clone(t.offsets),
		},
		deliveredEnd: t.deliveredEnd,
	}
	if len(t.replayUntil) > 0 {
		cur.cp.Replay = maps.Clone(t.replayUntil)
	}
	if force {
		if err := t.s.commitLog.WaitFlushed(cur.deliveredEnd); err != nil {
			t.keep(fmt.Errorf("store: timer checkpoint: %w", err))
			return
		}
		t.waiting = nil
		t.write(cur.cp)
		return
	}
	flushed := t.s.commitLog.FlushedOffset()
	if t.waiting != nil && t.waiting.deliveredEnd <= flushed {
		t.write(t.waiting.cp)
		t.waiting = nil
	}
	if t.waiting == nil && !sameCheckpoint(cur.cp, t.written) {
		if cur.deliveredEnd <= flushed {
			t.write(cur.cp)
		} else {
			t.waiting = &cur
		}
	}
}

func (t *timerService) write(cp timer.Checkpoint) {
	if err := t.wheel.Checkpoint(cp); err != nil {
		t.keep(err)
		return
	}
	t.written = cp
}

func sameCheckpoint(a, b timer.Checkpoint) bool {
	return a.FiredMs == b.FiredMs && a.LogEnd == b.LogEnd && maps.Equal(a.Sources, b.Sources) && maps.Equal(a.Replay, b.Replay)
}

// publish copies the source offsets for readers on other goroutines.
func (t *timerService) publish() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !maps.Equal(t.published, t.offsets) {
		t.published = maps.Clone(t.offsets)
	}
}

// close writes the final checkpoint and closes the files (after the goroutine stopped).
func (t *timerService) close() error {
	if t.broken {
		return t.sticky
	}
	t.checkpoint(time.Now(), true)
	err := t.wheel.Close()
	if t.sticky != nil {
		return t.sticky
	}
	return err
}

// TimerStats returns the timer service's counters.
func (s *Store) TimerStats() TimerStats {
	t := s.timer
	if t == nil {
		return TimerStats{}
	}
	st := TimerStats{
		Pending:    t.current.Load().Pending(),
		DequeueLag: time.Duration(t.dequeueLagMs.Load()) * time.Millisecond,
		Enqueued:   t.enqueued.Load(),
		Fired:      t.fired.Load(),
		Skipped:    t.skipped.Load(),
		Rolled:     t.rolled.Load(),
	}
	t.mu.Lock()
	var moved int64
	for _, off := range t.published {
		moved += off
	}
	t.mu.Unlock()
	st.EnqueueLag = max(0, t.lastOffsetMax.Load()-moved)
	return st
}

// DelayOffsets returns, for each delay level whose schedule queue (SCHEDULE_TOPIC_XXXX, the
// delay-level queue of stores written before timers) holds units, the next offset to move into
// the wheel (GET_ALL_DELAY_OFFSET's table).
func (s *Store) DelayOffsets() map[int]int64 {
	out := map[int]int64{}
	if s.timer == nil {
		return out
	}
	s.timer.mu.Lock()
	defer s.timer.mu.Unlock()
	for k, off := range s.timer.published {
		if rest, ok := strings.CutPrefix(k, ScheduleTopic+"/"); ok {
			if q, err := strconv.Atoi(rest); err == nil {
				out[q+1] = off
			}
		}
	}
	return out
}

// PendingTimer describes the pending timers of a topic.
type PendingTimer struct {
	// Count is the number of timers in the wheel for the topic.
	Count int64
	// NextDue is the due time (ms) of the earliest, 0 when Count is 0.
	NextDue int64
}

// PendingTimers counts the timers in the wheel whose destination is topic. It reads every
// pending timer's record: an admin operation, O(pending), that holds the wheel meanwhile.
func (s *Store) PendingTimers(topic string) PendingTimer {
	var out PendingTimer
	if s.timer == nil {
		return out
	}
	s.timer.wheel.Range(func(e timer.Entry) bool {
		m, _, err := s.commitLog.Message(e.CommitLogOffset)
		if err != nil {
			return true
		}
		if real, _ := m.Property(message.PropertyRealTopic); real == topic {
			if out.Count == 0 || e.DeliverMs < out.NextDue {
				out.NextDue = e.DeliverMs
			}
			out.Count++
		}
		return true
	})
	return out
}

// prepareTimer turns a message that asks for a delivery time into a timer record (checkPut calls
// it). It leaves every other message as it is.
func (s *Store) prepareTimer(m *message.Message) (PutStatus, error) {
	if m.Topic == TimerTopic || m.Topic == ScheduleTopic {
		return PutOK, nil // already a timer record (a replica's, or an embedder's own)
	}
	// One pass over the properties (a put's hot path): the delay level (the last occurrence
	// wins, as in Lookup) and which timer properties are present.
	var delay []byte
	var found [4]bool // of message.TimerRequestProperties
	m.Properties.Range(func(name, value []byte) bool {
		if string(name) == message.PropertyDelayLevel {
			delay = value
			return true
		}
		for i, t := range message.TimerRequestProperties {
			if string(name) == t {
				found[i] = true
			}
		}
		return true
	})
	level := 0
	if delay != nil {
		level, _ = strconv.Atoi(string(delay))
	}
	asked := ""
	for i, name := range message.TimerRequestProperties {
		if found[i] {
			asked = name
			break
		}
	}
	if level <= 0 && asked == "" {
		return PutOK, nil
	}
	tt := message.TransactionType(m.SysFlag)
	if tt == message.TransactionPreparedType || m.Topic == txn.HalfTopic {
		if asked != "" {
			return PutMessageIllegal, fmt.Errorf("%w: a transactional message cannot have a delivery time (%s): timer and transactional messages are exclusive", ErrMessageIllegal, asked)
		}
		return PutOK, nil // a delay level applies when the half message is committed
	}
	if tt == message.TransactionRollbackType {
		return PutOK, nil
	}
	topts := s.opts.Timer.withDefaults()
	now := topts.Now().UnixMilli()
	maxDelayMs := topts.MaxDelay.Milliseconds()
	var deliverMs int64
	if level > 0 {
		// A delay level wins over timer properties (RocketMQ's HookUtils clears them).
		for _, name := range message.TimerProperties {
			m.DeleteProperty(name)
		}
		if n := len(s.opts.DelayLevels); level > n {
			level = n
			m.SetProperty(message.PropertyDelayLevel, strconv.Itoa(level))
		}
		deliverMs = now + s.opts.DelayLevels[level-1].Milliseconds()
	} else {
		if s.opts.Timer.Disabled {
			return PutMessageIllegal, fmt.Errorf("%w: timer messages are disabled (timerWheelEnable=false); %s refused", ErrMessageIllegal, asked)
		}
		v, _ := m.Property(asked)
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || n < 0 {
			return PutMessageIllegal, fmt.Errorf("%w: timer message illegal: %s=%q is not a non-negative integer", ErrMessageIllegal, asked, v)
		}
		switch asked {
		case message.PropertyTimerDelaySec:
			deliverMs = now + min(n, maxDelayMs)*1000 // capped: refused below, without overflow
		case message.PropertyTimerDelayMS:
			deliverMs = now + min(n, maxDelayMs+1)
		default:
			deliverMs = n
		}
		if deliverMs <= now {
			return PutOK, nil // due already: an ordinary message
		}
		if deliverMs-now > maxDelayMs {
			return PutMessageIllegal, fmt.Errorf("%w: timer message illegal: %s=%s is beyond the maximum delay %v from now (timerMaxDelaySec)",
				ErrMessageIllegal, asked, v, topts.MaxDelay)
		}
	}
	m.SetProperty(message.PropertyTimerOutMS, strconv.FormatInt(deliverMs, 10))
	m.SetProperty(message.PropertyRealTopic, m.Topic)
	m.SetProperty(message.PropertyRealQueueID, strconv.Itoa(int(m.QueueID)))
	m.Topic = TimerTopic
	m.QueueID = 0
	return PutOK, nil
}

// timerDeliverTime is the tags field of a TimerTopic unit: TIMER_OUT_MS (0 when absent, so a
// foreign record fires at once).
func timerDeliverTime(r *message.Record) int64 {
	v, _ := r.Properties.Lookup(message.PropertyTimerOutMS)
	n, _ := strconv.ParseInt(bytesString(v), 10, 64)
	return n
}
