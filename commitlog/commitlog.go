package commitlog

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mqstore/mqstore/internal/mapped"
	"github.com/mqstore/mqstore/message"
)

// Errors returned by the commitlog, grouped by when they occur.
var (
	// ErrClosed: the commitlog was closed.
	ErrClosed = errors.New("commitlog: closed")

	// ErrMessageTooLarge: the body is larger than MaxMessageSize or the record cannot fit a segment.
	ErrMessageTooLarge = errors.New("commitlog: message too large")
	// ErrEmptyBatch: AppendBatch was given no messages.
	ErrEmptyBatch = errors.New("commitlog: empty batch")
	// ErrFlushTimeout: under SyncFlush the record was stored but no sync covered it within
	// SyncFlushTimeout. The record may or may not survive a machine crash.
	ErrFlushTimeout = errors.New("commitlog: flush timeout")
	// ErrFlush: an msync of the log failed. The failure is sticky: the flushed offset stops
	// where it was, appends waiting for a sync fail with it, and every later append is refused
	// with it (wrapping the first error) until the log is reopened. See CommitLog.Err.
	ErrFlush = errors.New("commitlog: flush failed")

	// ErrOffset: a read asked for an offset that is not in the log (deleted or not yet written).
	ErrOffset = errors.New("commitlog: offset out of range")
)

// queueKey identifies a topic queue in the queue-offset table.
type queueKey struct {
	topic   string
	queueID int32
}

// AppendResult describes a stored record.
type AppendResult struct {
	// PhysicalOffset is the record's global offset in the commitlog.
	PhysicalOffset int64
	// Size is the record's length in bytes.
	Size int32
	// QueueOffset is the record's logical offset in its topic queue (0 for prepared and
	// rollback transaction records, which get no queue offset).
	QueueOffset int64
	// StoreTimestamp is the broker time (ms) stamped while the append lock was held.
	StoreTimestamp int64
	// StoreHost is the host the record was stamped with; with PhysicalOffset it makes the msg id.
	StoreHost netip.AddrPort
}

// End is the offset one past the record.
func (r AppendResult) End() int64 { return r.PhysicalOffset + int64(r.Size) }

// MsgID returns RocketMQ's offset message id (store host + physical offset, uppercase hex).
func (r AppendResult) MsgID() string { return message.OffsetMsgID(r.StoreHost, r.PhysicalOffset) }

// AppendMsgID appends the offset message id to dst without allocating.
func (r AppendResult) AppendMsgID(dst []byte) []byte {
	return message.AppendOffsetMsgID(dst, r.StoreHost, r.PhysicalOffset)
}

// Stats are running counters.
type Stats struct {
	Appends      int64 // records appended
	AppendBytes  int64 // bytes appended, blank records excluded
	Syncs        int64 // msync rounds that moved the flushed offset
	Rolls        int64 // segment switches
	MaxRollNanos int64 // the longest time one append spent rolling to a new segment
}

// CommitLog is the append-only log of every message, kept in fixed-size memory-mapped segments.
//
// Appends are safe for concurrent use. Records are encoded (body CRC included) outside the append
// lock; under it the physical offset, queue offset and store timestamp are assigned and the bytes
// copied into the mapping. Readers read published bytes concurrently with appends.
type CommitLog struct {
	dir   string
	opts  Options
	queue *mapped.Queue

	// mu is the append lock. It guards queueOffsets and serialises writes to the newest segment.
	mu sync.Mutex
	// queueOffsets maps a topic queue to its next queue offset.
	queueOffsets map[queueKey]int64

	appends      atomic.Int64
	appendBytes  atomic.Int64
	syncs        atomic.Int64
	rolls        atomic.Int64
	maxRollNanos atomic.Int64

	// notify receives a token after appends so a dispatcher can wake up.
	notify chan struct{}

	flusher *flusher // nil for a view
	closed  atomic.Bool
	// view is set for a read-only view over segments another owner writes (OpenView).
	view *view
}

// Open opens the commitlog in dir (creating it if needed), recovers its tail (see Recover) and
// starts the flusher.
func Open(dir string, opts Options) (*CommitLog, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	q, err := mapped.OpenQueue(dir, mapped.QueueOptions{
		FS:             opts.FS,
		FileSize:       opts.SegmentSize,
		Preallocate:    !opts.NoPreallocate,
		Warm:           !opts.NoWarm,
		HugePages:      !opts.NoHugePages && opts.FlushMode == AsyncFlush,
		BackgroundNice: opts.BackgroundNice,
	})
	if err != nil {
		return nil, fmt.Errorf("commitlog: open %s: %w", dir, err)
	}
	c := &CommitLog{
		dir:          dir,
		opts:         opts,
		queue:        q,
		queueOffsets: make(map[queueKey]int64),
		notify:       make(chan struct{}, 1),
	}
	if _, err := c.recover(opts.RecoverFrom); err != nil {
		q.Close()
		return nil, err
	}
	c.flusher = startFlusher(c)
	return c, nil
}

// Prepare readies the segment the next append goes to, so that append neither creates nor
// faults in a file: an empty log gets its first segment now (created, synced and named durably,
// empty), and the segment after the newest is preallocated and the window after the write
// position warmed in the background (as configured). Call it before the first append (a store
// does at Open); it is harmless later. An error (a full disk) leaves the log as it was: the next
// append tries again and reports its own error. A view has nothing to prepare.
func (c *CommitLog) Prepare() error {
	if c.closed.Load() {
		return ErrClosed
	}
	if c.view != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.queue.Prepare(0); err != nil {
		return fmt.Errorf("commitlog: prepare: %w", err)
	}
	return nil
}

// Dir returns the commitlog directory.
func (c *CommitLog) Dir() string { return c.dir }

// Options returns the effective options (defaults filled in).
func (c *CommitLog) Options() Options { return c.opts }

// MinOffset is the offset of the oldest byte still in the log (0 when empty).
func (c *CommitLog) MinOffset() int64 {
	if c.view != nil {
		floor := c.view.floor.Load()
		if f := c.queue.First(); f != nil && f.FromOffset() > floor {
			return f.FromOffset()
		}
		return floor
	}
	if f := c.queue.First(); f != nil {
		return f.FromOffset()
	}
	return 0
}

// MaxOffset is the offset one past the last published record (a view's visible bound).
func (c *CommitLog) MaxOffset() int64 { return c.limit() }

// FlushedOffset is the offset up to which the log is known durable (a view: its visible bound,
// which its owner synced before it made it visible).
func (c *CommitLog) FlushedOffset() int64 {
	if c.view != nil {
		return c.view.visible.Load()
	}
	return c.queue.FlushedOffset()
}

// Err returns the sticky flush error (wrapping ErrFlush and the first msync error), or nil
// while every flush succeeded. Once it is set the log refuses appends.
func (c *CommitLog) Err() error {
	if c.flusher == nil {
		return nil
	}
	return c.flusher.failed()
}

// Notify returns a channel that receives a token after appends (coalesced; buffered by one).
func (c *CommitLog) Notify() <-chan struct{} { return c.notify }

// Stats returns the running counters.
func (c *CommitLog) Stats() Stats {
	return Stats{
		Appends:      c.appends.Load(),
		AppendBytes:  c.appendBytes.Load(),
		Syncs:        c.syncs.Load(),
		Rolls:        c.rolls.Load(),
		MaxRollNanos: c.maxRollNanos.Load(),
	}
}

// QueueOffset returns the next queue offset of a topic queue.
func (c *CommitLog) QueueOffset(topic string, queueID int32) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.queueOffsets[queueKey{topic, queueID}]
}

// SetQueueOffset sets the next queue offset of a topic queue (the store rebuilds the table from
// its consume queues after recovery).
func (c *CommitLog) SetQueueOffset(topic string, queueID int32, next int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.queueOffsets[queueKey{topic, queueID}] = next
}

// RemoveQueueOffsets forgets the queue offsets of a topic (topic deletion).
func (c *CommitLog) RemoveQueueOffsets(topic string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.queueOffsets {
		if k.topic == topic {
			delete(c.queueOffsets, k)
		}
	}
}

// getsQueueOffset reports whether a record with this sysflag gets a queue offset: only normal and
// committed transaction records do; prepared and rollback records get 0 and no consume-queue unit.
func getsQueueOffset(sysFlag int32) bool {
	t := message.TransactionType(sysFlag)
	return t == message.TransactionNotType || t == message.TransactionCommitType
}

// Append stores m and returns where it went. Under SyncFlush it returns after a sync covering
// the record (or ErrFlushTimeout, with the result filled in: the record is stored).
func (c *CommitLog) Append(m *message.Message) (AppendResult, error) {
	res, err := c.store(m)
	if err != nil {
		return res, err
	}
	if c.opts.FlushMode == SyncFlush {
		return res, c.flusher.waitFlushed(res.End())
	}
	return res, nil
}

// AppendAsync stores m like Append but does not wait for durability. If the record cannot be
// stored it returns the error and never calls done. Otherwise done is called exactly once: under
// AsyncFlush before AppendAsync returns; under SyncFlush once a sync covers the record (nil),
// or with ErrFlushTimeout, ErrFlush or ErrClosed, from the flusher's goroutine or, when a sync
// already covered it, before AppendAsync returns. done must not block: it runs on the flusher.
func (c *CommitLog) AppendAsync(m *message.Message, done func(AppendResult, error)) error {
	res, err := c.store(m)
	if err != nil {
		return err
	}
	if c.opts.FlushMode != SyncFlush {
		done(res, nil)
		return nil
	}
	c.flusher.notifyFlushed(res, done)
	return nil
}

// store encodes m outside the append lock and appends it.
func (c *CommitLog) store(m *message.Message) (AppendResult, error) {
	if c.closed.Load() {
		return AppendResult{}, ErrClosed
	}
	if c.view != nil {
		return AppendResult{}, ErrView
	}
	if err := c.flusher.failed(); err != nil {
		return AppendResult{}, err
	}
	if len(m.Body) > c.opts.MaxMessageSize {
		return AppendResult{}, fmt.Errorf("%w: body of %d bytes exceeds %d", ErrMessageTooLarge, len(m.Body), c.opts.MaxMessageSize)
	}
	if !m.StoreHost.IsValid() {
		m.StoreHost = c.opts.StoreHost
	}
	size := message.RecordSize(m)
	if int64(size)+message.BlankRecordMinSize > c.opts.SegmentSize {
		return AppendResult{}, fmt.Errorf("%w: record of %d bytes does not fit a segment", ErrMessageTooLarge, size)
	}
	buf := getBuffer(size)
	rec, err := message.AppendRecord((*buf)[:0], m)
	if err != nil {
		putBuffer(buf)
		return AppendResult{}, fmt.Errorf("commitlog: encode: %w", err)
	}
	*buf = rec
	res, err := c.appendEncoded(rec, m.Topic, m.QueueID, m.SysFlag, m.StoreHost)
	putBuffer(buf)
	if err != nil {
		return res, err
	}
	c.signal()
	return res, nil
}

// appendEncoded copies one encoded record into the log under the append lock.
func (c *CommitLog) appendEncoded(rec []byte, topic string, queueID, sysFlag int32, host netip.AddrPort) (AppendResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Load() {
		return AppendResult{}, ErrClosed
	}
	f, err := c.segmentForLocked(len(rec))
	if err != nil {
		return AppendResult{}, err
	}
	key := queueKey{topic, queueID}
	var queueOffset int64
	assign := getsQueueOffset(sysFlag)
	if assign {
		queueOffset = c.queueOffsets[key]
	}
	physical := f.FromOffset() + f.WrotePosition()
	now := c.opts.Now().UnixMilli()
	// Patch the private buffer, then copy: the mapping never holds a record whose offsets are
	// not yet filled in, even for an instant a crash could catch.
	message.PatchRecord(rec, queueOffset, physical, now)
	copy(f.Reserve(len(rec)), rec)
	f.Publish(len(rec))
	if assign {
		c.queueOffsets[key] = queueOffset + 1
	}
	c.appends.Add(1)
	c.appendBytes.Add(int64(len(rec)))
	return AppendResult{
		PhysicalOffset: physical,
		Size:           int32(len(rec)),
		QueueOffset:    queueOffset,
		StoreTimestamp: now,
		StoreHost:      host,
	}, nil
}

// segmentForLocked returns the newest segment with room for n bytes plus a blank record, closing
// the current one with a blank record and rolling when it is too full.
func (c *CommitLog) segmentForLocked(n int) (*mapped.File, error) {
	f, err := c.queue.LastOrCreate(0)
	if err != nil {
		return nil, fmt.Errorf("commitlog: %w", err)
	}
	if f.Remaining() >= int64(n)+message.BlankRecordMinSize {
		return f, nil
	}
	start := time.Now()
	if rest := f.Remaining(); rest > 0 {
		dst := f.Reserve(int(rest))
		message.AppendBlankRecord(dst[:0], int(rest))
		f.Publish(int(rest))
	}
	f, err = c.queue.Roll(0)
	if err != nil {
		return nil, fmt.Errorf("commitlog: roll: %w", err)
	}
	c.rolls.Add(1)
	if d := time.Since(start).Nanoseconds(); d > c.maxRollNanos.Load() {
		c.maxRollNanos.Store(d)
	}
	return f, nil
}

func (c *CommitLog) signal() {
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

// AppendBatch stores the messages with one acquisition of the append lock, contiguously in one
// segment, and returns their results in order. Under SyncFlush it returns after one sync covering
// all of them.
func (c *CommitLog) AppendBatch(msgs []*message.Message) ([]AppendResult, error) {
	if c.closed.Load() {
		return nil, ErrClosed
	}
	if c.view != nil {
		return nil, ErrView
	}
	if err := c.flusher.failed(); err != nil {
		return nil, err
	}
	if len(msgs) == 0 {
		return nil, ErrEmptyBatch
	}
	total := 0
	for _, m := range msgs {
		if len(m.Body) > c.opts.MaxMessageSize {
			return nil, fmt.Errorf("%w: body of %d bytes exceeds %d", ErrMessageTooLarge, len(m.Body), c.opts.MaxMessageSize)
		}
		if !m.StoreHost.IsValid() {
			m.StoreHost = c.opts.StoreHost
		}
		total += message.RecordSize(m)
	}
	if int64(total)+message.BlankRecordMinSize > c.opts.SegmentSize {
		return nil, fmt.Errorf("%w: batch of %d bytes does not fit a segment", ErrMessageTooLarge, total)
	}
	buf := getBuffer(total)
	defer putBuffer(buf)
	enc := (*buf)[:0]
	sizes := make([]int, len(msgs))
	for i, m := range msgs {
		before := len(enc)
		var err error
		enc, err = message.AppendRecord(enc, m)
		if err != nil {
			return nil, fmt.Errorf("commitlog: encode message %d: %w", i, err)
		}
		sizes[i] = len(enc) - before
	}
	*buf = enc
	results := make([]AppendResult, len(msgs))
	if err := c.appendBatchEncoded(enc, msgs, sizes, nil, results); err != nil {
		return nil, err
	}
	c.signal()
	if c.opts.FlushMode == SyncFlush {
		last := results[len(results)-1]
		return results, c.flusher.waitFlushed(last.End())
	}
	return results, nil
}

// appendBatchEncoded copies encoded records into the log under the append lock, patching their
// offsets and store time: the clock's, or stamps[i] when stamps is not nil.
func (c *CommitLog) appendBatchEncoded(enc []byte, msgs []*message.Message, sizes []int, stamps []int64, results []AppendResult) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Load() {
		return ErrClosed
	}
	f, err := c.segmentForLocked(len(enc))
	if err != nil {
		return err
	}
	base := f.FromOffset() + f.WrotePosition()
	now := c.opts.Now().UnixMilli()
	pos := 0
	for i, m := range msgs {
		key := queueKey{m.Topic, m.QueueID}
		var queueOffset int64
		assign := getsQueueOffset(m.SysFlag)
		if assign {
			queueOffset = c.queueOffsets[key]
			c.queueOffsets[key] = queueOffset + 1
		}
		stamp := now
		if stamps != nil {
			stamp = stamps[i]
		}
		message.PatchRecord(enc[pos:pos+sizes[i]], queueOffset, base+int64(pos), stamp)
		results[i] = AppendResult{
			PhysicalOffset: base + int64(pos),
			Size:           int32(sizes[i]),
			QueueOffset:    queueOffset,
			StoreTimestamp: stamp,
			StoreHost:      m.StoreHost,
		}
		pos += sizes[i]
	}
	copy(f.Reserve(len(enc)), enc) // patched first, as in appendEncoded
	f.Publish(len(enc))
	c.appends.Add(int64(len(msgs)))
	c.appendBytes.Add(int64(len(enc)))
	return nil
}

// AppendEncoded stores a run of records already encoded and stamped elsewhere (a replicated
// group's committed entry): each keeps its store timestamp and every byte but its QUEUEOFFSET
// and PHYSICALOFFSET, which this log assigns as for any append. Applied in the same order on
// every replica of a group, they land at the same offsets. recs is not modified.
func (c *CommitLog) AppendEncoded(recs []byte) ([]AppendResult, error) {
	if c.closed.Load() {
		return nil, ErrClosed
	}
	if c.view != nil {
		return nil, ErrView
	}
	if err := c.flusher.failed(); err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, ErrEmptyBatch
	}
	if int64(len(recs))+message.BlankRecordMinSize > c.opts.SegmentSize {
		return nil, fmt.Errorf("%w: records of %d bytes do not fit a segment", ErrMessageTooLarge, len(recs))
	}
	var (
		msgs   []*message.Message
		sizes  []int
		stamps []int64
		rec    message.Record
	)
	for pos := 0; pos < len(recs); {
		n, err := message.DecodeRecord(recs[pos:], &rec, false)
		if err != nil {
			return nil, fmt.Errorf("commitlog: encoded record at %d: %w", pos, err)
		}
		msgs = append(msgs, &message.Message{Topic: string(rec.Topic), QueueID: rec.QueueID, SysFlag: rec.SysFlag, StoreHost: rec.StoreHost})
		sizes = append(sizes, n)
		stamps = append(stamps, rec.StoreTimestamp)
		pos += n
	}
	buf := getBuffer(len(recs))
	defer putBuffer(buf)
	enc := append((*buf)[:0], recs...)
	*buf = enc
	results := make([]AppendResult, len(msgs))
	if err := c.appendBatchEncoded(enc, msgs, sizes, stamps, results); err != nil {
		return nil, err
	}
	c.signal()
	return results, nil
}

// WaitFlushed blocks until the log is durable up to offset (SyncFlush semantics, usable in any
// mode: it asks the flusher for a sync). It returns ErrFlushTimeout after SyncFlushTimeout.
func (c *CommitLog) WaitFlushed(offset int64) error {
	if c.view != nil {
		return nil // the owner syncs before it makes records visible
	}
	return c.flusher.waitFlushed(offset)
}

// Flush syncs everything appended so far and returns the flushed offset.
func (c *CommitLog) Flush() (int64, error) {
	if c.view != nil {
		return c.view.visible.Load(), nil
	}
	return c.flusher.flushNow()
}

// DeleteExpired deletes segments (never the newest) last written before now - reserved, at most
// max per call (max <= 0: no limit). A segment a reader still holds disappears from disk when the
// reader releases it. It returns the number of segments deleted.
func (c *CommitLog) DeleteExpired(reserved time.Duration, max int) (int, error) {
	if c.view != nil {
		return 0, nil // retention of a view goes through its owner
	}
	n, err := c.queue.DeleteOlderThan(c.opts.Now().Add(-reserved), max)
	if err != nil {
		return n, fmt.Errorf("commitlog: delete expired: %w", err)
	}
	return n, nil
}

// DeleteOldest deletes up to max of the oldest segments (never the newest), whatever their age:
// used when the disk is too full.
func (c *CommitLog) DeleteOldest(max int) (int, error) {
	if c.view != nil {
		return 0, nil
	}
	n, err := c.queue.DeleteFront(max, func(*mapped.File) bool { return true })
	if err != nil {
		return n, fmt.Errorf("commitlog: delete: %w", err)
	}
	return n, nil
}

// Segments returns the number of segment files.
func (c *CommitLog) Segments() int { return len(c.queue.Files()) }

// Close flushes, stops the flusher and unmaps every segment (segments held by readers are
// unmapped when released). Later calls return ErrClosed.
func (c *CommitLog) Close() error {
	if !c.closed.CompareAndSwap(false, true) {
		return ErrClosed
	}
	if c.view != nil {
		return nil // the owner closes the segments
	}
	// Wait for in-flight appends (they hold mu) before the final flush.
	c.mu.Lock()
	c.mu.Unlock() // an empty critical section: a barrier for appenders
	ferr := c.flusher.close()
	qerr := c.queue.Close()
	if ferr != nil {
		return ferr
	}
	return qerr
}
