package store

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/mqstore/mqstore/message"
)

func benchOptions() Options {
	return Options{
		CommitLogSegmentSize: 256 << 20,
		DiskUsage:            func(string) (float64, error) { return 0.1, nil },
		CleanInterval:        time.Hour,
	}
}

func benchMessages(n, size int) []*message.Message {
	msgs := make([]*message.Message, n)
	for i := range msgs {
		m := message.New("BenchTopic", make([]byte, size))
		m.QueueID = int32(i % 16)
		m.BornHost = netip.MustParseAddrPort("10.0.0.1:40000")
		m.BornTimestamp = time.Now().UnixMilli()
		m.SetTags("TagA")
		m.SetKeys(fmt.Sprintf("order-%d", i))
		m.SetProperty(message.PropertyUniqKey, fmt.Sprintf("0A000001%024X", i))
		msgs[i] = m
	}
	return msgs
}

// BenchmarkPutDispatch measures Put of 1 KiB messages over 16 queues including dispatch (queue
// units and index entries): the timer stops when everything put is dispatched. The largest
// dispatch lag seen (bytes appended but not yet dispatched) is reported.
func BenchmarkPutDispatch(b *testing.B) {
	b.Run("1KiB", func(b *testing.B) {
		s, err := Open(b.TempDir(), benchOptions())
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		msgs := benchMessages(1024, 1024)
		b.SetBytes(int64(message.RecordSize(msgs[0])))
		b.ReportAllocs()
		var maxLag int64
		i := 0
		for b.Loop() {
			if _, err := s.Put(msgs[i%len(msgs)]); err != nil {
				b.Fatal(err)
			}
			if i%1024 == 0 {
				maxLag = max(maxLag, s.DispatchBehind())
			}
			i++
		}
		if err := s.Sync(context.Background()); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		b.ReportMetric(float64(maxLag)/1024, "max-lag-KiB")
	})
}

// BenchmarkGetMessages measures reading 1 KiB messages by queue offset in one goroutine, 32 per
// call, zero copy.
func BenchmarkGetMessages(b *testing.B) {
	b.Run("1KiB", func(b *testing.B) {
		s, err := Open(b.TempDir(), benchOptions())
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		msgs := benchMessages(1, 1024)
		const n = 200_000
		for range n {
			if _, err := s.Put(msgs[0]); err != nil {
				b.Fatal(err)
			}
		}
		if err := s.Sync(context.Background()); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(message.RecordSize(msgs[0])))
		b.ReportAllocs()
		b.ResetTimer()
		offset := int64(0)
		got := 0
		for got < b.N {
			res, err := s.GetMessages("BenchTopic", 0, offset, 32, 1<<20, nil)
			if err != nil || res.Status != Found {
				b.Fatalf("%v %v", err, res.Status)
			}
			got += len(res.Messages)
			offset = res.NextBeginOffset
			if offset >= n {
				offset = 0
			}
			res.Release()
		}
		b.ReportMetric(float64(got)/b.Elapsed().Seconds(), "msgs/s")
	})
}

// BenchmarkReopen measures Open after a clean Close and after a crash (no Close) with about
// 2 GiB of commitlog in 64 queues (MQSTORE_BENCH_REOPEN_MB changes the size). The crash reopen
// verifies the tail after the last checkpoint, not the whole log.
func BenchmarkReopen(b *testing.B) {
	mb := 2048
	if v := os.Getenv("MQSTORE_BENCH_REOPEN_MB"); v != "" {
		fmt.Sscan(v, &mb)
	}
	dir := b.TempDir()
	opts := benchOptions()
	s, err := Open(dir, opts)
	if err != nil {
		b.Fatal(err)
	}
	msgs := benchMessages(64, 4096)
	for i := range 64 {
		msgs[i].QueueID = int32(i)
	}
	batch := make([]*message.Message, 64)
	for written := 0; written < mb<<20; written += 64 * 4096 {
		copy(batch, msgs)
		if _, err := s.PutBatch(batch); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	b.Run("clean", func(b *testing.B) {
		for b.Loop() {
			s, err := Open(dir, opts)
			if err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if err := s.Close(); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
	})
	b.Run("crash", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			s, err := Open(dir, opts)
			if err != nil {
				b.Fatal(err)
			}
			// A few MiB appended after the last checkpoint, then a crash.
			for range 16 {
				copy(batch, msgs)
				if _, err := s.PutBatch(batch); err != nil {
					b.Fatal(err)
				}
			}
			crashClose(s)
			b.StartTimer()
			s, err = Open(dir, opts)
			if err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if !s.Recovery().Crashed {
				b.Fatal("not a crash recovery")
			}
			b.ReportMetric(float64(s.Recovery().Redispatched)/(1<<20), "redispatched-MiB")
			s.Close()
			b.StartTimer()
		}
	})
}
