package report

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime/metrics"
	"strconv"
	"time"
)

// schedLatencies is the runtime metric of the time goroutines spent
// runnable before they ran: the wait for a P (a core the Go scheduler may
// use). Cumulative since the process started.
const schedLatencies = "/sched/latencies:seconds"

// schedSnapshot is the process's scheduling waits so far: the Go
// scheduler's histogram of goroutine waits and the kernel's run-queue delay
// of the process's threads. Finish reports the difference between two.
type schedSnapshot struct {
	counts  []uint64  // schedLatencies bucket counts
	buckets []float64 // its bucket boundaries (seconds), len(counts)+1
	// runDelay is the sum over the process's threads of the time they were
	// runnable but waiting for a CPU (/proc/self/task/*/schedstat, second
	// field); -1 where the kernel does not say. Threads that exit take their
	// share with them, so a difference is a lower bound.
	runDelay time.Duration
}

// takeSched reads the scheduling waits now.
func takeSched() schedSnapshot {
	s := []metrics.Sample{{Name: schedLatencies}}
	metrics.Read(s)
	var snap schedSnapshot
	if s[0].Value.Kind() == metrics.KindFloat64Histogram {
		h := s[0].Value.Float64Histogram()
		snap.counts = append([]uint64(nil), h.Counts...)
		snap.buckets = h.Buckets
	}
	snap.runDelay = threadsRunDelay("/proc/self/task")
	return snap
}

// threadsRunDelay sums the run-queue delay of every thread under dir (a
// /proc/PID/task directory); -1 when none can be read.
func threadsRunDelay(dir string) time.Duration {
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return -1
	}
	var sum time.Duration
	read := false
	for _, t := range tasks {
		b, err := os.ReadFile(filepath.Join(dir, t.Name(), "schedstat"))
		if err != nil {
			continue // the thread exited
		}
		if d, ok := parseRunDelay(b); ok {
			sum += d
			read = true
		}
	}
	if !read {
		return -1
	}
	return sum
}

// parseRunDelay reads the second field of a schedstat line ("time on the
// CPU, time waiting on a run queue, time slices", in ns).
func parseRunDelay(line []byte) (time.Duration, bool) {
	f := bytes.Fields(line)
	if len(f) < 2 {
		return 0, false
	}
	ns, err := strconv.ParseInt(string(f[1]), 10, 64)
	if err != nil || ns < 0 {
		return 0, false
	}
	return time.Duration(ns), true
}

// Sched is how long the run's work waited for a core: the evidence that a
// latency tail is CPU wait rather than I/O or a lock.
type Sched struct {
	// GoroutineWaits is the number of sampled times a goroutine became
	// runnable during the run (the runtime tracks about one in eight); the
	// percentiles are of the time each waited for a P.
	GoroutineWaits  uint64  `json:"goroutine_waits"`
	GoroutineP50us  float64 `json:"goroutine_wait_p50_us"`
	GoroutineP99us  float64 `json:"goroutine_wait_p99_us"`
	GoroutineP999us float64 `json:"goroutine_wait_p999_us"`
	// ThreadWaitMsPerSec is the time the process's threads spent runnable
	// but waiting for a CPU, per second of the run (1000 = on average one
	// thread waiting the whole time); omitted where the kernel does not say.
	ThreadWaitMsPerSec float64 `json:"thread_wait_ms_per_sec,omitempty"`
	// Cores is the process's CPU time per second of the run.
	Cores float64 `json:"cores"`
}

// since fills a Sched with the waits between s0 and now, over secs seconds
// of which cpu was spent on a CPU.
func (s0 schedSnapshot) since(now schedSnapshot, secs float64, cpu time.Duration) *Sched {
	if secs <= 0 {
		return nil
	}
	out := &Sched{Cores: cpu.Seconds() / secs}
	if len(now.counts) == len(s0.counts) && len(now.counts) > 0 {
		d := make([]uint64, len(now.counts))
		for i := range d {
			d[i] = now.counts[i] - s0.counts[i]
			out.GoroutineWaits += d[i]
		}
		out.GoroutineP50us = histQuantile(d, now.buckets, out.GoroutineWaits, 0.50) * 1e6
		out.GoroutineP99us = histQuantile(d, now.buckets, out.GoroutineWaits, 0.99) * 1e6
		out.GoroutineP999us = histQuantile(d, now.buckets, out.GoroutineWaits, 0.999) * 1e6
	}
	if s0.runDelay >= 0 && now.runDelay >= s0.runDelay {
		out.ThreadWaitMsPerSec = float64(now.runDelay-s0.runDelay) / 1e6 / secs
	}
	return out
}

// histQuantile returns the upper boundary of the bucket that holds the q
// quantile of counts (the runtime's buckets are at most ~12 % wide); an
// infinite boundary gives the bucket's lower one.
func histQuantile(counts []uint64, buckets []float64, total uint64, q float64) float64 {
	if total == 0 {
		return 0
	}
	rank := uint64(q * float64(total))
	if rank >= total {
		rank = total - 1
	}
	var seen uint64
	for i, c := range counts {
		seen += c
		if seen > rank {
			hi := buckets[i+1]
			if hi > 1e300 { // +Inf
				return buckets[i]
			}
			return hi
		}
	}
	return buckets[len(buckets)-1]
}
