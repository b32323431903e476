package message

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// golden builds expected record bytes field by field, independently of the
// encoder, following the table of ../shared/spec/rocketmq.md §1.2.
type golden struct{ b []byte }

func (g *golden) u8(v uint8)   { g.b = append(g.b, v) }
func (g *golden) u16(v uint16) { g.b = append(g.b, byte(v>>8), byte(v)) }
func (g *golden) u32(v uint32) { g.b = append(g.b, byte(v>>24), byte(v>>16), byte(v>>8), byte(v)) }
func (g *golden) u64(v uint64) { g.u32(uint32(v >> 32)); g.u32(uint32(v)) }
func (g *golden) raw(b []byte) { g.b = append(g.b, b...) }
func (g *golden) host(h netip.AddrPort) {
	if h.Addr().Is4() {
		ip := h.Addr().As4()
		g.raw(ip[:])
	} else {
		ip := h.Addr().As16()
		g.raw(ip[:])
	}
	g.u32(uint32(h.Port()))
}

var (
	hostV4a = netip.MustParseAddrPort("192.168.1.20:53211")
	hostV4b = netip.MustParseAddrPort("10.0.0.7:10911")
	hostV6a = netip.MustParseAddrPort("[2001:db8::1]:40000")
	hostV6b = netip.MustParseAddrPort("[fe80::abcd:1]:10911")
)

type goldenCase struct {
	name           string
	msg            Message
	queueOffset    int64
	physicalOffset int64
	storeTimestamp int64
	sysFlagOnDisk  int32 // expected SYSFLAG (V6 bits derived)
}

func goldenCases() []goldenCase {
	props := EncodeProperties(map[string]string{"TAGS": "TagA", "KEYS": "k1 k2", "UNIQ_KEY": "C0A80114D0DB00000000000000000001"})
	return []goldenCase{
		{
			name: "ipv4-ipv4-props",
			msg: Message{Topic: "TopicTest", QueueID: 3, Flag: 7, Body: []byte("Hello RocketMQ"),
				SysFlag: 0, BornTimestamp: 1700000000123, BornHost: hostV4a, StoreHost: hostV4b,
				ReconsumeTimes: 2, PreparedTransactionOffset: 0, Properties: props},
			queueOffset: 42, physicalOffset: 1 << 30, storeTimestamp: 1700000000456,
		},
		{
			name: "ipv4-ipv4-no-props",
			msg: Message{Topic: "t", QueueID: 0, Flag: -1, Body: []byte{0, 1, 2, 0xFF},
				SysFlag: TransactionCommitType, BornTimestamp: 1, BornHost: hostV4a, StoreHost: hostV4b,
				PreparedTransactionOffset: 123456789},
			queueOffset: 0, physicalOffset: 0, storeTimestamp: 2,
			sysFlagOnDisk: TransactionCommitType,
		},
		{
			name: "ipv6-born-props",
			msg: Message{Topic: "TopicTest", QueueID: 1, Body: []byte("x"), BornTimestamp: 5,
				BornHost: hostV6a, StoreHost: hostV4b, Properties: props},
			queueOffset: 9, physicalOffset: 1234, storeTimestamp: 6,
			sysFlagOnDisk: SysFlagBornHostV6,
		},
		{
			name: "ipv6-store-no-props",
			msg: Message{Topic: "TopicTest", QueueID: 1, Body: nil, BornTimestamp: 5,
				BornHost: hostV4a, StoreHost: hostV6b},
			queueOffset: 9, physicalOffset: 1234, storeTimestamp: 6,
			sysFlagOnDisk: SysFlagStoreHostV6,
		},
		{
			name: "ipv6-ipv6-props-stale-flags",
			msg: Message{Topic: "TopicTest", QueueID: 2, Body: []byte("body"), SysFlag: SysFlagCompressed | SysFlagBornHostV6 | SysFlagStoreHostV6,
				BornTimestamp: -1, BornHost: hostV6a, StoreHost: hostV6b, Properties: props},
			queueOffset: 1, physicalOffset: 2, storeTimestamp: 3,
			sysFlagOnDisk: SysFlagCompressed | SysFlagBornHostV6 | SysFlagStoreHostV6,
		},
		{
			name: "ipv4-v6-flags-cleared",
			msg: Message{Topic: "TopicTest", Body: []byte("b"), SysFlag: SysFlagBornHostV6 | SysFlagStoreHostV6,
				BornHost: hostV4a, StoreHost: hostV4b},
			sysFlagOnDisk: 0,
		},
	}
}

// expectedRecord builds the record for c by hand from the spec table.
func expectedRecord(c goldenCase) []byte {
	m := c.msg
	bornV6, storeV6 := m.BornHost.Addr().Is6(), m.StoreHost.Addr().Is6()
	v2 := len(m.Topic) > 127
	size := 4 + 4 + 4 + 4 + 4 + 8 + 8 + 4 + 8 + 8 + 8 + 8 + 4 + 8 + 4 + len(m.Body) + 1 + len(m.Topic) + 2 + len(m.Properties)
	if bornV6 {
		size += 12
	}
	if storeV6 {
		size += 12
	}
	if v2 {
		size++
	}
	var g golden
	g.u32(uint32(size)) // 1 TOTALSIZE
	if v2 {
		g.u32(0xDAA320AB) // 2 MAGICCODE V2
	} else {
		g.u32(0xDAA320A7) // 2 MAGICCODE V1
	}
	g.u32(CRC32(m.Body))            // 3 BODYCRC
	g.u32(uint32(m.QueueID))        // 4 QUEUEID
	g.u32(uint32(m.Flag))           // 5 FLAG
	g.u64(uint64(c.queueOffset))    // 6 QUEUEOFFSET
	g.u64(uint64(c.physicalOffset)) // 7 PHYSICALOFFSET
	g.u32(uint32(c.sysFlagOnDisk))  // 8 SYSFLAG
	g.u64(uint64(m.BornTimestamp))  // 9 BORNTIMESTAMP
	g.host(m.BornHost)              // 10 BORNHOST
	g.u64(uint64(c.storeTimestamp)) // 11 STORETIMESTAMP
	g.host(m.StoreHost)             // 12 STOREHOSTADDRESS
	g.u32(uint32(m.ReconsumeTimes)) // 13 RECONSUMETIMES
	g.u64(uint64(m.PreparedTransactionOffset))
	g.u32(uint32(len(m.Body))) // 15 BODYLEN + BODY
	g.raw(m.Body)
	if v2 { // 16 TOPICLEN + TOPIC
		g.u16(uint16(len(m.Topic)))
	} else {
		g.u8(uint8(len(m.Topic)))
	}
	g.raw([]byte(m.Topic))
	g.u16(uint16(len(m.Properties))) // 17 PROPLEN + PROPERTIES
	g.raw(m.Properties)
	return g.b
}

func TestRecordGolden(t *testing.T) {
	cases := goldenCases()
	cases = append(cases, goldenCase{
		name: "v2-long-topic",
		msg: Message{Topic: "%RETRY%" + strings.Repeat("g", 200), Body: []byte("retry"),
			BornHost: hostV4a, StoreHost: hostV4b, Properties: Properties("RETRY_TOPIC\x01T\x02")},
		queueOffset: 5, physicalOffset: 6, storeTimestamp: 7,
	})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := expectedRecord(c)
			if got := RecordSize(&c.msg); got != len(want) {
				t.Fatalf("RecordSize = %d, want %d", got, len(want))
			}
			prefix := []byte("prefix")
			got, err := AppendRecord(prefix, &c.msg)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got[:len(prefix)], []byte("prefix")) {
				t.Fatalf("prefix clobbered")
			}
			rec := got[len(prefix):]
			PatchRecord(rec, c.queueOffset, c.physicalOffset, c.storeTimestamp)
			if !bytes.Equal(rec, want) {
				t.Fatalf("record mismatch\n got %x\nwant %x", rec, want)
			}

			var r Record
			n, err := DecodeRecord(append(rec, 0xEE, 0xEE), &r, true)
			if err != nil || n != len(want) {
				t.Fatalf("DecodeRecord = %d, %v", n, err)
			}
			m := c.msg
			if r.TotalSize != int32(len(want)) || r.QueueID != m.QueueID || r.Flag != m.Flag ||
				r.QueueOffset != c.queueOffset || r.PhysicalOffset != c.physicalOffset ||
				r.SysFlag != c.sysFlagOnDisk || r.BornTimestamp != m.BornTimestamp ||
				r.BornHost != m.BornHost || r.StoreTimestamp != c.storeTimestamp || r.StoreHost != m.StoreHost ||
				r.ReconsumeTimes != m.ReconsumeTimes || r.PreparedTransactionOffset != m.PreparedTransactionOffset ||
				!bytes.Equal(r.Body, m.Body) || string(r.Topic) != m.Topic || !bytes.Equal(r.Properties, m.Properties) ||
				r.BodyCRC != CRC32(m.Body) {
				t.Fatalf("decoded %+v\nfrom %+v", r, m)
			}
			if r.TagsCode() != c.msg.TagsCode() || (c.msg.Tags() != "" && r.TagsCode() != TagsHashCode(c.msg.Tags())) {
				t.Fatalf("TagsCode %d", r.TagsCode())
			}
			wantMagic := MagicV1
			if len(m.Topic) > 127 {
				wantMagic = MagicV2
			}
			if r.Magic != wantMagic {
				t.Fatalf("magic %#x", r.Magic)
			}
			back := r.Message()
			m.SysFlag = c.sysFlagOnDisk
			if back.Topic != m.Topic || !bytes.Equal(back.Body, m.Body) || !bytes.Equal(back.Properties, m.Properties) ||
				back.BornHost != m.BornHost || back.StoreHost != m.StoreHost || back.SysFlag != m.SysFlag ||
				back.QueueID != m.QueueID || back.Flag != m.Flag || back.BornTimestamp != m.BornTimestamp ||
				back.ReconsumeTimes != m.ReconsumeTimes || back.PreparedTransactionOffset != m.PreparedTransactionOffset {
				t.Fatalf("Message() = %+v, want %+v", back, m)
			}
			// The copy owns its memory.
			if len(rec) > 0 && len(back.Body) > 0 {
				rec[len(rec)-1] ^= 0xFF
				if &back.Body[0] == &r.Body[0] {
					t.Fatal("Message() body aliases the record")
				}
			}
		})
	}
}

// TestRecordGoldenLiteral pins one record as literal bytes, so a change in
// both encoder and the field-by-field builder cannot go unnoticed.
func TestRecordGoldenLiteral(t *testing.T) {
	m := Message{Topic: "T", QueueID: 1, Flag: 2, Body: []byte("hi"), BornTimestamp: 3,
		BornHost: netip.MustParseAddrPort("1.2.3.4:5"), StoreHost: netip.MustParseAddrPort("6.7.8.9:10"),
		ReconsumeTimes: 4, PreparedTransactionOffset: 5, Properties: Properties("A\x01B\x02")}
	want := "" +
		"00000062" + // TOTALSIZE 98 = 91 + 2 + 1 + 4
		"daa320a7" + // MAGICCODE
		"58932aac" + // BODYCRC: crc32("hi") = 0xd8932aac (python zlib.crc32), masked
		"00000001" + // QUEUEID
		"00000002" + // FLAG
		"000000000000000b" + // QUEUEOFFSET 11
		"000000000000000c" + // PHYSICALOFFSET 12
		"00000000" + // SYSFLAG
		"0000000000000003" + // BORNTIMESTAMP
		"01020304" + "00000005" + // BORNHOST
		"000000000000000d" + // STORETIMESTAMP 13
		"06070809" + "0000000a" + // STOREHOST
		"00000004" + // RECONSUMETIMES
		"0000000000000005" + // PREPAREDTRANSACTIONOFFSET
		"00000002" + "6869" + // BODY
		"01" + "54" + // TOPIC
		"0004" + "41014202" // PROPERTIES
	rec, err := AppendRecord(nil, &m)
	if err != nil {
		t.Fatal(err)
	}
	PatchRecord(rec, 11, 12, 13)
	if got := hexString(rec); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	var s strings.Builder
	for _, c := range b {
		s.WriteByte(digits[c>>4])
		s.WriteByte(digits[c&0xF])
	}
	return s.String()
}

func TestCRC32(t *testing.T) {
	for _, c := range []struct {
		in   string
		want uint32
	}{
		{"", 0},
		{"hi", 0x58932aac},                     // 0xd8932aac & 0x7fffffff
		{"123456789", 0xcbf43926 & 0x7fffffff}, // the CRC-32 check value
	} {
		if got := CRC32([]byte(c.in)); got != c.want {
			t.Errorf("CRC32(%q) = %#x, want %#x", c.in, got, c.want)
		}
	}
}

func TestStoreTimestampOffset(t *testing.T) {
	if StoreTimestampOffset(0) != 56 || StoreTimestampOffset(SysFlagBornHostV6) != 68 || StoreTimestampOffset(SysFlagStoreHostV6) != 56 {
		t.Fatal("StoreTimestampOffset")
	}
}

func TestAppendRecordHosts(t *testing.T) {
	for _, c := range []struct {
		name        string
		born, store netip.AddrPort
		wantBorn    netip.AddrPort
		wantStore   netip.AddrPort
		flag        int32
	}{
		{"zero hosts", netip.AddrPort{}, netip.AddrPort{}, netip.MustParseAddrPort("0.0.0.0:0"), netip.MustParseAddrPort("0.0.0.0:0"), 0},
		{"v4-mapped", netip.MustParseAddrPort("[::ffff:1.2.3.4]:80"), hostV4b, netip.MustParseAddrPort("1.2.3.4:80"), hostV4b, 0},
		{"zone dropped", netip.MustParseAddrPort("[fe80::1%eth0]:80"), hostV4b, netip.MustParseAddrPort("[fe80::1]:80"), hostV4b, SysFlagBornHostV6},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := Message{Topic: "t", BornHost: c.born, StoreHost: c.store}
			rec, err := AppendRecord(nil, &m)
			if err != nil {
				t.Fatal(err)
			}
			if len(rec) != RecordSize(&m) {
				t.Fatalf("len %d RecordSize %d", len(rec), RecordSize(&m))
			}
			var r Record
			if _, err := DecodeRecord(rec, &r, true); err != nil {
				t.Fatal(err)
			}
			if r.BornHost != c.wantBorn || r.StoreHost != c.wantStore || r.SysFlag != c.flag {
				t.Fatalf("got %v %v %#x", r.BornHost, r.StoreHost, r.SysFlag)
			}
		})
	}
}

func TestAppendRecordErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		m    Message
		err  error
	}{
		{"topic too long", Message{Topic: strings.Repeat("t", MaxTopicLength+1)}, ErrTopicTooLong},
		{"properties too long", Message{Topic: "t", Properties: make(Properties, MaxPropertiesLength+1)}, ErrPropertiesTooLong},
	} {
		t.Run(c.name, func(t *testing.T) {
			dst := []byte("keep")
			got, err := AppendRecord(dst, &c.m)
			if !errors.Is(err, c.err) || string(got) != "keep" {
				t.Fatalf("got %q, %v", got, err)
			}
		})
	}
	// The limits themselves are fine.
	m := Message{Topic: strings.Repeat("t", MaxTopicLength), Properties: make(Properties, MaxPropertiesLength)}
	rec, err := AppendRecord(nil, &m)
	if err != nil {
		t.Fatal(err)
	}
	var r Record
	if _, err := DecodeRecord(rec, &r, true); err != nil || len(r.Topic) != MaxTopicLength || len(r.Properties) != MaxPropertiesLength {
		t.Fatalf("%v %d %d", err, len(r.Topic), len(r.Properties))
	}
}

func TestBlankRecord(t *testing.T) {
	b := AppendBlankRecord([]byte("x"), 1000)
	if hexString(b[1:]) != "000003e8cbd43194" {
		t.Fatalf("%x", b)
	}
	var r Record
	n, err := DecodeRecord(b[1:], &r, true)
	if !errors.Is(err, ErrBlank) || n != 1000 || errors.Is(err, ErrCorrupt) {
		t.Fatalf("%d %v", n, err)
	}
	if r.Magic != MagicBlank || r.TotalSize != 1000 {
		t.Fatalf("%+v", r)
	}
	n, err = DecodeRecord(AppendBlankRecord(nil, 7), &r, true)
	if !errors.Is(err, ErrSizeMismatch) || n != 0 {
		t.Fatalf("blank of 7: %d %v", n, err)
	}
}

func TestDecodeRecordErrors(t *testing.T) {
	c := goldenCases()[0]
	good, _ := AppendRecord(nil, &c.msg)
	put32 := func(off int, v uint32) []byte {
		b := bytes.Clone(good)
		binary.BigEndian.PutUint32(b[off:], v)
		return b
	}
	// Offsets in the IPv4/IPv4 record.
	bodyLenOff := 84
	topicLenOff := 88 + len(c.msg.Body)
	propLenOff := topicLenOff + 1 + len(c.msg.Topic)
	flipped := bytes.Clone(good)
	flipped[88] ^= 1
	for _, tc := range []struct {
		name string
		b    []byte
		want error
	}{
		{"nil", nil, ErrShortBuffer},
		{"7 bytes", good[:7], ErrShortBuffer},
		{"torn", good[:len(good)-1], ErrShortBuffer},
		{"zero header", make([]byte, 200), ErrEmpty},
		{"bad magic", put32(4, 0x12345678), ErrBadMagic},
		{"total too small", put32(0, 90), ErrSizeMismatch},
		{"total negative", put32(0, 0x80000000), ErrSizeMismatch},
		{"total too large", put32(0, uint32(len(good)+1)), ErrShortBuffer},
		{"body len negative", put32(bodyLenOff, 0xFFFFFFFF), ErrSizeMismatch},
		{"body len too big", put32(bodyLenOff, uint32(len(good))), ErrSizeMismatch},
		{"body len short", put32(bodyLenOff, uint32(len(c.msg.Body)-1)), ErrSizeMismatch},
		{"topic len negative", func() []byte { b := bytes.Clone(good); b[topicLenOff] = 0x80; return b }(), ErrSizeMismatch},
		{"topic len off", func() []byte { b := bytes.Clone(good); b[topicLenOff]++; return b }(), ErrSizeMismatch},
		{"prop len off", func() []byte { b := bytes.Clone(good); b[propLenOff+1]--; return b }(), ErrSizeMismatch},
		{"prop len negative", func() []byte { b := bytes.Clone(good); b[propLenOff] = 0xFF; return b }(), ErrSizeMismatch},
		{"v6 flag on v4 record", put32(36, uint32(SysFlagBornHostV6)), ErrSizeMismatch},
		{"v2 magic on v1 record", put32(4, MagicV2), ErrSizeMismatch},
		{"body crc", flipped, ErrBodyCRC},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r Record
			n, err := DecodeRecord(tc.b, &r, true)
			if !errors.Is(err, tc.want) || !errors.Is(err, ErrCorrupt) || n != 0 {
				t.Fatalf("got %d, %v; want %v", n, err, tc.want)
			}
		})
	}
	// Without verification a bad CRC passes.
	var r Record
	if n, err := DecodeRecord(flipped, &r, false); err != nil || n != len(good) {
		t.Fatalf("no verify: %d %v", n, err)
	}
	if !errors.Is(ErrEmpty, ErrBadMagic) {
		t.Fatal("ErrEmpty is not ErrBadMagic")
	}
}

// TestDecodeRecordTornTail cuts a record at every byte: the prefix never
// decodes as a record.
func TestDecodeRecordTornTail(t *testing.T) {
	for _, c := range goldenCases() {
		rec, _ := AppendRecord(nil, &c.msg)
		for i := range len(rec) {
			var r Record
			n, err := DecodeRecord(rec[:i], &r, true)
			if err == nil || n != 0 || !errors.Is(err, ErrCorrupt) {
				t.Fatalf("%s cut at %d: %d %v", c.name, i, n, err)
			}
		}
	}
}

// TestDecodeRecordSequence decodes records back to back, as a commitlog
// reader walks a segment, ending at a blank record.
func TestDecodeRecordSequence(t *testing.T) {
	var seg []byte
	var sizes []int
	for i, c := range goldenCases() {
		start := len(seg)
		var err error
		seg, err = AppendRecord(seg, &c.msg)
		if err != nil {
			t.Fatal(err)
		}
		PatchRecord(seg[start:], int64(i), int64(start), int64(1000+i))
		sizes = append(sizes, len(seg)-start)
	}
	end := len(seg)
	seg = AppendBlankRecord(seg, 64)
	seg = append(seg, make([]byte, 56)...)
	pos := 0
	for i := range sizes {
		var r Record
		n, err := DecodeRecord(seg[pos:], &r, true)
		if err != nil || n != sizes[i] || r.PhysicalOffset != int64(pos) || r.QueueOffset != int64(i) || r.StoreTimestamp != int64(1000+i) {
			t.Fatalf("record %d at %d: n=%d err=%v %+v", i, pos, n, err, r)
		}
		pos += n
	}
	if pos != end {
		t.Fatal("did not end at the blank")
	}
	var r Record
	if n, err := DecodeRecord(seg[pos:], &r, true); !errors.Is(err, ErrBlank) || pos+n != len(seg) {
		t.Fatalf("blank: %d %v", n, err)
	}
}

func TestRecordAllocs(t *testing.T) {
	c := goldenCases()[0]
	buf := make([]byte, 0, 4096)
	var r Record
	rec, _ := AppendRecord(nil, &c.msg)
	allocs := testing.AllocsPerRun(100, func() {
		b, err := AppendRecord(buf[:0], &c.msg)
		if err != nil {
			t.Fatal(err)
		}
		PatchRecord(b, 1, 2, 3)
		if _, err := DecodeRecord(rec, &r, true); err != nil {
			t.Fatal(err)
		}
		if _, err := DecodeRecord(rec[:10], &r, true); err == nil {
			t.Fatal("no error")
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocs per run", allocs)
	}
}
