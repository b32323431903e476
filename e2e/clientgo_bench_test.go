package e2e

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/apache/rocketmq-client-go/v2/primitive"
)

// BenchmarkClientSend measures rocketmq-client-go's SendSync of 1 KiB messages against an
// in-process broker (ASYNC_FLUSH), from 1 and 16 goroutines sharing one producer, and reports
// throughput (msgs/s) and the 99th percentile latency (p99-µs).
//
//	go test ./e2e -run '^$' -bench BenchmarkClientSend -benchtime 5000x
func BenchmarkClientSend(b *testing.B) {
	s := startServer(b, nil)
	p := newProducer(b, s.ns.addr)
	body := make([]byte, 1024)
	for i := range body {
		body[i] = byte('a' + i%26)
	}
	topic := "BenchSend"
	if _, err := p.SendSync(context.Background(), primitive.NewMessage(topic, body)); err != nil {
		b.Fatal(err)
	}
	for _, goroutines := range []int{1, 16} {
		b.Run(fmt.Sprintf("goroutines=%d", goroutines), func(b *testing.B) {
			runSends(b, goroutines, len(body), func() error {
				_, err := p.SendSync(context.Background(), primitive.NewMessage(topic, body))
				return err
			})
		})
	}
}

// runSends runs b.N sends spread over goroutines, timing each, and reports msgs/s and the p99
// latency (µs) from an HDR histogram.
func runSends(b *testing.B, goroutines, bodySize int, send func() error) {
	hists := make([]*hdrhistogram.Histogram, goroutines)
	var next atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	b.SetBytes(int64(bodySize))
	b.ReportAllocs()
	b.ResetTimer()
	for g := range goroutines {
		hists[g] = hdrhistogram.New(1, int64(10*time.Second/time.Microsecond), 3)
		wg.Add(1)
		go func(h *hdrhistogram.Histogram) {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				start := time.Now()
				if err := send(); err != nil {
					failed.Store(err)
					return
				}
				h.RecordValue(time.Since(start).Microseconds())
			}
		}(hists[g])
	}
	wg.Wait()
	b.StopTimer()
	if err := failed.Load(); err != nil {
		b.Fatal(err)
	}
	all := hdrhistogram.New(1, int64(10*time.Second/time.Microsecond), 3)
	for _, h := range hists {
		all.Merge(h)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(float64(all.ValueAtQuantile(99)), "p99-µs")
}
