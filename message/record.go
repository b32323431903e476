package message

import (
	"encoding/binary"
	"hash/crc32"
	"math"
	"net/netip"
)

// This file encodes and decodes the commitlog record, RocketMQ's
// CommitLog/MessageExtEncoder format. The layout is frozen: RocketMQ readers
// and the Go client's PULL_MESSAGE decoder read these bytes field by field.
// All integers are big-endian.
//
//	offset  size  field
//	     0     4  TOTALSIZE                  int32, the whole record, this field included
//	     4     4  MAGICCODE                  MagicV1 0xDAA320A7, or MagicV2 0xDAA320AB
//	     8     4  BODYCRC                    CRC32 (IEEE) of BODY, masked with 0x7FFFFFFF
//	    12     4  QUEUEID                    int32
//	    16     4  FLAG                       int32, the producer's flag
//	    20     8  QUEUEOFFSET                int64, consume-queue units   (patched under the lock)
//	    28     8  PHYSICALOFFSET             int64, commitlog byte offset (patched under the lock)
//	    36     4  SYSFLAG                    int32, see sysflag.go
//	    40     8  BORNTIMESTAMP              int64, ms, producer clock
//	    48  8/20  BORNHOST                   IPv4 4 bytes (or IPv6 16 if SysFlagBornHostV6), port int32
//	 56/68     8  STORETIMESTAMP             int64, ms, broker clock      (patched under the lock)
//	    64  8/20  STOREHOST                  IPv4 4 bytes (or IPv6 16 if SysFlagStoreHostV6), port int32
//	    72     4  RECONSUMETIMES             int32
//	    76     8  PREPAREDTRANSACTIONOFFSET  int64, half message's offset for a committed transaction
//	    84     4  BODYLEN                    int32 >= 0
//	    88     n  BODY                       as stored (compressed if SysFlagCompressed)
//	  88+n   1/2  TOPICLEN                   V1: int8 (0..127); V2: int16 (0..32767)
//	           t  TOPIC                      UTF-8
//	           2  PROPLEN                    int16 (0..32767)
//	           p  PROPERTIES                 see Properties
//
//	(offsets from 56 on are for IPv4 hosts: an IPv6 BORNHOST moves every later
//	field by 12 bytes, an IPv6 STOREHOST every field after it by 12 more)
//
//	TOTALSIZE = 91 + n + t + p  (+1 for V2, +12 per IPv6 host)
//
// The CRC covers BODY only (RocketMQ's choice); the other fields are checked
// by recomputing TOTALSIZE from the lengths. V2 (5.x) differs only in the
// 2-byte TOPICLEN and is used only for topics longer than 127 bytes; 4.9
// readers and the Go client understand only V1.
//
// The end-of-file blank record is 8 bytes, TOTALSIZE (the bytes left in the
// file) then MagicBlank; the bytes after it are undefined.
//
//	offset size   field
//	     0    4   TOTALSIZE   int32, bytes from here to the end of the file
//	     4    4   MAGICCODE   MagicBlank 0xCBD43194

// Magic codes. Frozen.
const (
	MagicV1    uint32 = 0xDAA320A7
	MagicV2    uint32 = 0xDAA320AB
	MagicBlank uint32 = 0xCBD43194
)

// BlankRecordMinSize is the size of the blank end-of-file record
// (RocketMQ END_FILE_MIN_BLANK_LENGTH). A segment always keeps this much room
// for it after its last record.
const BlankRecordMinSize = 8

// MaxTopicLength is the longest topic a record can hold (V2's int16 length).
// Topics up to MaxTopicLengthV1 bytes are written as V1.
const (
	MaxTopicLength   = math.MaxInt16
	MaxTopicLengthV1 = math.MaxInt8
)

// Field offsets that do not depend on the host address families.
const (
	offsetTotalSize      = 0
	offsetMagic          = 4
	offsetBodyCRC        = 8
	offsetQueueID        = 12
	offsetFlag           = 16
	offsetQueueOffset    = 20
	offsetPhysicalOffset = 28
	offsetSysFlag        = 36
	offsetBornTimestamp  = 40
	offsetBornHost       = 48

	// fixedSizeV1 is a V1 record's size with IPv4 hosts and empty body,
	// topic and properties.
	fixedSizeV1 = 91
	v6Extra     = 12 // an IPv6 host field is 20 bytes instead of 8
)

// StoreTimestampOffset returns the offset of STORETIMESTAMP in a record with
// the given SYSFLAG: 56, or 68 when the born host is IPv6.
func StoreTimestampOffset(sysFlag int32) int {
	if sysFlag&SysFlagBornHostV6 != 0 {
		return 68
	}
	return 56
}

// CRC32 returns RocketMQ's masked CRC32 of b: IEEE CRC32 & 0x7FFFFFFF
// (UtilAll.crc32), the BODYCRC of a record.
func CRC32(b []byte) uint32 { return crc32.ChecksumIEEE(b) & 0x7FFFFFFF }

// is4 reports whether a is written as a 4-byte IPv4 address: IPv4 and
// IPv4-mapped IPv6 addresses are, and so is the zero Addr (as 0.0.0.0).
func is4(a netip.Addr) bool { return !a.Is6() || a.Is4In6() }

// hostSysFlag returns sysFlag with the V6 bits set from the host families.
func hostSysFlag(sysFlag int32, born, store netip.AddrPort) int32 {
	sysFlag &^= SysFlagBornHostV6 | SysFlagStoreHostV6
	if !is4(born.Addr()) {
		sysFlag |= SysFlagBornHostV6
	}
	if !is4(store.Addr()) {
		sysFlag |= SysFlagStoreHostV6
	}
	return sysFlag
}

// RecordSize returns the TOTALSIZE of m's record: V1 when the topic is at
// most MaxTopicLengthV1 bytes, V2 otherwise; 8- or 20-byte host fields by the
// address families. It does not check limits (AppendRecord does).
func RecordSize(m *Message) int {
	n := fixedSizeV1 + len(m.Body) + len(m.Topic) + len(m.Properties)
	if len(m.Topic) > MaxTopicLengthV1 {
		n++
	}
	if !is4(m.BornHost.Addr()) {
		n += v6Extra
	}
	if !is4(m.StoreHost.Addr()) {
		n += v6Extra
	}
	return n
}

// AppendRecord appends m's commitlog record to dst and returns the extended
// buffer; it does not allocate when dst has room for RecordSize(m) more bytes.
//
// QUEUEOFFSET, PHYSICALOFFSET and STORETIMESTAMP are written as 0: the
// commitlog fills them in place with PatchRecord once it holds its append
// lock. BODYCRC is CRC32(m.Body). The V6 bits of SYSFLAG are set from the
// families of m.BornHost and m.StoreHost (m itself is not modified); the
// other SYSFLAG bits are m.SysFlag's. Invalid (zero) host addresses are
// written as 0.0.0.0:0; IPv4-mapped IPv6 addresses as IPv4.
//
// It fails with ErrTopicTooLong, ErrPropertiesTooLong or ErrRecordTooLarge
// and then returns dst unchanged. Enforcing the broker's maximum message size
// is the caller's job.
func AppendRecord(dst []byte, m *Message) ([]byte, error) {
	if len(m.Topic) > MaxTopicLength {
		return dst, ErrTopicTooLong
	}
	if len(m.Properties) > MaxPropertiesLength {
		return dst, ErrPropertiesTooLong
	}
	size := RecordSize(m)
	if size > math.MaxInt32 {
		return dst, ErrRecordTooLarge
	}
	start := len(dst)
	dst = grow(dst, size)
	rec := dst[start : start+size]
	be := binary.BigEndian
	sysFlag := hostSysFlag(m.SysFlag, m.BornHost, m.StoreHost)

	be.PutUint32(rec[offsetTotalSize:], uint32(size))
	magic := MagicV1
	if len(m.Topic) > MaxTopicLengthV1 {
		magic = MagicV2
	}
	be.PutUint32(rec[offsetMagic:], magic)
	be.PutUint32(rec[offsetBodyCRC:], CRC32(m.Body))
	be.PutUint32(rec[offsetQueueID:], uint32(m.QueueID))
	be.PutUint32(rec[offsetFlag:], uint32(m.Flag))
	be.PutUint64(rec[offsetQueueOffset:], 0)
	be.PutUint64(rec[offsetPhysicalOffset:], 0)
	be.PutUint32(rec[offsetSysFlag:], uint32(sysFlag))
	be.PutUint64(rec[offsetBornTimestamp:], uint64(m.BornTimestamp))
	pos := putHost(rec, offsetBornHost, m.BornHost)
	be.PutUint64(rec[pos:], 0) // STORETIMESTAMP
	pos = putHost(rec, pos+8, m.StoreHost)
	be.PutUint32(rec[pos:], uint32(m.ReconsumeTimes))
	be.PutUint64(rec[pos+4:], uint64(m.PreparedTransactionOffset))
	pos += 12
	be.PutUint32(rec[pos:], uint32(len(m.Body)))
	pos += 4
	pos += copy(rec[pos:], m.Body)
	if magic == MagicV1 {
		rec[pos] = byte(len(m.Topic))
		pos++
	} else {
		be.PutUint16(rec[pos:], uint16(len(m.Topic)))
		pos += 2
	}
	pos += copy(rec[pos:], m.Topic)
	be.PutUint16(rec[pos:], uint16(len(m.Properties)))
	copy(rec[pos+2:], m.Properties)
	return dst, nil
}

// grow extends b by n bytes (contents of the new bytes unspecified).
func grow(b []byte, n int) []byte {
	if cap(b)-len(b) < n {
		nb := make([]byte, len(b), len(b)+n+len(b)/4)
		copy(nb, b)
		b = nb
	}
	return b[:len(b)+n]
}

// putHost writes a host field at rec[pos:] and returns the offset after it.
func putHost(rec []byte, pos int, host netip.AddrPort) int {
	a := host.Addr()
	if is4(a) {
		if a.IsValid() {
			ip := a.Unmap().As4()
			copy(rec[pos:pos+4], ip[:])
		} else {
			clear(rec[pos : pos+4])
		}
		pos += 4
	} else {
		ip := a.As16()
		copy(rec[pos:pos+16], ip[:])
		pos += 16
	}
	binary.BigEndian.PutUint32(rec[pos:], uint32(host.Port()))
	return pos + 4
}

// PatchRecord writes QUEUEOFFSET, PHYSICALOFFSET and STORETIMESTAMP into the
// encoded record rec, in place. It reads rec's SYSFLAG to find
// STORETIMESTAMP. rec must start with a record written by AppendRecord.
func PatchRecord(rec []byte, queueOffset, physicalOffset, storeTimestamp int64) {
	be := binary.BigEndian
	_ = rec[offsetBornHost] // one bounds check for the fixed fields
	be.PutUint64(rec[offsetQueueOffset:], uint64(queueOffset))
	be.PutUint64(rec[offsetPhysicalOffset:], uint64(physicalOffset))
	sysFlag := int32(be.Uint32(rec[offsetSysFlag:]))
	be.PutUint64(rec[StoreTimestampOffset(sysFlag):], uint64(storeTimestamp))
}

// AppendBlankRecord appends the 8-byte end-of-file blank record to dst:
// TOTALSIZE = size (the bytes left in the file), MAGICCODE = MagicBlank.
func AppendBlankRecord(dst []byte, size int) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(size))
	return binary.BigEndian.AppendUint32(dst, MagicBlank)
}

// Record is a decoded commitlog record. Body, Topic and Properties alias the
// buffer passed to DecodeRecord: they are valid only as long as that buffer
// is (for a mapped segment, while the caller holds its reference) and must
// be copied (Message, or bytes.Clone) to outlive it.
type Record struct {
	TotalSize                 int32
	Magic                     uint32
	BodyCRC                   uint32
	QueueID                   int32
	Flag                      int32
	QueueOffset               int64
	PhysicalOffset            int64
	SysFlag                   int32
	BornTimestamp             int64
	BornHost                  netip.AddrPort
	StoreTimestamp            int64
	StoreHost                 netip.AddrPort
	ReconsumeTimes            int32
	PreparedTransactionOffset int64
	Body                      []byte
	Topic                     []byte
	Properties                Properties
}

// DecodeRecord decodes the record at the start of b into r and returns its
// size. It never allocates and never panics; r's slices alias b.
//
// For the end-of-file blank record it returns ErrBlank and n = its TOTALSIZE
// (only r.TotalSize and r.Magic are set); b need not hold those n bytes, and
// the caller checks that n reaches the end of the file. On every other error n is 0 and r
// is partly filled. The errors, all wrapping ErrCorrupt:
//   - ErrShortBuffer: b is shorter than 8 bytes or than TOTALSIZE (a torn tail);
//   - ErrEmpty: the 8-byte header is all zeros (unwritten space);
//   - ErrBadMagic: an unknown MAGICCODE;
//   - ErrSizeMismatch: a length field out of range, or TOTALSIZE not equal to
//     the sum of the parts;
//   - ErrBodyCRC: BODYCRC does not match BODY (checked only when verifyCRC).
//
// Port fields are read as their low 16 bits (RocketMQ never writes others).
func DecodeRecord(b []byte, r *Record, verifyCRC bool) (int, error) {
	if len(b) < BlankRecordMinSize {
		return 0, ErrShortBuffer
	}
	be := binary.BigEndian
	total := int32(be.Uint32(b[offsetTotalSize:]))
	magic := be.Uint32(b[offsetMagic:])
	r.TotalSize, r.Magic = total, magic
	switch magic {
	case MagicV1, MagicV2:
	case MagicBlank:
		if total < BlankRecordMinSize {
			return 0, ErrSizeMismatch
		}
		return int(total), ErrBlank
	default:
		if total == 0 && magic == 0 {
			return 0, ErrEmpty
		}
		return 0, ErrBadMagic
	}
	if total < fixedSizeV1 {
		return 0, ErrSizeMismatch
	}
	if int64(total) > int64(len(b)) {
		return 0, ErrShortBuffer
	}
	rec := b[:total]
	size := int(total)

	r.BodyCRC = be.Uint32(rec[offsetBodyCRC:])
	r.QueueID = int32(be.Uint32(rec[offsetQueueID:]))
	r.Flag = int32(be.Uint32(rec[offsetFlag:]))
	r.QueueOffset = int64(be.Uint64(rec[offsetQueueOffset:]))
	r.PhysicalOffset = int64(be.Uint64(rec[offsetPhysicalOffset:]))
	r.SysFlag = int32(be.Uint32(rec[offsetSysFlag:]))
	r.BornTimestamp = int64(be.Uint64(rec[offsetBornTimestamp:]))

	// The fixed part, with the host sizes this SYSFLAG says.
	fixed := fixedSizeV1
	if magic == MagicV2 {
		fixed++
	}
	bornV6 := r.SysFlag&SysFlagBornHostV6 != 0
	storeV6 := r.SysFlag&SysFlagStoreHostV6 != 0
	if bornV6 {
		fixed += v6Extra
	}
	if storeV6 {
		fixed += v6Extra
	}
	if size < fixed {
		return 0, ErrSizeMismatch
	}
	var pos int
	r.BornHost, pos = readHost(rec, offsetBornHost, bornV6)
	r.StoreTimestamp = int64(be.Uint64(rec[pos:]))
	r.StoreHost, pos = readHost(rec, pos+8, storeV6)
	r.ReconsumeTimes = int32(be.Uint32(rec[pos:]))
	r.PreparedTransactionOffset = int64(be.Uint64(rec[pos+4:]))
	pos += 12

	// Variable part: every length is checked against what is left of the
	// fixed-size remainder before it is used. rest = bytes not yet accounted
	// for, beyond the fixed part.
	rest := size - fixed
	bodyLen := int32(be.Uint32(rec[pos:]))
	pos += 4
	if bodyLen < 0 || int(bodyLen) > rest {
		return 0, ErrSizeMismatch
	}
	rest -= int(bodyLen)
	r.Body = rec[pos : pos+int(bodyLen) : pos+int(bodyLen)]
	pos += int(bodyLen)

	var topicLen int
	if magic == MagicV1 {
		topicLen = int(int8(rec[pos]))
		pos++
	} else {
		topicLen = int(int16(be.Uint16(rec[pos:])))
		pos += 2
	}
	if topicLen < 0 || topicLen > rest {
		return 0, ErrSizeMismatch
	}
	rest -= topicLen
	r.Topic = rec[pos : pos+topicLen : pos+topicLen]
	pos += topicLen

	propLen := int(int16(be.Uint16(rec[pos:])))
	pos += 2
	if propLen != rest { // also rejects propLen < 0
		return 0, ErrSizeMismatch
	}
	r.Properties = Properties(rec[pos : pos+propLen : pos+propLen])

	if verifyCRC && CRC32(r.Body) != r.BodyCRC {
		return 0, ErrBodyCRC
	}
	return size, nil
}

// readHost reads a host field at rec[pos:]; the caller has checked the bounds.
func readHost(rec []byte, pos int, v6 bool) (netip.AddrPort, int) {
	var a netip.Addr
	if v6 {
		a = netip.AddrFrom16([16]byte(rec[pos : pos+16]))
		pos += 16
	} else {
		a = netip.AddrFrom4([4]byte(rec[pos : pos+4]))
		pos += 4
	}
	port := uint16(binary.BigEndian.Uint32(rec[pos:]))
	return netip.AddrPortFrom(a, port), pos + 4
}

// TagsCode returns TagsHashCode of the record's TAGS property, without
// allocating.
func (r *Record) TagsCode() int64 {
	v, _ := r.Properties.Lookup(PropertyTags)
	if len(v) == 0 {
		return 0
	}
	return int64(JavaHashCodeBytes(v))
}

// Message copies r into a new Message that owns its memory (the store fields
// QueueOffset, PhysicalOffset and StoreTimestamp are not part of a Message).
func (r *Record) Message() *Message {
	m := &Message{
		Topic:                     string(r.Topic),
		QueueID:                   r.QueueID,
		Flag:                      r.Flag,
		SysFlag:                   r.SysFlag,
		BornTimestamp:             r.BornTimestamp,
		BornHost:                  r.BornHost,
		StoreHost:                 r.StoreHost,
		ReconsumeTimes:            r.ReconsumeTimes,
		PreparedTransactionOffset: r.PreparedTransactionOffset,
	}
	if r.Body != nil {
		m.Body = append(make([]byte, 0, len(r.Body)), r.Body...)
	}
	if len(r.Properties) > 0 {
		m.Properties = r.Properties.Clone()
	}
	return m
}
