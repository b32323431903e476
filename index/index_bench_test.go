package index

import (
	"fmt"
	"math"
	"strconv"
	"testing"
)

// benchGeometries are the file sizes the benchmarks sweep: RocketMQ's defaults (a 420 MB file
// whose 20 MB slot table makes every put a cache miss) and a small table that fits in cache.
var benchGeometries = []struct {
	name string
	opts Options
}{
	{"default", Options{}},
	{"slots=64K", Options{HashSlots: 1 << 16, MaxEntries: 1 << 22}},
}

// BenchmarkPutMessage indexes messages with a unique key and one user key (two entries each).
// Bytes are the index entries written.
func BenchmarkPutMessage(b *testing.B) {
	for _, g := range benchGeometries {
		b.Run(g.name, func(b *testing.B) {
			ix := openIndex(b, b.TempDir(), g.opts)
			defer ix.Close()
			uniqs := make([]string, 1<<16)
			keys := make([]string, 1<<16)
			for i := range uniqs {
				uniqs[i] = fmt.Sprintf("7F000001000118B4AAC2%012X", i)
				keys[i] = "order-" + strconv.Itoa(i)
			}
			b.SetBytes(2 * EntrySize)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				j := i & (len(uniqs) - 1)
				if err := ix.PutMessage("TopicTest", uniqs[j], keys[j], 0, int64(i)*1024, ts0+int64(i)/100); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkQuery looks up keys in an index of 1,000,000 messages: a unique key (one hit) and a
// key shared by 100 messages (the 64 newest are returned).
func BenchmarkQuery(b *testing.B) {
	const n = 1_000_000
	for _, g := range benchGeometries {
		b.Run(g.name, func(b *testing.B) {
			ix := openIndex(b, b.TempDir(), g.opts)
			defer ix.Close()
			for i := range n {
				uniq := "U" + strconv.Itoa(i)
				key := "order-" + strconv.Itoa(i%(n/100))
				if err := ix.PutMessage("TopicTest", uniq, key, 0, int64(i)*1024, ts0+int64(i)); err != nil {
					b.Fatal(err)
				}
			}
			for _, q := range []struct {
				name string
				key  func(i int) string
				hits int
			}{
				{"uniq", func(i int) string { return "U" + strconv.Itoa(i*7919%n) }, 1},
				{"shared", func(i int) string { return "order-" + strconv.Itoa(i*7919%(n/100)) }, 64},
			} {
				keys := make([]string, 4096)
				for i := range keys {
					keys[i] = q.key(i)
				}
				b.Run(q.name, func(b *testing.B) {
					buf := make([]int64, 0, DefaultMaxQueryNum)
					b.ReportAllocs()
					b.ResetTimer()
					for i := range b.N {
						var err error
						buf, err = ix.AppendQuery(buf[:0], "TopicTest", keys[i&(len(keys)-1)], 0, 0, math.MaxInt64)
						if err != nil {
							b.Fatal(err)
						}
						if len(buf) < q.hits {
							b.Fatalf("%d hits, want %d", len(buf), q.hits)
						}
					}
				})
			}
		})
	}
}
