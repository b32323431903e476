package commitlog

import (
	"net/netip"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/mqstore/mqstore/internal/mapped"
	"github.com/mqstore/mqstore/message"
)

// benchSegmentSize keeps benchmark disk use moderate while still rolling segments.
const benchSegmentSize = 256 << 20

var benchSizes = []struct {
	name string
	size int
}{
	{"128B", 128},
	{"1KiB", 1024},
	{"4KiB", 4096},
}

func benchMessage(size int) *message.Message {
	m := message.New("BenchTopic", make([]byte, size))
	m.BornHost = netip.MustParseAddrPort("10.0.0.1:40000")
	m.StoreHost = netip.MustParseAddrPort("10.0.0.2:10911")
	m.BornTimestamp = time.Now().UnixMilli()
	m.SetTags("TagA")
	m.SetKeys("order-1")
	m.SetProperty(message.PropertyUniqKey, "0A0000010000000000000000000000")
	return m
}

func openBench(b *testing.B, mode FlushMode) *CommitLog {
	b.Helper()
	c, err := Open(b.TempDir(), Options{SegmentSize: benchSegmentSize, FlushMode: mode})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

// BenchmarkAppend measures Append: single goroutine and RunParallel under async flush, and 256
// concurrent appenders under sync flush (group commit). msgs/s is reported as a metric.
func BenchmarkAppend(b *testing.B) {
	for _, sz := range benchSizes {
		b.Run(sz.name+"/async", func(b *testing.B) {
			c := openBench(b, AsyncFlush)
			m := benchMessage(sz.size)
			b.SetBytes(int64(message.RecordSize(m)))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := c.Append(m); err != nil {
					b.Fatal(err)
				}
			}
			reportRate(b)
			b.ReportMetric(float64(c.Stats().MaxRollNanos)/1e3, "max-roll-µs")
		})
		b.Run(sz.name+"/async-parallel", func(b *testing.B) {
			c := openBench(b, AsyncFlush)
			b.SetBytes(int64(message.RecordSize(benchMessage(sz.size))))
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				m := benchMessage(sz.size)
				for pb.Next() {
					if _, err := c.Append(m); err != nil {
						b.Fatal(err)
					}
				}
			})
			reportRate(b)
		})
		b.Run(sz.name+"/sync-256", func(b *testing.B) {
			c := openBench(b, SyncFlush)
			b.SetBytes(int64(message.RecordSize(benchMessage(sz.size))))
			b.ReportAllocs()
			b.SetParallelism(max(1, 256/maxProcs()))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				m := benchMessage(sz.size)
				for pb.Next() {
					if _, err := c.Append(m); err != nil {
						b.Fatal(err)
					}
				}
			})
			reportRate(b)
			st := c.Stats()
			if st.Syncs > 0 {
				b.ReportMetric(float64(st.Appends)/float64(st.Syncs), "appends/sync")
			}
		})
	}
}

// BenchmarkAppendLatency times every Append across several segment rolls (64 MiB segments) and
// reports the slowest one and how many took over 1 ms: a roll, the warmer or the flusher must not
// stall the writer. The sub-benchmarks: 4 KiB pages or huge pages for the segment mappings, and
// the background threads (warmer, allocator, async flusher) at the process's priority (the
// default) or at nice 10.
func BenchmarkAppendLatency(b *testing.B) {
	for _, v := range []struct {
		name     string
		small    bool
		nice     int
		resident int64
	}{
		{"pages-4k/nice-0", true, 0, 0},
		{"pages-huge/nice-0", false, 0, 0},
		{"pages-huge/nice-10", false, 10, 0},
		{"pages-huge/resident-256M", false, 0, 256 << 20},
	} {
		b.Run(v.name, func(b *testing.B) {
			c, err := Open(b.TempDir(), Options{SegmentSize: 64 << 20, NoHugePages: v.small, BackgroundNice: v.nice, ResidentBytes: v.resident})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			m := benchMessage(1024)
			b.SetBytes(int64(message.RecordSize(m)))
			b.ReportAllocs()
			var worst time.Duration
			over := 0
			for b.Loop() {
				start := time.Now()
				if _, err := c.Append(m); err != nil {
					b.Fatal(err)
				}
				if d := time.Since(start); d > time.Millisecond {
					over++
					worst = max(worst, d)
				}
			}
			reportRate(b)
			b.ReportMetric(float64(worst.Microseconds()), "max-µs")
			b.ReportMetric(float64(over), "over-1ms")
			b.ReportMetric(float64(c.Stats().Rolls), "rolls")
		})
	}
}

// BenchmarkCeiling copies the same record bytes into fresh mapped segments of the same size,
// rolling like the commitlog does: the bound Append is measured against (append/ceiling).
func BenchmarkCeiling(b *testing.B) {
	for _, sz := range benchSizes {
		b.Run(sz.name, func(b *testing.B) {
			m := benchMessage(sz.size)
			rec, err := message.AppendRecord(nil, m)
			if err != nil {
				b.Fatal(err)
			}
			q, err := mapped.OpenQueue(filepath.Join(b.TempDir(), "ceiling"), mapped.QueueOptions{FileSize: benchSegmentSize, Preallocate: true})
			if err != nil {
				b.Fatal(err)
			}
			defer q.Close()
			b.SetBytes(int64(len(rec)))
			b.ReportAllocs()
			b.ResetTimer()
			f, _ := q.LastOrCreate(0)
			for b.Loop() {
				if f.Remaining() < int64(len(rec)) {
					if f, err = q.Roll(0); err != nil {
						b.Fatal(err)
					}
				}
				copy(f.Reserve(len(rec)), rec)
				f.Publish(len(rec))
			}
			reportRate(b)
		})
	}
}

func reportRate(b *testing.B) {
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(b.N)/s, "msgs/s")
	}
}

func maxProcs() int { return runtime.GOMAXPROCS(0) }
