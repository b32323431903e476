package txn_test

import (
	"github.com/mqstore/mqstore/bench/report"

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
				cpu0, flt0 := report.ProcessCPU(), minorFaults()
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
				b.ReportMetric(float64(report.ProcessCPU()-cpu0)/float64(b.N), "cpu-ns/op")
				// Page faults of the process (the writer's and the warm-up's).
				b.ReportMetric(float64(minorFaults()-flt0)/float64(b.N), "faults/op")
				if err := svc.Flush(); err != nil {
					b.Fatal(err)
				}
			})
		}
	}
}

// minorFaults is the number of minor page faults of the process so far.
func minorFaults() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Minflt
}

type counter struct{ left int }

func onePB(n int) *counter    { return &counter{left: n} }
func (c *counter) next() bool { c.left--; return c.left >= 0 }

// BenchmarkTransactionVsPut measures plain puts and prepare+commit in one
// store, alternating chunks of each, so both run under the same conditions:
// the same segments, warm-up state and page-cache pressure. (Separate
// sub-benchmarks each open a fresh store; the cost of faulting in new log
// pages then differs by several times between runs, by what the machine's
// memory did just before, and it is a third of a transaction's CPU.)
// b.N is the number of each. put-cpu-ns and txn-cpu-ns are the process's
// CPU time per operation during the chunks of each kind (background work
// such as warm-up and dispatch is charged to the chunk it overlaps);
// txn/put is put-cpu-ns ÷ txn-cpu-ns, the goal being ≥ 0.5.
func BenchmarkTransactionVsPut(b *testing.B) {
	const chunk = 4096
	body := bytes.Repeat([]byte("x"), 1024)
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
	b.ReportAllocs()
	var putCPU, txnCPU, putWall, txnWall time.Duration
	var putFlt, txnFlt int64
	for done := 0; done < b.N; {
		n := min(chunk, b.N-done)
		cpu0, t0, f0 := report.ProcessCPU(), time.Now(), minorFaults()
		for range n {
			m := message.New(realTopic, body)
			m.SetTags("t")
			if _, err := s.Put(m); err != nil {
				b.Fatal(err)
			}
		}
		cpu1, t1, f1 := report.ProcessCPU(), time.Now(), minorFaults()
		for range n {
			m := message.New(realTopic, body)
			m.SetTags("t")
			r, err := svc.Prepare(m, group)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := svc.Commit(r.HalfOffset, group, r.QueueOffset); err != nil {
				b.Fatal(err)
			}
		}
		cpu2, t2, f2 := report.ProcessCPU(), time.Now(), minorFaults()
		putFlt += f1 - f0
		txnFlt += f2 - f1
		putCPU += cpu1 - cpu0
		txnCPU += cpu2 - cpu1
		putWall += t1.Sub(t0)
		txnWall += t2.Sub(t1)
		done += n
	}
	if err := svc.Flush(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(putCPU)/float64(b.N), "put-cpu-ns")
	b.ReportMetric(float64(txnCPU)/float64(b.N), "txn-cpu-ns")
	b.ReportMetric(float64(putCPU)/float64(txnCPU), "txn/put-cpu")
	b.ReportMetric(float64(putWall)/float64(txnWall), "txn/put-wall")
	b.ReportMetric(float64(putFlt)/float64(b.N), "put-faults")
	b.ReportMetric(float64(txnFlt)/float64(b.N), "txn-faults")
}
