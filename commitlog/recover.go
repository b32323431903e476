package commitlog

import (
	"errors"
	"fmt"

	"github.com/mqstore/mqstore/message"
)

// recover finds the end of the valid log and cuts everything after it.
//
// It verifies records (magic, recomputed length, body CRC, the record's own offset field) from
// from, or, when from is not inside the log, from the third-newest segment. The first invalid
// record — a torn write, a zeroed page, a flipped byte — ends the log: the segment is cut there
// and its tail zeroed, and newer segments are deleted. Records before from are trusted: they were
// durable before the last checkpoint.
func (c *CommitLog) recover(from int64) (int64, error) {
	files := c.queue.Files()
	if len(files) == 0 {
		return 0, nil
	}
	start := files[max(0, len(files)-3)].FromOffset()
	if from >= files[0].FromOffset() && from < files[len(files)-1].FromOffset()+c.opts.SegmentSize {
		start = from
	}
	end, err := c.verify(start)
	if err != nil && !errors.Is(err, message.ErrCorrupt) {
		return 0, err
	}
	if err := c.queue.Truncate(end); err != nil {
		return 0, fmt.Errorf("commitlog: truncate at %d: %w", end, err)
	}
	c.queue.SetFlushedOffset(end)
	return end, nil
}

// verify returns the end of the last valid record at or after start. Every segment loaded from
// disk counts as full, so the walk is bounded by the segments' contents, not their positions.
func (c *CommitLog) verify(start int64) (int64, error) {
	var r message.Record
	offset := start
	for {
		f := c.queue.Find(offset)
		if f == nil {
			return offset, nil
		}
		if !f.Retain() {
			return offset, nil
		}
		next, stop, err := scanFile(f, offset, -1, true, &r, func(int64, []byte, *message.Record) bool { return true })
		f.Release()
		if err != nil {
			return next, err
		}
		if stop {
			return next, nil
		}
		if next == offset {
			return next, nil
		}
		offset = next
	}
}

// RebuildQueueOffsets scans the whole log and sets the next queue offset of every topic queue
// from the records found. The store rebuilds the table from its consume queues instead; this is
// for users of a bare commitlog.
func (c *CommitLog) RebuildQueueOffsets() error {
	table := make(map[queueKey]int64)
	_, err := c.Scan(c.MinOffset(), false, func(_ int64, _ []byte, r *message.Record) bool {
		if getsQueueOffset(r.SysFlag) {
			key := queueKey{string(r.Topic), r.QueueID}
			if r.QueueOffset+1 > table[key] {
				table[key] = r.QueueOffset + 1
			}
		}
		return true
	})
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.queueOffsets = table
	c.mu.Unlock()
	return nil
}
