package store

import (
	"strconv"
	"testing"
	"time"

	"github.com/mqstore/mqstore/message"
)

// BenchmarkTimer measures timer throughput: b.N timers due 1 to 2 s after the start are put
// (schedule) and the benchmark waits until all were delivered to their topic (fire). Below
// ~100k timers the 1-2 s due window dominates; the rate is meaningful for large b.N.
//
//	go test -run '^$' -bench BenchmarkTimer -benchtime 200000x ./store
func BenchmarkTimer(b *testing.B) {
	o := timerTestOptions()
	o.CommitLogSegmentSize = 256 << 20
	o.ConsumeQueueUnits = 300000
	o.DisableIndex = true
	s, err := Open(b.TempDir(), o)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	body := make([]byte, 128)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	due := time.Now().Add(time.Second).UnixMilli()
	for i := range b.N {
		m := message.New("Bench", body)
		m.QueueID = int32(i % 4)
		m.SetProperty(message.PropertyTimerDeliverMS, strconv.FormatInt(due+int64(i%1000), 10))
		if _, err := s.Put(m); err != nil {
			b.Fatal(err)
		}
	}
	scheduled := time.Now()
	// A timer whose time passed before its put is stored as an ordinary message: count the
	// destination queues, not the fired timers.
	delivered := func() (n int64) {
		for q := int32(0); q < 4; q++ {
			n += s.MaxOffset("Bench", q)
		}
		return n
	}
	for delivered() < int64(b.N) {
		if time.Since(scheduled) > time.Minute {
			b.Fatalf("timers not fired after a minute: %+v", s.TimerStats())
		}
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "timers/s")
}
