package index

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"sync/atomic"
	"time"

	"github.com/mqstore/mqstore/message"
	"unsafe"
)

// The index file format (RocketMQ store/index/IndexHeader.java and IndexFile.java; unchanged
// from 4.9 to 5.x). All integers are big-endian, signed. The constants below are frozen: they
// are RocketMQ's and files written by either implementation must read in the other.
//
//	file = header | slots | entries          size = 40 + hashSlots*4 + maxEntries*20
//
//	header (40 bytes, at 0)
//	+----------------+--------------+----------------+--------------+---------------+------------+
//	| beginTimestamp | endTimestamp | beginPhyOffset | endPhyOffset | hashSlotCount | indexCount |
//	|   int64 (ms)   |  int64 (ms)  |     int64      |    int64     |     int32     |   int32    |
//	+----------------+--------------+----------------+--------------+---------------+------------+
//	0                8              16               24             32              36           40
//
//	slot s (4 bytes, at 40 + s*4), s = KeyHash(key) % hashSlots
//	+-------------------------------------------------------------+
//	| int32: index of the newest entry of the slot's chain, 0=none |
//	+-------------------------------------------------------------+
//
//	entry i (20 bytes, at 40 + hashSlots*4 + i*20), 1 <= i < indexCount
//	+---------+-----------+----------+-----------+
//	| keyHash | phyOffset | timeDiff | prevIndex |
//	|  int32  |   int64   |  int32   |   int32   |
//	+---------+-----------+----------+-----------+
//	0         4           12         16          20
//
// beginTimestamp/endTimestamp are the store times (Unix ms) of the first and last entry;
// beginPhyOffset/endPhyOffset their commitlog offsets. hashSlotCount counts slots that were
// empty when an entry went into them (informational). indexCount is the index of the next
// entry: it starts at 1, entry 0 is never used, so index 0 means "none" in slots and in
// prevIndex. A file is full when indexCount reaches maxEntries (maxEntries-1 usable entries).
//
// keyHash is KeyHash of "topic#key". timeDiff is (storeTimestamp - beginTimestamp) / 1000:
// whole seconds since the file's first entry, clamped to [0, MaxInt32], and 0 when
// beginTimestamp <= 0; an entry's store time is therefore known to within one second.
// prevIndex is the slot's previous head, so each slot is a singly linked list, newest first.
//
// There is no checksum: every put updates the header in the mapping, and Flush persists it; after a
// crash the store destroys files whose endTimestamp is newer than its checkpoint and re-indexes
// them from the commitlog (see Index.TruncateAfter).
const (
	// HeaderSize is the size of the file header.
	HeaderSize = 40
	// SlotSize is the size of one hash slot.
	SlotSize = 4
	// EntrySize is the size of one index entry.
	EntrySize = 20
	// DefaultHashSlots is RocketMQ's maxHashSlotNum.
	DefaultHashSlots = 5_000_000
	// DefaultMaxEntries is RocketMQ's maxIndexNum.
	DefaultMaxEntries = 20_000_000
	// FileNameLayout is the time layout of file names (yyyyMMddHHmmssSSS, local time) with a
	// dot before the milliseconds, which FileName removes.
	FileNameLayout = "20060102150405.000"
	// FileNameLen is the length of a file name.
	FileNameLen = 17
)

// Header is the 40-byte file header.
type Header struct {
	BeginTimestamp int64
	EndTimestamp   int64
	BeginPhyOffset int64
	EndPhyOffset   int64
	HashSlotCount  int32
	IndexCount     int32
}

// AppendTo appends the 40-byte encoding of h to b.
func (h *Header) AppendTo(b []byte) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(h.BeginTimestamp))
	b = binary.BigEndian.AppendUint64(b, uint64(h.EndTimestamp))
	b = binary.BigEndian.AppendUint64(b, uint64(h.BeginPhyOffset))
	b = binary.BigEndian.AppendUint64(b, uint64(h.EndPhyOffset))
	b = binary.BigEndian.AppendUint32(b, uint32(h.HashSlotCount))
	b = binary.BigEndian.AppendUint32(b, uint32(h.IndexCount))
	return b
}

// ParseHeader decodes a header from the first HeaderSize bytes of b. It checks only the length;
// whether the values fit a file's geometry is the opener's business.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < HeaderSize {
		return Header{}, fmt.Errorf("%w: header needs %d bytes, have %d", ErrCorrupt, HeaderSize, len(b))
	}
	return Header{
		BeginTimestamp: int64(binary.BigEndian.Uint64(b[0:])),
		EndTimestamp:   int64(binary.BigEndian.Uint64(b[8:])),
		BeginPhyOffset: int64(binary.BigEndian.Uint64(b[16:])),
		EndPhyOffset:   int64(binary.BigEndian.Uint64(b[24:])),
		HashSlotCount:  int32(binary.BigEndian.Uint32(b[32:])),
		IndexCount:     int32(binary.BigEndian.Uint32(b[36:])),
	}, nil
}

// Entry is one 20-byte index entry.
type Entry struct {
	KeyHash   int32
	PhyOffset int64
	TimeDiff  int32
	PrevIndex int32
}

// AppendTo appends the 20-byte encoding of e to b.
func (e *Entry) AppendTo(b []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(e.KeyHash))
	b = binary.BigEndian.AppendUint64(b, uint64(e.PhyOffset))
	b = binary.BigEndian.AppendUint32(b, uint32(e.TimeDiff))
	b = binary.BigEndian.AppendUint32(b, uint32(e.PrevIndex))
	return b
}

// ParseEntry decodes an entry from the first EntrySize bytes of b.
func ParseEntry(b []byte) (Entry, error) {
	if len(b) < EntrySize {
		return Entry{}, fmt.Errorf("%w: entry needs %d bytes, have %d", ErrCorrupt, EntrySize, len(b))
	}
	return Entry{
		KeyHash:   int32(binary.BigEndian.Uint32(b[0:])),
		PhyOffset: int64(binary.BigEndian.Uint64(b[4:])),
		TimeDiff:  int32(binary.BigEndian.Uint32(b[12:])),
		PrevIndex: int32(binary.BigEndian.Uint32(b[16:])),
	}, nil
}

// FileSize is the size of an index file with the given geometry.
func FileSize(hashSlots, maxEntries int) int64 {
	return HeaderSize + int64(hashSlots)*SlotSize + int64(maxEntries)*EntrySize
}

// slotOffset is the byte offset of slot s.
func slotOffset(s int) int { return HeaderSize + s*SlotSize }

// entryOffset is the byte offset of entry i in a file with hashSlots slots.
func entryOffset(hashSlots, i int) int { return HeaderSize + hashSlots*SlotSize + i*EntrySize }

// TimeDiff is the timeDiff field of an entry stored at storeTimestamp in a file whose
// beginTimestamp is begin (RocketMQ IndexFile.putKey).
func TimeDiff(begin, storeTimestamp int64) int32 {
	if begin <= 0 {
		return 0
	}
	d := (storeTimestamp - begin) / 1000
	switch {
	case d < 0:
		return 0
	case d > math.MaxInt32:
		return math.MaxInt32
	}
	return int32(d)
}

// FileName is the name of an index file created at t: yyyyMMddHHmmssSSS in t's location
// (RocketMQ uses the local time zone).
func FileName(t time.Time) string {
	s := t.Format(FileNameLayout)
	return s[:14] + s[15:]
}

// parseFileName parses a file name made by FileName in location loc.
func parseFileName(name string, loc *time.Location) (time.Time, bool) {
	if len(name) != FileNameLen {
		return time.Time{}, false
	}
	for i := 0; i < len(name); i++ {
		if name[i] < '0' || name[i] > '9' {
			return time.Time{}, false
		}
	}
	t, err := time.ParseInLocation(FileNameLayout, name[:14]+"."+name[14:], loc)
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}

// Slots are read by Query while the writer updates them, so they are accessed with atomic
// 32-bit operations on the mapping (4-aligned: the mapping is page-aligned and slots start at
// byte 40). The value in memory is big-endian whatever the CPU.
var littleEndianCPU = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

func slotPointer(data []byte, off int) *uint32 {
	return (*uint32)(unsafe.Pointer(&data[off]))
}

func loadSlot(data []byte, off int) int32 {
	v := atomic.LoadUint32(slotPointer(data, off))
	if littleEndianCPU {
		v = bits.ReverseBytes32(v)
	}
	return int32(v)
}

func storeSlot(data []byte, off int, value int32) {
	v := uint32(value)
	if littleEndianCPU {
		v = bits.ReverseBytes32(v)
	}
	atomic.StoreUint32(slotPointer(data, off), v)
}

// KeyHash is the hash RocketMQ indexes a key under: the absolute value of Java's
// String.hashCode of key (over UTF-16 code units, invalid UTF-8 read as U+FFFD per maximal
// subpart, as Java's decoder does), and 0 for math.MinInt32, whose absolute value is negative
// in Java. It does not allocate.
func KeyHash(key string) int32 {
	return absHash(message.JavaHashCode(key))
}

// topicKeyHash is KeyHash(topic + "#" + key) without building the string.
func topicKeyHash(topic, key string) int32 {
	h := message.JavaHashCode(topic)
	h = 31*h + '#'
	return absHash(message.JavaHashContinue(h, key))
}

func absHash(h int32) int32 {
	if h < 0 {
		h = -h
		if h < 0 { // math.MinInt32
			return 0
		}
	}
	return h
}
