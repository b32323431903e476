package txn

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkCheckRound measures one check round (fake store) with many open
// transactions, due or not yet due, and with few open among many resolved:
// the cost follows the open count, not the resolved count.
func BenchmarkCheckRound(b *testing.B) {
	cases := []struct {
		open, resolved int
		due            bool
	}{
		{open: 100_000, due: false},
		{open: 100_000, due: true},
		{open: 100, resolved: 0, due: true},
		{open: 100, resolved: 1_000_000, due: true},
	}
	for _, c := range cases {
		name := fmt.Sprintf("open=%d/resolved=%d/due=%v", c.open, c.resolved, c.due)
		b.Run(name, func(b *testing.B) {
			h := newHarness(b, Options{CheckMax: maxCheckCount, FileReservedTime: 1 << 62})
			for i := 0; i < c.resolved; i++ {
				r, err := h.svc.Prepare(testMessage("orders", 0, "r"), testGroup)
				if err != nil {
					b.Fatal(err)
				}
				if err := h.svc.Rollback(r.HalfOffset, testGroup, r.QueueOffset); err != nil {
					b.Fatal(err)
				}
			}
			for i := 0; i < c.open; i++ {
				if _, err := h.svc.Prepare(testMessage("orders", 0, "o"), testGroup); err != nil {
					b.Fatal(err)
				}
			}
			if err := h.svc.Flush(); err != nil {
				b.Fatal(err)
			}
			if err := h.svc.Start(always(Unknown)); err != nil {
				b.Fatal(err)
			}
			if c.due {
				h.clock.Advance(DefaultTransactionTimeout)
			}
			h.round() // first round trims the window
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := h.svc.CheckNow(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed())/float64(b.N)/float64(time.Millisecond), "ms/round")
		})
	}
}
