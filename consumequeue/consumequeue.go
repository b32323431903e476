package consumequeue

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/mqstore/mqstore/internal/mapped"
	"github.com/mqstore/mqstore/internal/vfs"
)

// MaxUnitsPerFile caps Options.UnitsPerFile (files of at most 1,000,000,000 bytes).
const MaxUnitsPerFile = 50_000_000

// MaxTopicLen caps the length of a topic name (a directory name; RocketMQ's own limit is lower).
const MaxTopicLen = 255

// Options configures consume queues. The zero value is usable: RocketMQ's file size, no
// preallocation.
type Options struct {
	// UnitsPerFile is the number of units in each file (RocketMQ's mappedFileSizeConsumeQueue / 20).
	// 0 means DefaultUnitsPerFile. Existing files must have exactly this size.
	UnitsPerFile int
	// Preallocate creates each queue's next file in the background when a file is started.
	Preallocate bool
	// FS is the file system (nil: the real one). A new queue's directories are fsynced into
	// their parents before its first unit is written.
	FS vfs.FS
}

// Validate reports whether the options are usable.
func (o Options) Validate() error {
	if o.UnitsPerFile < 0 || o.UnitsPerFile > MaxUnitsPerFile {
		return fmt.Errorf("%w: UnitsPerFile %d not in [0, %d]", ErrInvalidOptions, o.UnitsPerFile, MaxUnitsPerFile)
	}
	return nil
}

func (o Options) unitsPerFile() int64 {
	if o.UnitsPerFile == 0 {
		return DefaultUnitsPerFile
	}
	return int64(o.UnitsPerFile)
}

// ValidateTopic reports whether topic can name a queue directory: it must not be empty, ".", "..",
// longer than MaxTopicLen, or hold a '/' or NUL byte. RocketMQ's stricter character rules are
// the store's to check.
func ValidateTopic(topic string) error {
	if topic == "" || topic == "." || topic == ".." || len(topic) > MaxTopicLen || strings.ContainsAny(topic, "/\x00") {
		return fmt.Errorf("%w: topic %q", ErrInvalidName, topic)
	}
	return nil
}

// ConsumeQueue is one topic-queue: files under <root>/<topic>/<queueId>/ named by the 20-digit
// byte offset (queue offset × 20) of their first unit. See the package documentation for who may
// call what concurrently.
type ConsumeQueue struct {
	topic   string
	queueID int32
	files   *mapped.Queue

	// mu serialises the writers: Put, Recover, TruncateAbove, SetMinPhysicalOffset, Close and
	// Destroy. The atomics below are written only with mu held and read by anyone.
	mu sync.Mutex
	// maxPhysical is the end of the last real unit's record, 0 when there is none.
	maxPhysical atomic.Int64
	// minOffset is the queue offset of the first real unit at or above minPhysical (MinOffset
	// clamps it to the files present).
	minOffset atomic.Int64
	// minPhysical is the commitlog minimum offset given to SetMinPhysicalOffset.
	minPhysical atomic.Int64
	closed      atomic.Bool
}

// Open opens (creating its directory if needed) the queue <root>/<topic>/<queueID>/ and recovers
// it (see Recover), so its offsets are right as soon as it returns.
func Open(root, topic string, queueID int32, opts Options) (*ConsumeQueue, error) {
	if err := ValidateTopic(topic); err != nil {
		return nil, err
	}
	if queueID < 0 {
		return nil, fmt.Errorf("%w: queue id %d", ErrInvalidName, queueID)
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	dir := filepath.Join(root, topic, strconv.Itoa(int(queueID)))
	files, err := mapped.OpenQueue(dir, mapped.QueueOptions{
		FileSize:    opts.unitsPerFile() * UnitSize,
		Preallocate: opts.Preallocate,
		FS:          opts.FS,
	})
	if err != nil {
		return nil, fmt.Errorf("consumequeue: open %s-%d: %w", topic, queueID, err)
	}
	q := &ConsumeQueue{topic: topic, queueID: queueID, files: files}
	if err := q.Recover(); err != nil {
		files.Close()
		return nil, err
	}
	return q, nil
}

// Topic returns the queue's topic.
func (q *ConsumeQueue) Topic() string { return q.topic }

// QueueID returns the queue's id.
func (q *ConsumeQueue) QueueID() int32 { return q.queueID }

// Dir returns the queue's directory.
func (q *ConsumeQueue) Dir() string { return q.files.Dir() }

// MaxOffset is one past the last unit (0 for a queue that never had one).
func (q *ConsumeQueue) MaxOffset() int64 {
	return q.files.MaxOffset() / UnitSize
}

// MinOffset is the first queue offset that may be read: the first real unit whose record is at or
// above the commitlog minimum offset (SetMinPhysicalOffset). It equals MaxOffset when no unit is
// readable.
func (q *ConsumeQueue) MinOffset() int64 {
	files := q.files.Files()
	if len(files) == 0 {
		return 0
	}
	last := files[len(files)-1]
	maxOffset := (last.FromOffset() + last.WrotePosition()) / UnitSize
	minOffset := max(q.minOffset.Load(), files[0].FromOffset()/UnitSize)
	return min(minOffset, maxOffset)
}

// MaxPhysicalOffset is the commitlog offset one past the last real unit's record (0 when there is
// none): dispatch restarts from the maximum of this over all queues.
func (q *ConsumeQueue) MaxPhysicalOffset() int64 { return q.maxPhysical.Load() }

// unitAt reads the published unit at queue offset off, holding a file reference while it reads.
func (q *ConsumeQueue) unitAt(off int64) (Unit, bool) {
	if off < 0 {
		return Unit{}, false
	}
	pos := off * UnitSize
	f := q.files.Find(pos)
	if f == nil || !f.Retain() {
		return Unit{}, false
	}
	rel := pos - f.FromOffset()
	if rel+UnitSize > f.WrotePosition() {
		f.Release()
		return Unit{}, false
	}
	u := DecodeUnit(f.Bytes()[rel:])
	f.Release()
	return u, true
}

// Get returns the unit at queueOffset; ok is false outside [MinOffset, MaxOffset).
func (q *ConsumeQueue) Get(queueOffset int64) (u Unit, ok bool) {
	if queueOffset < q.MinOffset() {
		return Unit{}, false
	}
	return q.unitAt(queueOffset)
}

// Units calls fn for each unit from queueOffset (or MinOffset, if later) to the last published
// one, while fn returns true. The file being read is referenced during the calls, so retention
// cannot unmap it; fn must not call methods of q that write.
func (q *ConsumeQueue) Units(queueOffset int64, fn func(queueOffset int64, u Unit) bool) {
	pos := max(queueOffset, q.MinOffset()) * UnitSize
	for {
		next, more := q.unitsIn(pos, fn)
		if !more {
			return
		}
		pos = next
	}
}

// unitsIn iterates over the file holding pos. It returns the position where the next file starts
// and whether to go on.
func (q *ConsumeQueue) unitsIn(pos int64, fn func(int64, Unit) bool) (int64, bool) {
	f := q.files.Find(pos)
	if f == nil || !f.Retain() {
		return 0, false
	}
	defer f.Release()
	from := f.FromOffset()
	wrote := f.WrotePosition()
	data := f.Bytes()
	for rel := pos - from; rel+UnitSize <= wrote; rel += UnitSize {
		if !fn((from+rel)/UnitSize, DecodeUnit(data[rel:])) {
			return 0, false
		}
	}
	if wrote < f.Size() {
		return 0, false
	}
	return from + f.Size(), true
}

// Put writes u at queueOffset. Only the dispatcher calls it; it is serialised with the other writers.
//
//   - queueOffset == MaxOffset: u is appended, unless its record ends at or below
//     MaxPhysicalOffset (already dispatched: skipped, RocketMQ's idempotence rule) or starts
//     below it (ErrConflict: records of one queue never overlap).
//   - queueOffset < MaxOffset (re-dispatch after recovery): nil if the same unit is stored there,
//     or the offset is below the first file or at a blank pre-fill unit (nothing to compare with);
//     a stored unit with the same commitlog offset but another size or tags code is a unit torn by
//     a crash and is rewritten from u; any other unit is ErrConflict.
//   - queueOffset > MaxOffset of a queue holding a real unit: ErrGap (unless skipped as already
//     dispatched).
//   - A queue holding no real unit (new, or only blanks left by a crash) starts at queueOffset,
//     with blank units before it in its file (see the package documentation, Pre-fill); files of
//     blanks only that end at or before queueOffset are deleted first.
func (q *ConsumeQueue) Put(queueOffset int64, u Unit) error {
	if queueOffset < 0 || !u.valid() || u.IsBlank() {
		return fmt.Errorf("%w: %+v at %s-%d offset %d", ErrInvalidUnit, u, q.topic, q.queueID, queueOffset)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed.Load() {
		return ErrClosed
	}
	last := q.files.Last()
	maxOffset := int64(0)
	if last != nil {
		maxOffset = (last.FromOffset() + last.WrotePosition()) / UnitSize
	}
	if queueOffset < maxOffset {
		return q.putExistingLocked(queueOffset, maxOffset, u)
	}
	maxPhysical := q.maxPhysical.Load()
	if maxPhysical == 0 {
		// No real unit in the files (maxPhysical > 0 whenever there is one: sizes are positive).
		return q.startLocked(last, queueOffset, u)
	}
	if u.End() <= maxPhysical {
		return nil
	}
	if queueOffset > maxOffset {
		return fmt.Errorf("%w: %s-%d offset %d, max offset %d", ErrGap, q.topic, q.queueID, queueOffset, maxOffset)
	}
	if u.CommitLogOffset < maxPhysical {
		return fmt.Errorf("%w: %s-%d offset %d: record at %d overlaps the last one, which ends at %d",
			ErrConflict, q.topic, q.queueID, queueOffset, u.CommitLogOffset, maxPhysical)
	}
	f := last
	if f.IsFull() {
		var err error
		if f, err = q.files.Roll(0); err != nil {
			return fmt.Errorf("consumequeue: %s-%d: %w", q.topic, q.queueID, err)
		}
	}
	return q.writeLocked(f, queueOffset, u)
}

// Prepare creates the queue's first file when it has none, so that its first Put writes into
// a mapped file instead of creating one (a store prepares the queues of a topic when the topic
// is created, taking the file creation off the dispatch of its first messages). The file is
// durable (created, synced, renamed, directory synced) when Prepare returns; until a unit is
// written it is an empty file, which recovery keeps, empty. A queue that has files is left alone.
func (q *ConsumeQueue) Prepare() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed.Load() {
		return ErrClosed
	}
	if q.files.Last() != nil {
		return nil
	}
	if err := q.files.Prepare(0); err != nil {
		return fmt.Errorf("consumequeue: prepare %s-%d: %w", q.topic, q.queueID, err)
	}
	return nil
}

// startLocked writes the first real unit of a queue whose files hold no real unit (last is its
// newest file, or nil), at queueOffset >= MaxOffset.
func (q *ConsumeQueue) startLocked(last *mapped.File, queueOffset int64, u Unit) error {
	pos := queueOffset * UnitSize
	if last != nil && pos >= last.FromOffset()+last.Size() {
		// The files hold only blanks, all below queueOffset: start over.
		if err := q.files.Truncate(-1); err != nil {
			return fmt.Errorf("consumequeue: %s-%d: drop blank files: %w", q.topic, q.queueID, err)
		}
		last = nil
	}
	if last == nil {
		var err error
		if last, err = q.files.LastOrCreate(pos); err != nil {
			return fmt.Errorf("consumequeue: %s-%d: %w", q.topic, q.queueID, err)
		}
	}
	return q.writeLocked(last, queueOffset, u)
}

// writeLocked writes blank units into f from its write position up to queueOffset, then u, and
// publishes them together. queueOffset must be in f at or after its write position.
func (q *ConsumeQueue) writeLocked(f *mapped.File, queueOffset int64, u Unit) error {
	rel := queueOffset*UnitSize - f.FromOffset()
	n := int((rel-f.WrotePosition())/UnitSize) + 1
	b := f.Reserve(n * UnitSize)
	if b == nil || n < 1 {
		// Unreachable: callers pass an offset inside f at or after its end.
		return fmt.Errorf("consumequeue: %s-%d: offset %d does not fit %s", q.topic, q.queueID, queueOffset, f.Path())
	}
	if n > 1 {
		for i := 0; i < n-1; i++ {
			PutUnit(b[i*UnitSize:], BlankUnit)
		}
		q.minOffset.Store(queueOffset)
	}
	PutUnit(b[(n-1)*UnitSize:], u)
	f.Publish(n * UnitSize)
	q.maxPhysical.Store(u.End())
	return nil
}

// putExistingLocked checks (or repairs) the unit already stored at queueOffset < maxOffset.
func (q *ConsumeQueue) putExistingLocked(queueOffset, maxOffset int64, u Unit) error {
	pos := queueOffset * UnitSize
	f := q.files.Find(pos)
	if f == nil {
		return nil // below the first file: deleted by retention
	}
	b := f.Bytes()[pos-f.FromOffset():]
	stored := DecodeUnit(b)
	switch {
	case stored == u, stored.IsBlank():
		return nil
	case stored.CommitLogOffset == u.CommitLogOffset:
		PutUnit(b, u)
		if queueOffset == maxOffset-1 {
			q.maxPhysical.Store(u.End())
		}
		return nil
	default:
		return fmt.Errorf("%w: %s-%d offset %d holds %+v, not %+v", ErrConflict, q.topic, q.queueID, queueOffset, stored, u)
	}
}

// search returns the first queue offset in [lo, hi) whose unit satisfies pred, or hi. pred must
// be false and then true along the queue; an unreadable unit counts as false.
func (q *ConsumeQueue) search(lo, hi int64, pred func(Unit) bool) int64 {
	for lo < hi {
		mid := lo + (hi-lo)/2
		if u, ok := q.unitAt(mid); ok && pred(u) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// firstOffsetLocked is the first queue offset present in the files (0 when there are none).
func (q *ConsumeQueue) firstOffsetLocked() int64 {
	if f := q.files.First(); f != nil {
		return f.FromOffset() / UnitSize
	}
	return 0
}

// correctMinOffsetLocked sets minOffset to the first real unit at or above minPhysical
// (RocketMQ's correctMinOffset, which only looks at the first file; this searches all of them).
func (q *ConsumeQueue) correctMinOffsetLocked() {
	minPhysical := q.minPhysical.Load()
	q.minOffset.Store(q.search(q.firstOffsetLocked(), q.MaxOffset(), func(u Unit) bool {
		return !u.IsBlank() && u.CommitLogOffset >= minPhysical
	}))
}

// OffsetByTime returns the first queue offset in [MinOffset, MaxOffset) whose message was stored
// at or after ts (milliseconds), MaxOffset when every message is older, MinOffset when every
// message is newer. storeTime returns the store timestamp of the record at a commitlog offset;
// its error is returned wrapped. The search assumes store times do not decrease along the queue.
//
// This is RocketMQ 5.x's getOffsetInQueueByTime(ts, BoundaryType.LOWER) (the leftmost of equal
// times, one past the last unit when all are older), with three differences: it binary-searches
// the whole queue instead of one file chosen by modification time; when all messages are newer it
// returns MinOffset, where RocketMQ returns the chosen file's first offset (which may be below the
// minimum); and a failed store-time lookup is an error, where RocketMQ returns 0. RocketMQ 4.9
// returned an exact match if any, else the nearer neighbour in time, and the last unit (not one
// past it) when all were older.
func (q *ConsumeQueue) OffsetByTime(ts int64, storeTime func(commitLogOffset int64, size int32) (int64, error)) (int64, error) {
	lo, hi := q.MinOffset(), q.MaxOffset()
	for lo < hi {
		mid := lo + (hi-lo)/2
		u, ok := q.unitAt(mid)
		if !ok || u.IsBlank() {
			lo = mid + 1 // deleted by retention meanwhile, or below the first real unit
			continue
		}
		t, err := storeTime(u.CommitLogOffset, u.Size)
		if err != nil {
			return 0, fmt.Errorf("consumequeue: %s-%d: store time of offset %d (commitlog %d): %w", q.topic, q.queueID, mid, u.CommitLogOffset, err)
		}
		if t >= ts {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo, nil
}

// Recover finds the end of the valid units and truncates after it (zeroing the rest of that file
// and deleting later files). Open calls it; calling it again is harmless.
//
// Like RocketMQ's ConsumeQueue.recover it trusts all but the last three files and scans those from
// the start of the third-to-last one. A unit ends the scan when it is not valid:
//
//   - a blank unit (offset 0, size 0x7FFFFFFF) is valid only before the first real unit;
//   - a real unit needs 0 < size <= MaxUnitSize and an offset at or after the end of the previous
//     real unit's record (records of one queue are in commitlog order and never overlap).
//
// RocketMQ only asks offset >= 0 and size > 0. The stricter rules also reject a unit whose head
// was written but whose tail was lost, and tell a torn blank unit from a real one. A unit whose
// tags code (or the low bytes of its size) were torn can still pass; re-dispatch repairs it (Put).
func (q *ConsumeQueue) Recover() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed.Load() {
		return ErrClosed
	}
	files := q.files.Files()
	if len(files) == 0 {
		q.maxPhysical.Store(0)
		q.minOffset.Store(0)
		return nil
	}
	start := max(0, len(files)-3)
	var prevEnd int64 // end of the last real unit's record
	seenReal := false
	if start > 0 {
		prev := files[start-1]
		if last := DecodeUnit(prev.Bytes()[prev.Size()-UnitSize:]); !last.IsBlank() {
			prevEnd, seenReal = last.End(), true
		}
	}
	validEnd := files[start].FromOffset()
scan:
	for _, f := range files[start:] {
		data := f.Bytes()[:f.WrotePosition()]
		for rel := 0; rel+UnitSize <= len(data); rel += UnitSize {
			u := DecodeUnit(data[rel:])
			if u.IsBlank() {
				if seenReal {
					break scan
				}
			} else {
				if !u.valid() || u.CommitLogOffset < prevEnd {
					break scan
				}
				prevEnd, seenReal = u.End(), true
			}
			validEnd = f.FromOffset() + int64(rel) + UnitSize
		}
		if int64(len(data)) < f.Size() {
			break
		}
	}
	var err error
	if validEnd < q.files.MaxOffset() {
		if err = q.files.Truncate(validEnd); err != nil {
			err = fmt.Errorf("consumequeue: recover %s-%d: %w", q.topic, q.queueID, err)
		}
	}
	q.maxPhysical.Store(prevEnd)
	q.correctMinOffsetLocked()
	return err
}

// TruncateAbove drops every unit whose record starts at or after phyOffset (units pointing past
// the end of the commitlog after its recovery, RocketMQ's truncateDirtyLogicFiles). Files left
// empty are deleted, except the one holding the new end, which stays so that queue offsets
// continue where they stopped.
func (q *ConsumeQueue) TruncateAbove(phyOffset int64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed.Load() {
		return ErrClosed
	}
	lo, hi := q.firstOffsetLocked(), q.MaxOffset()
	cut := q.search(lo, hi, func(u Unit) bool { return u.CommitLogOffset >= phyOffset })
	if cut >= hi {
		return nil
	}
	err := q.files.Truncate(cut * UnitSize)
	if err != nil {
		err = fmt.Errorf("consumequeue: truncate %s-%d: %w", q.topic, q.queueID, err)
	}
	var maxPhysical int64
	if u, ok := q.unitAt(cut - 1); ok && !u.IsBlank() {
		maxPhysical = u.End()
	}
	q.maxPhysical.Store(maxPhysical)
	if q.minOffset.Load() > cut {
		q.minOffset.Store(cut)
	}
	return err
}

// SetMinPhysicalOffset records the commitlog's minimum offset, deletes the files whose last unit
// points below it (never the last file; RocketMQ's deleteExpiredFile) and moves MinOffset to the
// first real unit at or above it. It returns the number of files deleted; a deleted file goes
// from disk once no reader holds it.
func (q *ConsumeQueue) SetMinPhysicalOffset(phyOffset int64) (deletedFiles int, err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed.Load() {
		return 0, ErrClosed
	}
	q.minPhysical.Store(phyOffset)
	deletedFiles, err = q.files.DeleteFront(0, func(f *mapped.File) bool {
		wrote := f.WrotePosition()
		if wrote < UnitSize {
			return false
		}
		return DecodeUnit(f.Bytes()[wrote-UnitSize:]).CommitLogOffset < phyOffset
	})
	if err != nil {
		err = fmt.Errorf("consumequeue: delete files of %s-%d: %w", q.topic, q.queueID, err)
	}
	q.correctMinOffsetLocked()
	return deletedFiles, err
}

// StartAt empties the queue and makes it continue at queueOffset: every unit is dropped and the
// file holding queueOffset is created with blank units from its boundary up to queueOffset
// (Pre-fill, without a real unit yet), so MinOffset and MaxOffset are queueOffset at once and the
// next Put appends there. A replicated store whose log restarted at a snapshot calls it with the
// snapshot's next queue offset of each queue. The blanks are durable once the queue is flushed;
// a crash before that loses them (the queue then reads 0 until its next unit, which Put pre-fills
// the same way).
func (q *ConsumeQueue) StartAt(queueOffset int64) error {
	if queueOffset < 0 {
		return fmt.Errorf("%w: start %s-%d at offset %d", ErrInvalidUnit, q.topic, q.queueID, queueOffset)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed.Load() {
		return ErrClosed
	}
	if err := q.files.Truncate(-1); err != nil {
		return fmt.Errorf("consumequeue: start %s-%d at %d: %w", q.topic, q.queueID, queueOffset, err)
	}
	q.maxPhysical.Store(0)
	q.minOffset.Store(queueOffset)
	if queueOffset == 0 {
		return nil
	}
	pos := queueOffset * UnitSize
	f, err := q.files.LastOrCreate(pos)
	if err != nil {
		return fmt.Errorf("consumequeue: start %s-%d at %d: %w", q.topic, q.queueID, queueOffset, err)
	}
	if n := int((pos - f.FromOffset()) / UnitSize); n > 0 {
		b := f.Reserve(n * UnitSize)
		if b == nil {
			// Unreachable: a new file has room for every unit below queueOffset in it.
			return fmt.Errorf("consumequeue: start %s-%d at %d: no room in %s", q.topic, q.queueID, queueOffset, f.Path())
		}
		for i := range n {
			PutUnit(b[i*UnitSize:], BlankUnit)
		}
		f.Publish(n * UnitSize)
	}
	return nil
}

// Flush makes every written unit durable (msync).
func (q *ConsumeQueue) Flush() error {
	if q.closed.Load() {
		return ErrClosed
	}
	if _, err := q.files.Flush(); err != nil {
		return fmt.Errorf("consumequeue: flush %s-%d: %w", q.topic, q.queueID, err)
	}
	return nil
}

// Close unmaps the queue's files (each once its readers release it). It does not flush.
func (q *ConsumeQueue) Close() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.closed.CompareAndSwap(false, true) {
		return ErrClosed
	}
	return q.files.Close()
}

// Destroy closes the queue (if it is open) and deletes its files and directory.
func (q *ConsumeQueue) Destroy() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed.Store(true)
	if err := q.files.Destroy(); err != nil {
		return fmt.Errorf("consumequeue: destroy %s-%d: %w", q.topic, q.queueID, err)
	}
	return nil
}
