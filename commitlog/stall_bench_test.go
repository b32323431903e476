package commitlog

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// BenchmarkAppendStallTrace (MQSTORE_STALL_TRACE=1) appends from one goroutine locked to its OS
// thread, timing every Append; a watcher reads the thread's kernel stack (/proc/self/task/TID/stack,
// root only) whenever an append has been running for more than 1 ms, and counts the stacks seen. It
// prints the stall stacks and /proc/vmstat dirty/writeback at the worst stall: evidence of where
// the writer waits while write-back runs.
func BenchmarkAppendStallTrace(b *testing.B) {
	if os.Getenv("MQSTORE_STALL_TRACE") == "" {
		b.Skip("set MQSTORE_STALL_TRACE=1")
	}
	c, err := Open(b.TempDir(), Options{SegmentSize: 64 << 20})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	m := benchMessage(1024)
	b.SetBytes(int64(1024))
	var (
		tid      atomic.Int64
		started  atomic.Int64 // unix nanos of the append in progress, 0 when none
		stop     = make(chan struct{})
		finished = make(chan struct{})
		stacks   = map[string]int{}
	)
	go func() {
		defer close(finished)
		t := time.NewTicker(200 * time.Microsecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			s := started.Load()
			if s == 0 || time.Now().UnixNano()-s < int64(time.Millisecond) {
				continue
			}
			raw, err := os.ReadFile(fmt.Sprintf("/proc/self/task/%d/stack", tid.Load()))
			if err != nil {
				continue
			}
			var fns []string
			for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
				if i := strings.Index(line, "] "); i >= 0 {
					fn := line[i+2:]
					if j := strings.Index(fn, "+"); j >= 0 {
						fn = fn[:j]
					}
					fns = append(fns, fn)
				}
			}
			stacks[strings.Join(fns, " < ")]++
		}
	}()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	tid.Store(int64(syscall.Gettid()))
	var lat []time.Duration
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		started.Store(start.UnixNano())
		if _, err := c.Append(m); err != nil {
			b.Fatal(err)
		}
		started.Store(0)
		if d := time.Since(start); d > 500*time.Microsecond {
			lat = append(lat, d)
		}
	}
	b.StopTimer()
	close(stop)
	<-finished
	sort.Slice(lat, func(i, j int) bool { return lat[i] > lat[j] })
	b.Logf("writer tid %d; appends > 0.5 ms: %d, worst: %v", tid.Load(), len(lat), lat[:min(10, len(lat))])
	type kv struct {
		s string
		n int
	}
	var all []kv
	for s, n := range stacks {
		all = append(all, kv{s, n})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].n > all[j].n })
	for _, e := range all[:min(12, len(all))] {
		b.Logf("%5d samples (0.2 ms each): %s", e.n, e.s)
	}
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[0].Microseconds()), "max-µs")
	}
}
