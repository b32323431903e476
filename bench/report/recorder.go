package report

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Latencies are recorded in nanoseconds, from 1 ns to maxLatency, with 3
// significant digits.
const (
	maxLatency = int64(60 * time.Second)
	sigFigs    = 3
)

// Point is one second of a run: its rate and latency percentiles.
type Point struct {
	Second    float64 // seconds since the start, at the end of the interval
	Msgs      int64   // messages completed in the interval
	PerSecond float64 // messages per second
	P50, P99  time.Duration
	Max       time.Duration
	Errors    int64
}

// Recorder collects a run's measurements. Its methods are safe for
// concurrent use.
type Recorder struct {
	start time.Time
	cpu0  time.Duration // ProcessCPU at start
	sch0  schedSnapshot // scheduling waits at start

	mu       sync.Mutex // guards total, interval, series and last
	total    *hdrhistogram.Histogram
	interval *hdrhistogram.Histogram
	series   []Point
	last     time.Time
	lastMsgs int64
	lastErrs int64

	msgs   atomic.Int64
	bytes  atomic.Int64
	errors atomic.Int64

	quit chan struct{}
	done chan struct{}
}

// NewRecorder returns a recorder whose clock starts now.
func NewRecorder() *Recorder {
	now := time.Now()
	return &Recorder{
		start:    now,
		cpu0:     ProcessCPU(),
		sch0:     takeSched(),
		last:     now,
		total:    hdrhistogram.New(1, maxLatency, sigFigs),
		interval: hdrhistogram.New(1, maxLatency, sigFigs),
	}
}

// Restart resets the clock and every count (after a warm-up or fill phase).
func (r *Recorder) Restart() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.start = time.Now()
	r.cpu0 = ProcessCPU()
	r.sch0 = takeSched()
	r.last = r.start
	r.total.Reset()
	r.interval.Reset()
	r.series = nil
	r.lastMsgs, r.lastErrs = 0, 0
	r.msgs.Store(0)
	r.bytes.Store(0)
	r.errors.Store(0)
}

// Record counts msgs messages of bytes payload bytes, completed with one
// latency (a batch is one latency for all its messages).
func (r *Recorder) Record(latency time.Duration, msgs, bytes int) {
	r.msgs.Add(int64(msgs))
	r.bytes.Add(int64(bytes))
	v := min(max(int64(latency), 1), maxLatency)
	r.mu.Lock()
	r.total.RecordValue(v)
	r.interval.RecordValue(v)
	r.mu.Unlock()
}

// RecordLatencies records n latencies without counting messages (one
// pull's messages each with their end-to-end latency).
func (r *Recorder) RecordLatencies(latencies []time.Duration) {
	r.mu.Lock()
	for _, l := range latencies {
		v := min(max(int64(l), 1), maxLatency)
		r.total.RecordValue(v)
		r.interval.RecordValue(v)
	}
	r.mu.Unlock()
}

// Count adds messages and bytes without a latency.
func (r *Recorder) Count(msgs, bytes int) {
	r.msgs.Add(int64(msgs))
	r.bytes.Add(int64(bytes))
}

// Error counts a failed operation.
func (r *Recorder) Error() { r.errors.Add(1) }

// Messages returns the messages counted so far.
func (r *Recorder) Messages() int64 { return r.msgs.Load() }

// Errors returns the errors counted so far.
func (r *Recorder) Errors() int64 { return r.errors.Load() }

// Elapsed returns the time since the start.
func (r *Recorder) Elapsed() time.Duration { return time.Since(r.start) }

// tick closes the current interval: its point joins the series.
func (r *Recorder) tick(now time.Time) Point {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.tickLocked(now)
}

// tickLocked is tick with mu held.
func (r *Recorder) tickLocked(now time.Time) Point {
	msgs, errs := r.msgs.Load(), r.errors.Load()
	d := now.Sub(r.last).Seconds()
	p := Point{
		Second: now.Sub(r.start).Seconds(),
		Msgs:   msgs - r.lastMsgs,
		P50:    time.Duration(r.interval.ValueAtQuantile(50)),
		P99:    time.Duration(r.interval.ValueAtQuantile(99)),
		Max:    time.Duration(r.interval.Max()),
		Errors: errs - r.lastErrs,
	}
	if d > 0 {
		p.PerSecond = float64(p.Msgs) / d
	}
	r.series = append(r.series, p)
	r.interval.Reset()
	r.last, r.lastMsgs, r.lastErrs = now, msgs, errs
	return p
}

// StartProgress prints a progress line to w every interval until
// StopProgress: the last interval's msgs/s and MB/s (payload bytes of
// size per message), its p99 and the errors so far. A nil w only collects
// the series.
func (r *Recorder) StartProgress(w io.Writer, label string, size int, interval time.Duration) {
	r.quit, r.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(r.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-r.quit:
				return
			case now := <-t.C:
				p := r.tick(now)
				if w != nil {
					fmt.Fprintf(w, "%-10s %6.1fs %12s msgs/s %9.1f MB/s  p50 %9s  p99 %9s  max %9s  errors %d\n",
						label, p.Second, group(int64(p.PerSecond)), p.PerSecond*float64(size)/1e6,
						fmtDur(p.P50), fmtDur(p.P99), fmtDur(p.Max), r.errors.Load())
				}
			}
		}
	}()
}

// StopProgress stops the progress goroutine and waits for it.
func (r *Recorder) StopProgress() {
	if r.quit == nil {
		return
	}
	close(r.quit)
	<-r.done
	r.quit = nil
}

// Finish stops the clock and returns the report of the run so far, with
// the fields of a Report that come from the measurements filled in.
func (r *Recorder) Finish(mode string) *Report {
	r.StopProgress()
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	// The last, partial interval joins the series too: without it a run
	// shorter than the progress interval has no points and nothing to plot,
	// and a longer one loses its tail.
	if now.After(r.last) && (len(r.series) == 0 || r.msgs.Load() != r.lastMsgs || r.errors.Load() != r.lastErrs) {
		r.tickLocked(now)
	}
	secs := now.Sub(r.start).Seconds()
	rep := &Report{
		Mode:     mode,
		Messages: r.msgs.Load(),
		Bytes:    r.bytes.Load(),
		Seconds:  secs,
		Errors:   r.errors.Load(),
	}
	if secs > 0 {
		rep.MsgsPerSec = float64(rep.Messages) / secs
		rep.MBPerSec = float64(rep.Bytes) / secs / 1e6
	}
	cpu := ProcessCPU() - r.cpu0
	if rep.Messages > 0 && cpu > 0 {
		rep.CPUPerMsgUs = float64(cpu.Nanoseconds()) / 1e3 / float64(rep.Messages)
	}
	rep.Sched = r.sch0.since(takeSched(), secs, cpu)
	h := r.total
	us := func(q float64) float64 { return float64(h.ValueAtQuantile(q)) / 1e3 }
	rep.Samples = h.TotalCount()
	if rep.Samples > 0 {
		rep.P50us, rep.P90us, rep.P99us, rep.P999us = us(50), us(90), us(99), us(99.9)
		rep.MaxUs = float64(h.Max()) / 1e3
		rep.MeanUs = h.Mean() / 1e3
	}
	rep.series = append([]Point(nil), r.series...)
	rep.histogram = h.Export()
	return rep
}

// group formats n with thousands separators.
func group(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return s
	}
	out := make([]byte, 0, len(s)+len(s)/3)
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

// fmtDur formats a latency compactly (µs below 10 ms).
func fmtDur(d time.Duration) string {
	switch {
	case d < 10*time.Microsecond:
		return fmt.Sprintf("%.2fµs", float64(d)/1e3)
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.0fµs", float64(d)/1e3)
	case d < 10*time.Second:
		return fmt.Sprintf("%.1fms", float64(d)/1e6)
	}
	return d.Round(time.Millisecond).String()
}

// ProcessCPU is the process's CPU time so far (user + system), 0 when the
// system does not say.
func ProcessCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
