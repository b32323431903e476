package message

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Message ids (RocketMQ MessageDecoder.createMessageId and
// MessageClientIDSetter). Both are bytes shown as uppercase hex.
//
// Offset message id: where the record is.
//
//	store IP   4 | 16   IPv4 or IPv6
//	store port 4        int32
//	offset     8        int64, the record's PHYSICALOFFSET
//	→ 32 hex chars (IPv4) or 56 (IPv6); readers tell the two apart by length.
//
// Unique id (UNIQ_KEY), made by the client before sending:
//
//	IP         4 | 16   the client's address
//	pid        2        int16, the process id (truncated)
//	hash       4        int32, Java: the class loader's hashCode; here random per generator
//	time       4        int32, ms since the start of the current month (local time), wrapping
//	counter    2        int16, incremented per id
//	→ 32 hex chars (IPv4) or 56 (IPv6).

const hexDigits = "0123456789ABCDEF"

// Lengths of the hex ids.
const (
	OffsetMsgIDLenV4 = 32
	OffsetMsgIDLenV6 = 56
	UniqIDLenV4      = 32
	UniqIDLenV6      = 56
)

func appendHex(dst, b []byte) []byte {
	for _, c := range b {
		dst = append(dst, hexDigits[c>>4], hexDigits[c&0xF])
	}
	return dst
}

// unhex decodes hex (either case) into dst, len(dst)*2 == len(s).
func unhex(dst []byte, s string) bool {
	for i := range dst {
		hi, ok1 := fromHex(s[2*i])
		lo, ok2 := fromHex(s[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		dst[i] = hi<<4 | lo
	}
	return true
}

func fromHex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// addrBytes returns the 4- or 16-byte form of a (IPv4-mapped and invalid
// addresses as 4 bytes, as records store them) in buf.
func addrBytes(buf *[16]byte, a netip.Addr) []byte {
	if is4(a) {
		if a.IsValid() {
			ip := a.Unmap().As4()
			copy(buf[:], ip[:])
		} else {
			clear(buf[:4])
		}
		return buf[:4]
	}
	*buf = a.As16()
	return buf[:16]
}

// AppendOffsetMsgID appends the offset message id of the record at
// physicalOffset stored by storeHost: 32 uppercase hex chars for an IPv4
// host, 56 for IPv6. It does not allocate when dst has room.
func AppendOffsetMsgID(dst []byte, storeHost netip.AddrPort, physicalOffset int64) []byte {
	var buf [28]byte
	var ip [16]byte
	n := copy(buf[:], addrBytes(&ip, storeHost.Addr()))
	binary.BigEndian.PutUint32(buf[n:], uint32(storeHost.Port()))
	binary.BigEndian.PutUint64(buf[n+4:], uint64(physicalOffset))
	return appendHex(dst, buf[:n+12])
}

// OffsetMsgID returns AppendOffsetMsgID as a string.
func OffsetMsgID(storeHost netip.AddrPort, physicalOffset int64) string {
	var buf [OffsetMsgIDLenV6]byte
	return string(AppendOffsetMsgID(buf[:0], storeHost, physicalOffset))
}

// ParseOffsetMsgID decodes an offset message id (either hex case). It fails
// with ErrBadMsgID unless id is 32 or 56 hex chars with a port below 65536.
func ParseOffsetMsgID(id string) (netip.AddrPort, int64, error) {
	var buf [28]byte
	var ipLen int
	switch len(id) {
	case OffsetMsgIDLenV4:
		ipLen = 4
	case OffsetMsgIDLenV6:
		ipLen = 16
	default:
		return netip.AddrPort{}, 0, ErrBadMsgID
	}
	b := buf[:ipLen+12]
	if !unhex(b, id) {
		return netip.AddrPort{}, 0, ErrBadMsgID
	}
	addr, _ := netip.AddrFromSlice(b[:ipLen])
	port := binary.BigEndian.Uint32(b[ipLen:])
	if port > 0xFFFF {
		return netip.AddrPort{}, 0, ErrBadMsgID
	}
	offset := int64(binary.BigEndian.Uint64(b[ipLen+4:]))
	return netip.AddrPortFrom(addr, uint16(port)), offset, nil
}

// UniqIDGenerator makes UNIQ_KEY values the way the Java client's
// MessageClientIDSetter does. It is safe for concurrent use.
type UniqIDGenerator struct {
	prefix  []byte // hex of ip | pid | hash; immutable
	counter atomic.Uint32
	now     func() time.Time // test seam; time.Now

	// month is the current month's [start, next start) in Unix ms, replaced
	// when the clock passes next.
	month atomic.Pointer[monthSpan]
	mu    sync.Mutex // serializes replacing month
}

type monthSpan struct{ start, next int64 }

// NewUniqIDGenerator returns a generator for ids carrying ip (IPv4 gives
// 32-char ids, IPv6 56), this process's pid and a random 32-bit value.
func NewUniqIDGenerator(ip netip.Addr) *UniqIDGenerator {
	return newUniqIDGenerator(ip, os.Getpid(), rand.Uint32(), time.Now)
}

func newUniqIDGenerator(ip netip.Addr, pid int, hash uint32, now func() time.Time) *UniqIDGenerator {
	var buf [22]byte
	var ipBuf [16]byte
	n := copy(buf[:], addrBytes(&ipBuf, ip))
	binary.BigEndian.PutUint16(buf[n:], uint16(pid))
	binary.BigEndian.PutUint32(buf[n+2:], hash)
	return &UniqIDGenerator{prefix: appendHex(nil, buf[:n+6]), now: now}
}

// monthOf returns the local month containing t.
func monthOf(t time.Time) *monthSpan {
	start := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, t.Location())
	return &monthSpan{start: start.UnixMilli(), next: start.AddDate(0, 1, 0).UnixMilli()}
}

// Next returns a new id.
func (g *UniqIDGenerator) Next() string {
	var buf [UniqIDLenV6]byte
	return string(g.AppendNext(buf[:0]))
}

// AppendNext appends a new id to dst; it does not allocate when dst has room.
func (g *UniqIDGenerator) AppendNext(dst []byte) []byte {
	return g.AppendNextAt(dst, g.now())
}

// AppendNextAt is AppendNext with the time given, for callers that have read
// the clock already.
func (g *UniqIDGenerator) AppendNextAt(dst []byte, now time.Time) []byte {
	ms := now.UnixMilli()
	span := g.month.Load()
	if span == nil || ms >= span.next || ms < span.start-1000_000 {
		g.mu.Lock()
		span = g.month.Load()
		if span == nil || ms >= span.next || ms < span.start-1000_000 {
			span = monthOf(now)
			g.month.Store(span)
		}
		g.mu.Unlock()
	}
	diff := int32(ms - span.start)
	if diff < 0 && diff > -1000_000 { // clock stepped back over the month start (Java does the same)
		diff = 0
	}
	var tail [6]byte
	binary.BigEndian.PutUint32(tail[:], uint32(diff))
	binary.BigEndian.PutUint16(tail[4:], uint16(g.counter.Add(1)-1))
	dst = append(dst, g.prefix...)
	return appendHex(dst, tail[:])
}

// ParseUniqID decodes a UNIQ_KEY (either hex case): the client IP and,
// best effort, the time it was made, in Unix ms. The id holds only the ms
// since the start of a month, so the month is guessed as in Java's
// MessageClientIDSetter.getNearlyTimeFromID: the current local month, or the
// previous one if that would put the time in the future. It fails with
// ErrBadMsgID unless id is 32 or 56 hex chars.
func ParseUniqID(id string) (ip netip.Addr, unixMillis int64, err error) {
	return parseUniqID(id, time.Now())
}

func parseUniqID(id string, now time.Time) (netip.Addr, int64, error) {
	var buf [28]byte
	var ipLen int
	switch len(id) {
	case UniqIDLenV4:
		ipLen = 4
	case UniqIDLenV6:
		ipLen = 16
	default:
		return netip.Addr{}, 0, ErrBadMsgID
	}
	b := buf[:ipLen+12]
	if !unhex(b, id) {
		return netip.Addr{}, 0, ErrBadMsgID
	}
	ip, _ := netip.AddrFromSlice(b[:ipLen])
	span := int64(binary.BigEndian.Uint32(b[ipLen+6:])) // unsigned: a wrapped int32 reads back right
	start := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, now.Location())
	if start.UnixMilli()+span >= now.UnixMilli() {
		start = start.AddDate(0, -1, 0)
	}
	return ip, start.UnixMilli() + span, nil
}
