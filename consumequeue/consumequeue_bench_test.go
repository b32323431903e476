package consumequeue

import (
	"strconv"
	"testing"
)

func BenchmarkPut(b *testing.B) {
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"default", Options{Preallocate: true}},
		{"smallFiles", Options{UnitsPerFile: 10_000, Preallocate: true}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			q := openTest(b, b.TempDir(), tc.opts)
			b.SetBytes(UnitSize)
			b.ReportAllocs()
			b.ResetTimer()
			for i := int64(0); i < int64(b.N); i++ {
				if err := q.Put(i, unitFor(i)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

const benchUnits = 1 << 20

func benchQueue(b *testing.B) *ConsumeQueue {
	b.Helper()
	q := openTest(b, b.TempDir(), Options{})
	putRange(b, q, 0, benchUnits)
	return q
}

func BenchmarkGet(b *testing.B) {
	q := benchQueue(b)
	b.Run("sequential", func(b *testing.B) {
		b.SetBytes(UnitSize)
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, ok := q.Get(int64(i % benchUnits)); !ok {
				b.Fatal("missing unit")
			}
		}
	})
	b.Run("random", func(b *testing.B) {
		b.SetBytes(UnitSize)
		b.ReportAllocs()
		off := int64(12345)
		for i := 0; i < b.N; i++ {
			off = (off*6364136223846793005 + 1442695040888963407) & (1<<62 - 1)
			if _, ok := q.Get(off % benchUnits); !ok {
				b.Fatal("missing unit")
			}
		}
	})
}

// BenchmarkUnits reads units in batches, as a pull does (32 units from an offset).
func BenchmarkUnits(b *testing.B) {
	q := benchQueue(b)
	for _, batch := range []int{1, 32, 1024} {
		b.Run(strconv.Itoa(batch), func(b *testing.B) {
			b.SetBytes(UnitSize)
			b.ReportAllocs()
			var sum int64
			for i := 0; i < b.N; {
				n := 0
				q.Units(int64(i%benchUnits), func(off int64, u Unit) bool {
					sum += u.CommitLogOffset
					n++
					return n < batch
				})
				i += n
			}
			_ = sum
		})
	}
}

func BenchmarkOffsetByTime(b *testing.B) {
	q := benchQueue(b)
	storeTime := func(off int64, size int32) (int64, error) { return off, nil }
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		ts := unitFor(int64(i % benchUnits)).CommitLogOffset
		if _, err := q.OffsetByTime(ts, storeTime); err != nil {
			b.Fatal(err)
		}
	}
}
