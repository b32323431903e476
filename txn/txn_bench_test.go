package txn_test

import (
	"bytes"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/store"
)

// BenchmarkTransaction compares prepare+commit of 1 KiB messages with a
// plain Put of the same messages through the real store (async flush), one
// goroutine and 16. RocketMQ writes three records per transaction (half,
// restored, op); mqstore batches the op markers, so the goal is at least
// half the plain Put rate. Compare the msgs/s of the two sub-benchmarks.
func BenchmarkTransaction(b *testing.B) {
	body := bytes.Repeat([]byte("x"), 1024)
	for _, par := range []int{1, 16} {
		for _, kind := range []string{"put", "prepare+commit"} {
			b.Run(fmt.Sprintf("%s/goroutines=%d", kind, par), func(b *testing.B) {
				opts := storeOptions()
				opts.CommitLogSegmentSize = 256 << 20
				opts.ConsumeQueueUnits = 300_000
				opts.DisableIndex = true
				opts.FlushInterval = 500 * time.Millisecond
				s, err := store.Open(b.TempDir(), opts)
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				svc := s.Transactions()
				b.SetBytes(int64(len(body)))
				b.ReportAllocs()
				b.SetParallelism(par)
				cpu0 := processCPU()
				start := time.Now()
				if par == 1 {
					b.SetParallelism(1)
				}
				run := func(pb *testing.PB) {
					for pb.Next() {
						m := message.New(realTopic, body)
						m.SetTags("t")
						if kind == "put" {
							if _, err := s.Put(m); err != nil {
								b.Error(err)
								return
							}
							continue
						}
						r, err := svc.Prepare(m, group)
						if err != nil {
							b.Error(err)
							return
						}
						if _, err := svc.Commit(r.HalfOffset, group, r.QueueOffset); err != nil {
							b.Error(err)
							return
						}
					}
				}
				if par == 1 {
					// RunParallel would start GOMAXPROCS goroutines; one is wanted.
					pb := onePB(b.N)
					for pb.next() {
						m := message.New(realTopic, body)
						m.SetTags("t")
						if kind == "put" {
							if _, err := s.Put(m); err != nil {
								b.Fatal(err)
							}
							continue
						}
						r, err := svc.Prepare(m, group)
						if err != nil {
							b.Fatal(err)
						}
						if _, err := svc.Commit(r.HalfOffset, group, r.QueueOffset); err != nil {
							b.Fatal(err)
						}
					}
				} else {
					b.SetParallelism(par) // par × GOMAXPROCS goroutines
					b.RunParallel(run)
				}
				b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
				// CPU time of the whole process (store goroutines included) per
				// message: steadier than wall time on a shared machine.
				b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
				if err := svc.Flush(); err != nil {
					b.Fatal(err)
				}
			})
		}
	}
}

// processCPU is the user + system CPU time the process used so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type counter struct{ left int }

func onePB(n int) *counter    { return &counter{left: n} }
func (c *counter) next() bool { c.left--; return c.left >= 0 }
