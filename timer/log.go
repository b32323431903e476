package timer

import (
	"encoding/binary"
	"hash/crc32"
)

// The timer log is a sequence of segment files <dir>/log/<20-digit start position>, each
// SegmentEntries entries of 32 bytes, preallocated. A position is the byte offset of an entry in
// the whole log. Entries are appended and never moved; their prev field is rewritten only while
// Open relinks the wheel.
//
//	offset  size  field
//	     0     8  deliverMs        when the timer is due (ms since the epoch)
//	     8     8  commitLogOffset  the timer's record in the commitlog
//	    16     8  prev             position of the previous entry of the same slot and round, -1 none
//	    24     4  size             the record's size
//	    28     4  crc              CRC-32 (IEEE) of bytes [0, 16) and [24, 28): prev is not covered,
//	                               it is link data that Open recomputes
//
// All integers are big-endian. The layout is frozen: changing it makes Open discard the log and
// rebuild it from the consume queues.
const (
	// EntrySize is the size of a timer-log entry.
	EntrySize = 32
	// noPos is the prev of the first entry of a slot.
	noPos = -1
)

// Entry is a pending timer.
type Entry struct {
	// DeliverMs is when it is due.
	DeliverMs int64
	// CommitLogOffset and Size locate the timer's record in the commitlog.
	CommitLogOffset int64
	Size            int32
}

func entryCRC(b []byte) uint32 {
	c := crc32.ChecksumIEEE(b[0:16])
	return crc32.Update(c, crc32.IEEETable, b[24:28])
}

// putEntry encodes e with its link into b (EntrySize bytes).
func putEntry(b []byte, e Entry, prev int64) {
	binary.BigEndian.PutUint64(b[0:], uint64(e.DeliverMs))
	binary.BigEndian.PutUint64(b[8:], uint64(e.CommitLogOffset))
	binary.BigEndian.PutUint64(b[16:], uint64(prev))
	binary.BigEndian.PutUint32(b[24:], uint32(e.Size))
	binary.BigEndian.PutUint32(b[28:], entryCRC(b))
}

// readEntry decodes b; ok is false when its CRC does not match or it is implausible.
func readEntry(b []byte) (e Entry, prev int64, ok bool) {
	e = Entry{
		DeliverMs:       int64(binary.BigEndian.Uint64(b[0:])),
		CommitLogOffset: int64(binary.BigEndian.Uint64(b[8:])),
		Size:            int32(binary.BigEndian.Uint32(b[24:])),
	}
	prev = int64(binary.BigEndian.Uint64(b[16:]))
	ok = binary.BigEndian.Uint32(b[28:]) == entryCRC(b) && e.CommitLogOffset >= 0 && e.Size > 0
	return e, prev, ok
}

// setPrev rewrites the link of an encoded entry.
func setPrev(b []byte, prev int64) { binary.BigEndian.PutUint64(b[16:], uint64(prev)) }
