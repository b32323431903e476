package timer

import "encoding/binary"

// The wheel file <dir>/wheel is an array of Slots slots of 32 bytes. The slot of a tick T (a
// multiple of the precision) is (T / precision) mod Slots; Slots is 2 × maxDelay / precision,
// so the ticks of all pending timers — between the last fired tick and now + maxDelay — never
// share a slot.
//
//	offset  size  field
//	     0     8  tickMs    the tick the slot holds now; a slot whose tick differs is empty
//	     8     8  first     position of the first entry appended for the tick
//	    16     8  last      position of the last entry; entries chain backwards through prev
//	    24     4  count     entries in the chain
//	    28     4  zero
//
// Big-endian. The wheel is not trusted across restarts: Open recreates it zeroed and relinks
// the pending entries of the log, so it needs no checksum and is never synced.
const slotSize = 32

type slot struct {
	tickMs, first, last int64
	count               int32
}

func getSlot(b []byte) slot {
	return slot{
		tickMs: int64(binary.BigEndian.Uint64(b[0:])),
		first:  int64(binary.BigEndian.Uint64(b[8:])),
		last:   int64(binary.BigEndian.Uint64(b[16:])),
		count:  int32(binary.BigEndian.Uint32(b[24:])),
	}
}

func putSlot(b []byte, s slot) {
	binary.BigEndian.PutUint64(b[0:], uint64(s.tickMs))
	binary.BigEndian.PutUint64(b[8:], uint64(s.first))
	binary.BigEndian.PutUint64(b[16:], uint64(s.last))
	binary.BigEndian.PutUint32(b[24:], uint32(s.count))
	binary.BigEndian.PutUint32(b[28:], 0)
}
