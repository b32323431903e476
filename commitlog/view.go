package commitlog

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/mqstore/mqstore/internal/mapped"
	"github.com/mqstore/mqstore/message"
)

// ErrView: an append reached a commitlog opened with OpenView (its segments are written by
// their owner, a replicated group's Raft log).
var ErrView = errors.New("commitlog: read-only view")

// view is the state of a commitlog opened with OpenView.
type view struct {
	// visible is the offset one past the last record readers may see: the end of the last
	// applied (committed) entry. Bytes past it (an uncommitted tail the owner may truncate) are
	// never read, scanned or dispatched.
	visible atomic.Int64
	// floor is the lowest offset that holds a record (a log that starts at a snapshot's offset
	// has zeros below it in its first segment).
	floor atomic.Int64
}

// OpenView opens a read-only commitlog over segments another owner appends to and truncates:
// a replicated group's Raft log (replication.Log), which is the store's commitlog in replicated
// mode. Readers see the records in [floor, visible) only; the owner moves both (Advance,
// SetBounds). The view never writes, flushes (the owner syncs before it acknowledges) or
// deletes segments (retention goes through the owner), and Close leaves q open.
func OpenView(q *mapped.Queue, floor, visible int64, opts Options) (*CommitLog, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	if q.FileSize() != opts.SegmentSize {
		return nil, fmt.Errorf("commitlog: view over segments of %d bytes, options say %d", q.FileSize(), opts.SegmentSize)
	}
	c := &CommitLog{
		dir:          q.Dir(),
		opts:         opts,
		queue:        q,
		queueOffsets: make(map[queueKey]int64),
		notify:       make(chan struct{}, 1),
		view:         &view{},
	}
	c.view.floor.Store(floor)
	c.view.visible.Store(max(visible, floor))
	return c, nil
}

// IsView reports whether the commitlog is a read-only view (OpenView).
func (c *CommitLog) IsView() bool { return c.view != nil }

// Advance makes the records up to end visible (a view's owner calls it once they are committed
// and applied) and wakes the dispatcher. It never moves the bound back.
func (c *CommitLog) Advance(end int64) {
	for {
		cur := c.view.visible.Load()
		if end <= cur || c.view.visible.CompareAndSwap(cur, end) {
			break
		}
	}
	c.signal()
}

// SetBounds replaces a view's bounds (a replica that installed a snapshot: its log restarts
// empty at floor).
func (c *CommitLog) SetBounds(floor, visible int64) {
	c.view.floor.Store(floor)
	c.view.visible.Store(max(visible, floor))
	c.signal()
}

// limit is the offset readers stop at: the view's visible bound, or the published end.
func (c *CommitLog) limit() int64 {
	if c.view != nil {
		return c.view.visible.Load()
	}
	return c.queue.MaxOffset()
}

// ResultsOf describes records already in place (a replicated entry the Raft log stored and
// patched): each one's offset, size, queue offset, store time and host, read from the record.
func ResultsOf(records []byte) ([]AppendResult, error) {
	var out []AppendResult
	var rec message.Record
	for pos := 0; pos < len(records); {
		n, err := message.DecodeRecord(records[pos:], &rec, false)
		if err != nil {
			return nil, fmt.Errorf("commitlog: record at %d: %w", pos, err)
		}
		out = append(out, AppendResult{
			PhysicalOffset: rec.PhysicalOffset,
			Size:           rec.TotalSize,
			QueueOffset:    rec.QueueOffset,
			StoreTimestamp: rec.StoreTimestamp,
			StoreHost:      rec.StoreHost,
		})
		pos += n
	}
	if len(out) == 0 {
		return nil, ErrEmptyBatch
	}
	return out, nil
}

// ExpiredBelow is where a view's owner may delete segments to (the start of the first segment
// to keep): past the segments last written before now - reserved or, with force, past the
// oldest ones whatever their age; at most maxFiles segments (<= 0: no limit), never the newest
// nor one holding records past the visible bound. It returns MinOffset when none is expired.
func (c *CommitLog) ExpiredBelow(reserved time.Duration, maxFiles int, force bool) int64 {
	files := c.queue.Files()
	limit := c.limit()
	below := c.MinOffset()
	cutoff := c.opts.Now().Add(-reserved).UnixNano()
	for n, f := range files[:max(len(files)-1, 0)] {
		end := f.FromOffset() + f.Size()
		if (maxFiles > 0 && n >= maxFiles) || end > limit || (!force && f.LastWrite() >= cutoff) {
			break
		}
		below = end
	}
	return below
}
