package consumequeue

import (
	"encoding/binary"
	"math"
)

// A consume-queue unit is 20 bytes, big-endian, with no header, padding or checksum
// (RocketMQ's ConsumeQueue.CQ_STORE_UNIT_SIZE):
//
//	 0                   8            12                  20
//	+-------------------+------------+-------------------+
//	| commitLogOffset   | size       | tagsCode          |
//	| int64             | int32      | int64             |
//	+-------------------+------------+-------------------+
//
// The fields:
//   - commitLogOffset: global offset of the message's record in the commitlog.
//   - size: the record's total size in bytes (its TOTALSIZE field).
//   - tagsCode: the hash code of the TAGS property (message.TagsHashCode), or for delayed
//     messages in SCHEDULE_TOPIC_XXXX the delivery time in milliseconds.
//
// A blank unit (commitLogOffset 0, size 0x7FFFFFFF, tagsCode 0) fills the part of a queue's
// first file below its first real unit (RocketMQ's fillPreBlank). A unit of 20 zero bytes is never
// written: it marks the unwritten tail of a file.
//
// Frozen: the size, field order and the blank unit are RocketMQ's on-disk format and must never change.
const (
	// UnitSize is the size of one unit in bytes.
	UnitSize = 20
	// DefaultUnitsPerFile is RocketMQ's default number of units in a file (6,000,000 bytes).
	DefaultUnitsPerFile = 300_000
	// BlankSize is the size field of a blank pre-fill unit.
	BlankSize = math.MaxInt32
	// MaxUnitSize caps the size of a real unit: a record never exceeds a commitlog segment
	// (1 GiB by default). Recovery treats a larger size other than BlankSize as a torn unit.
	MaxUnitSize = 1 << 30
)

// Unit is one consume-queue entry: where a message's record is in the commitlog, and its tags hash.
type Unit struct {
	CommitLogOffset int64
	Size            int32
	TagsCode        int64
}

// BlankUnit is the unit written before a queue's first real unit (see Unit.IsBlank).
var BlankUnit = Unit{CommitLogOffset: 0, Size: BlankSize, TagsCode: 0}

// IsBlank reports whether u is a blank pre-fill unit (offset 0, size 0x7FFFFFFF; the tags code is
// not compared, as RocketMQ does not look at it either).
func (u Unit) IsBlank() bool { return u.CommitLogOffset == 0 && u.Size == BlankSize }

// End is the commitlog offset one past the unit's record.
func (u Unit) End() int64 { return u.CommitLogOffset + int64(u.Size) }

// valid reports whether u can be a real (non-blank) unit.
func (u Unit) valid() bool {
	return u.CommitLogOffset >= 0 && u.Size > 0 && u.Size <= MaxUnitSize
}

// AppendUnit appends the 20-byte encoding of u to dst.
func AppendUnit(dst []byte, u Unit) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(u.CommitLogOffset))
	dst = binary.BigEndian.AppendUint32(dst, uint32(u.Size))
	return binary.BigEndian.AppendUint64(dst, uint64(u.TagsCode))
}

// PutUnit writes the encoding of u into b, which must hold at least UnitSize bytes.
func PutUnit(b []byte, u Unit) {
	_ = b[UnitSize-1]
	binary.BigEndian.PutUint64(b[0:8], uint64(u.CommitLogOffset))
	binary.BigEndian.PutUint32(b[8:12], uint32(u.Size))
	binary.BigEndian.PutUint64(b[12:20], uint64(u.TagsCode))
}

// DecodeUnit decodes the unit in the first UnitSize bytes of b. It panics if b is shorter
// (the unit size is fixed, so a short slice is a programming error, not bad data).
func DecodeUnit(b []byte) Unit {
	_ = b[UnitSize-1]
	return Unit{
		CommitLogOffset: int64(binary.BigEndian.Uint64(b[0:8])),
		Size:            int32(binary.BigEndian.Uint32(b[8:12])),
		TagsCode:        int64(binary.BigEndian.Uint64(b[12:20])),
	}
}
