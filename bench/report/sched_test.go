package report

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestSchedWaitUnderContention: with one P held by goroutines that never
// block, a goroutine that wakes from a sleep waits for the P until the
// scheduler preempts a spinner (its 10 ms time slice), so the report's
// goroutine-wait p99 is in the milliseconds; the text and JSON forms carry
// it.
func TestSchedWaitUnderContention(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	r := NewRecorder()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				for i := 0; i < 1e5; i++ { // spin without a function call
				}
			}
		}()
	}
	for range 30 {
		time.Sleep(time.Millisecond)
		r.Record(time.Millisecond, 1, 1)
	}
	close(stop)
	wg.Wait()
	rep := r.Finish("e2e")
	s := rep.Sched
	if s == nil {
		t.Fatal("no sched in the report")
	}
	if s.GoroutineWaits == 0 { // the runtime samples 1 in 8 of 30+ wake-ups
		t.Fatal("no goroutine waits")
	}
	if s.GoroutineP99us < 1000 {
		t.Fatalf("goroutine wait p99 %.1f µs with one P shared by two spinners, want ≥ 1 ms", s.GoroutineP99us)
	}
	if s.Cores <= 0 {
		t.Fatalf("cores %.2f", s.Cores)
	}
	var out bytes.Buffer
	if err := rep.WriteJSON(&out); err != nil {
		t.Fatal(err)
	}
	got, err := ParseJSON(out.Bytes())
	if err != nil || got.Sched == nil || got.Sched.GoroutineP99us != s.GoroutineP99us {
		t.Fatalf("JSON %s: %+v, %v", out.String(), got, err)
	}
	var text bytes.Buffer
	rep.WriteText(&text)
	if !strings.Contains(text.String(), "goroutines waited for a P") {
		t.Fatalf("text report lacks the sched line:\n%s", text.String())
	}
}

// TestThreadsRunDelay: the second field of each thread's schedstat is
// summed; unreadable or malformed files are skipped; no readable thread
// gives -1.
func TestThreadsRunDelay(t *testing.T) {
	dir := t.TempDir()
	for name, line := range map[string]string{"1": "500 2000 7\n", "2": "10 3000 1\n", "3": "garbage\n"} {
		if err := os.MkdirAll(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name, "schedstat"), []byte(line), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "4"), 0o755); err != nil { // exited: no file
		t.Fatal(err)
	}
	if got := threadsRunDelay(dir); got != 5000*time.Nanosecond {
		t.Fatalf("run delay %v, want 5µs", got)
	}
	if got := threadsRunDelay(filepath.Join(dir, "none")); got != -1 {
		t.Fatalf("missing dir: %v, want -1", got)
	}
	if _, err := os.Stat("/proc/self/task"); err == nil {
		if got := threadsRunDelay("/proc/self/task"); got < 0 {
			t.Fatalf("this process's threads: %v", got)
		}
	}
}

// TestHistQuantile: the quantile is the upper boundary of its bucket; an
// infinite last boundary gives the bucket's lower one.
func TestHistQuantile(t *testing.T) {
	b := []float64{0, 1, 2, 4, inf()}
	c := []uint64{50, 40, 9, 1}
	for _, tc := range []struct {
		q    float64
		want float64
	}{{0.5, 2}, {0.49, 1}, {0.99, 4}, {0.999, 4}} {
		if got := histQuantile(c, b, 100, tc.q); got != tc.want {
			t.Errorf("q %.3f: %v, want %v", tc.q, got, tc.want)
		}
	}
	if got := histQuantile([]uint64{0, 0, 0, 1}, b, 1, 0.99); got != 4 {
		t.Errorf("in the +Inf bucket: %v, want its lower boundary 4", got)
	}
	if got := histQuantile(c, b, 0, 0.5); got != 0 {
		t.Errorf("empty: %v", got)
	}
}

func inf() float64 { var z float64; return 1 / z }
