package message

import (
	"net/netip"
	"testing"
)

var benchSizes = []struct {
	name string
	size int
}{{"128B", 128}, {"1KiB", 1024}, {"4KiB", 4096}}

func benchMessage(size int) *Message {
	m := New("BenchmarkTopic", make([]byte, size))
	for i := range m.Body {
		m.Body[i] = byte(i)
	}
	m.QueueID = 3
	m.BornTimestamp = 1700000000000
	m.BornHost = netip.MustParseAddrPort("192.168.1.20:53211")
	m.StoreHost = netip.MustParseAddrPort("10.0.0.7:10911")
	m.SetTags("TagA")
	m.SetKeys("order-1234")
	m.SetProperty(PropertyUniqKey, "C0A80114D0DB00000000000000000001")
	return m
}

// BenchmarkAppendRecord encodes a record (body CRC included) and patches the
// store fields, as the commitlog's write path does per message.
func BenchmarkAppendRecord(b *testing.B) {
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) {
			m := benchMessage(s.size)
			buf := make([]byte, 0, RecordSize(m))
			b.SetBytes(int64(RecordSize(m)))
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				rec, err := AppendRecord(buf[:0], m)
				if err != nil {
					b.Fatal(err)
				}
				PatchRecord(rec, int64(i), int64(i), 1700000000001)
			}
		})
	}
}

// BenchmarkDecodeRecord decodes a record with and without the body CRC check
// (recovery verifies; the dispatcher does not need to).
func BenchmarkDecodeRecord(b *testing.B) {
	for _, s := range benchSizes {
		for _, verify := range []bool{true, false} {
			name := s.name + "/crc"
			if !verify {
				name = s.name + "/nocrc"
			}
			b.Run(name, func(b *testing.B) {
				rec, err := AppendRecord(nil, benchMessage(s.size))
				if err != nil {
					b.Fatal(err)
				}
				var r Record
				b.SetBytes(int64(len(rec)))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := DecodeRecord(rec, &r, verify); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkPropertiesLookup(b *testing.B) {
	p := benchMessage(0).Properties
	for _, bc := range []struct {
		name, property string
		present        bool
	}{{"present", PropertyUniqKey, true}, {"absent", PropertyTransactionPrepared, false}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := p.Lookup(bc.property); ok != bc.present {
					b.Fatal(bc.property, ok)
				}
			}
		})
	}
}

func BenchmarkTagsHashCode(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		TagsHashCode("TagA||TagB")
	}
}

func BenchmarkAppendOffsetMsgID(b *testing.B) {
	host := netip.MustParseAddrPort("10.0.0.7:10911")
	buf := make([]byte, 0, OffsetMsgIDLenV6)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		AppendOffsetMsgID(buf[:0], host, int64(i))
	}
}

func BenchmarkUniqIDAppendNext(b *testing.B) {
	g := NewUniqIDGenerator(netip.MustParseAddr("10.0.0.7"))
	buf := make([]byte, 0, UniqIDLenV6)
	b.ReportAllocs()
	for b.Loop() {
		g.AppendNext(buf[:0])
	}
}
